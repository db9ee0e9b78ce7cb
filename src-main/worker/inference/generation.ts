import {
  LlamaChat,
  LlamaCompletion,
  type LLamaChatGenerateResponseOptions,
  type LlamaCompletionResponse,
  type LlamaGrammar,
} from "node-llama-cpp";
import type { FinishReason } from "../../contract";
import { AppError } from "../../core/errors";
import type { ChatJob, CompletionJob, GenerationHooks, GenerationResult, SamplingOptions } from "./jobs";
import type { LoadedModel } from "./loadedModel";

type StopReason = LlamaCompletionResponse["metadata"]["stopReason"] | "functionCalls";

/** "length" when max_tokens ran out; an EOS, a stop string or a finished JSON grammar all mean "stop". */
export function finishReasonOf(stopReason: StopReason): FinishReason {
  if (stopReason === "maxTokens") return "length";
  if (stopReason === "functionCalls") return "tool_calls";
  return "stop";
}

function contextExceeded(promptTokens: number, limit: number, param: string): AppError {
  const message = `The prompt is ${promptTokens} tokens; this model's context holds ${limit} per request.`;
  return new AppError("inference.context_length_exceeded", message, { param });
}

function samplerOptions(sampling: SamplingOptions) {
  return {
    temperature: sampling.temperature,
    topP: sampling.topP,
    topK: sampling.topK,
    minP: sampling.minP,
    seed: sampling.seed,
    repeatPenalty: sampling.repeatPenalty,
  };
}

/**
 * A chat completion on a free sequence of the model's context. A new LlamaChat per request over a reused
 * sequence: LlamaChat keeps what the sequence already holds of the same prompt prefix (KV cache reuse) and
 * re-evaluates the rest. Usage counts come from the tokenizer (prompt) and the sequence's token meter
 * (generated tokens, including any a stop string swallowed).
 */
export async function runChat(
  loaded: LoadedModel,
  job: ChatJob,
  grammar: LlamaGrammar | undefined,
  hooks: GenerationHooks,
): Promise<GenerationResult> {
  const promptTokens = loaded.countChatPromptTokens(job.history, job.functions);
  if (promptTokens >= loaded.contextSize) throw contextExceeded(promptTokens, loaded.contextSize, "messages");
  // OpenAI's default: generate until the model stops or the context window is full.
  const maxTokens = job.maxTokens ?? loaded.contextSize - promptTokens;

  return loaded.sequences.use(hooks.signal, async (sequence) => {
    hooks.onStart?.({ promptTokens });
    const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: loaded.chatWrapper });
    const meterBefore = sequence.tokenMeter.getState();
    try {
      const options: LLamaChatGenerateResponseOptions = {
        ...samplerOptions(job.sampling),
        maxTokens,
        signal: hooks.signal,
        ...(job.stop.length > 0 ? { customStopTriggers: job.stop } : {}),
        ...(hooks.onText ? { onTextChunk: hooks.onText } : {}),
        ...(grammar ? { grammar } : {}),
      };
      const response = job.functions
        ? await chat.generateResponse(job.history, {
            ...options,
            grammar: undefined,
            functions: job.functions,
          })
        : await chat.generateResponse(job.history, options);
      const toolCalls = (response.functionCalls ?? []).map((call) => ({
        name: call.functionName,
        arguments: JSON.stringify(call.params ?? {}),
      }));
      return {
        text: response.response,
        finishReason: finishReasonOf(response.metadata.stopReason),
        toolCalls,
        promptTokens,
        completionTokens: sequence.tokenMeter.diff(meterBefore).usedOutputTokens,
      };
    } finally {
      chat.dispose({ disposeSequence: false });
    }
  });
}

/** A raw text completion (no chat template) on a free sequence. */
export async function runCompletion(
  loaded: LoadedModel,
  job: CompletionJob,
  hooks: GenerationHooks,
): Promise<GenerationResult> {
  const promptTokens = loaded.countTextTokens(job.prompt);
  // What LlamaCompletion keeps free for generation; it would silently cut a longer prompt's beginning.
  const contextShiftSize = Math.max(1, Math.floor(loaded.contextSize / 10));
  const limit = loaded.contextSize - contextShiftSize;
  if (promptTokens > limit) throw contextExceeded(promptTokens, limit, "prompt");

  return loaded.sequences.use(hooks.signal, async (sequence) => {
    hooks.onStart?.({ promptTokens });
    const completion = new LlamaCompletion({ contextSequence: sequence });
    const meterBefore = sequence.tokenMeter.getState();
    try {
      const response = await completion.generateCompletionWithMeta(job.prompt, {
        ...samplerOptions(job.sampling),
        maxTokens: job.maxTokens,
        contextShiftSize,
        signal: hooks.signal,
        ...(job.stop.length > 0 ? { customStopTriggers: job.stop } : {}),
        ...(hooks.onText ? { onTextChunk: hooks.onText } : {}),
      });
      return {
        text: response.response,
        finishReason: finishReasonOf(response.metadata.stopReason),
        toolCalls: [],
        promptTokens,
        completionTokens: sequence.tokenMeter.diff(meterBefore).usedOutputTokens,
      };
    } finally {
      completion.dispose({ disposeSequence: false });
    }
  });
}

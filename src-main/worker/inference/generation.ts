import {
  LlamaChat,
  LlamaCompletion,
  type ChatHistoryItem,
  type ChatModelFunctions,
  type LLamaChatGenerateResponseOptions,
  type LlamaCompletionResponse,
  type LlamaContextSequence,
  type LlamaGrammar,
  type Token,
} from "node-llama-cpp";
import type { FinishReason } from "../../contract";
import { AppError } from "../../shared/errors";
import type {
  ChatJob,
  CompletionJob,
  GenerationHooks,
  GenerationResult,
  LogprobsAsked,
  SamplingOptions,
  TokenLogprob,
} from "./jobs";
import type { LoadedModel } from "./loadedModel";
import { withNote, type ForcedToolCall } from "./forcedToolCall";
import { capTokens } from "./tokenCap";
import { answerStart, scoreTokens } from "./tokenLogprobs";

type StopReason = LlamaCompletionResponse["metadata"]["stopReason"] | "functionCalls";

/** "length" when max_tokens ran out; an EOS, a stop string or a finished JSON grammar all mean "stop". */
export function finishReasonOf(stopReason: StopReason): FinishReason {
  if (stopReason === "maxTokens") return "length";
  if (stopReason === "functionCalls") return "tool_calls";
  return "stop";
}

/** How a prompt too long for the context is told: in the words of the API the client speaks. */
interface Overflow {
  /** The field the prompt came in (chat's `messages`, a completion's `prompt`). */
  param: string;
  job?: Pick<ChatJob, "api" | "model">;
  /** Tokens of the context kept for the answer, which the prompt may not use. */
  reserved?: number;
  /** Say how to go on with a long conversation: leave its oldest messages out. */
  advise?: boolean;
  /** `promptTokens` is the fewest it can take (counted by its length, not tokenized). */
  atLeast?: boolean;
}

function contextExceeded(promptTokens: number, contextSize: number, overflow: Overflow): AppError {
  const { job, reserved = 0, advise = false, atLeast = false } = overflow;
  const kept = reserved > 0 ? `, ${reserved} of them kept for the answer` : "";
  if (job?.api === "anthropic") {
    // Anthropic's own words, which its clients (Claude Code's compaction, LiteLLM) look for.
    const hint = advise
      ? ` To go on with a long conversation, have llmlb leave its oldest messages out: \`llmlb model set ${job.model.id} --overflow truncate_oldest\`.`
      : "";
    const message = `prompt is too long: ${promptTokens} tokens > ${contextSize - reserved} maximum (this model's context holds ${contextSize} tokens per request${kept}).${hint}`;
    return new AppError("inference.context_length_exceeded", message, { param: overflow.param });
  }
  const responses = job?.api === "responses";
  const hint = !advise
    ? ""
    : responses
      ? ' To go on with a long conversation, send "truncation": "auto": its oldest input items are then left out.'
      : ' To go on with a long conversation, send "context_overflow": "truncate_oldest": its oldest messages are then left out.';
  const size = `${atLeast ? "at least " : ""}${promptTokens}`;
  // OpenAI's opening words, by which clients (LangChain, LiteLLM) tell this 400 from others.
  const message = `This model's maximum context length is ${contextSize} tokens per request${kept}; the prompt is ${size} tokens.${hint}`;
  return new AppError("inference.context_length_exceeded", message, {
    param: responses ? "input" : overflow.param,
  });
}

/** A message's own text (what its length tells of its tokens); a model turn's calls are left out. */
function textOf(item: ChatJob["history"][number]): string {
  if (item.type !== "model") return typeof item.text === "string" ? item.text : "";
  return item.response.filter((part) => typeof part === "string").join("");
}

/**
 * The history that fits: with `truncate_oldest`, its oldest messages after the system ones are left
 * out, one at a time, until the prompt leaves `reserve` tokens for the answer (the last message is
 * always kept). Says how many were left out.
 */
async function fitHistory(
  loaded: LoadedModel,
  job: ChatJob,
  signal: AbortSignal,
): Promise<{ history: ChatJob["history"]; promptTokens: number; truncatedMessages: number }> {
  const count = (history: ChatJob["history"]) => loaded.countChatPromptTokens(history, job.functions, signal);
  // The fewest tokens each message can take, by its length: what cannot fit is known without the
  // tokenizer, which would hold the node's thread for seconds on megabytes.
  const least = job.history.map((item) => loaded.leastTokensIn(textOf(item)));
  // The tools are in every prompt, whatever is left out: the fewest their documentation can take too.
  const toolsLeast = loaded.leastTokensIn({ length: documentedLength(job.functions) });
  const leastOfAll = least.reduce((sum, tokens) => sum + tokens, toolsLeast);
  const ofMessages = { param: "messages", job };
  if (job.overflow === "error") {
    if (leastOfAll >= loaded.contextSize)
      throw contextExceeded(leastOfAll, loaded.contextSize, { ...ofMessages, advise: true, atLeast: true });
    const whole = await count(job.history);
    if (whole >= loaded.contextSize)
      throw contextExceeded(whole, loaded.contextSize, { ...ofMessages, advise: true });
    return { history: job.history, promptTokens: whole, truncatedMessages: 0 };
  }
  // Room for the answer: what was asked for, else a quarter of the context (at most 512 tokens).
  const reserve = Math.min(job.maxTokens ?? 512, Math.floor(loaded.contextSize / 4));
  const limit = loaded.contextSize - reserve;
  // What may go, oldest first: every message but the system ones, the last one asked and the model
  // turn to generate.
  const droppable = job.history
    .map((item, index) => (item.type !== "system" && index < job.history.length - 2 ? index : -1))
    .filter((index) => index >= 0);
  // As many as must go by their length alone, oldest first, before the tokenizer is asked.
  let mustGo = 0;
  let leastLeft = leastOfAll;
  while (leastLeft > limit && mustGo < droppable.length) leastLeft -= least[droppable[mustGo++]!]!;
  if (leastLeft > limit)
    throw contextExceeded(leastLeft, loaded.contextSize, { ...ofMessages, reserved: reserve, atLeast: true });
  if (mustGo === 0) {
    const whole = await count(job.history);
    if (whole <= limit) return { history: job.history, promptTokens: whole, truncatedMessages: 0 };
  }
  const without = async (leftOut: number) => {
    const dropped = new Set(droppable.slice(0, leftOut));
    const history = job.history.filter((_, index) => !dropped.has(index));
    return { history, promptTokens: await count(history) };
  };
  // Leaving out more never makes the prompt longer: the fewest that fit, in a few tokenizer passes
  // rather than one a message.
  const all = await without(droppable.length);
  if (all.promptTokens > limit)
    throw contextExceeded(all.promptTokens, loaded.contextSize, { ...ofMessages, reserved: reserve });
  let [low, high, fits] = [Math.max(1, mustGo), droppable.length, all];
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    const attempt = await without(middle);
    if (attempt.promptTokens <= limit) [high, fits] = [middle, attempt];
    else low = middle + 1;
  }
  return { ...fits, truncatedMessages: high };
}

/**
 * Characters of the tools' documentation that any chat template writes out as they are: each
 * function's name and description, and the name of every property of its parameters, at any depth.
 * Walked without recursion, as a client's schema may nest deeper than the stack.
 */
export function documentedLength(functions: ChatJob["functions"]): number {
  if (!functions) return 0;
  let length = 0;
  const pending: unknown[] = [];
  for (const [name, fn] of Object.entries(functions)) {
    length += name.length + (fn.description?.length ?? 0);
    pending.push(fn.params);
  }
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== "object" || node === null) continue;
    for (const [key, value] of Object.entries(node)) {
      if (key === "properties" && typeof value === "object" && value !== null && !Array.isArray(value)) {
        for (const [property, schema] of Object.entries(value)) {
          length += property.length;
          pending.push(schema);
        }
      } else if (typeof value === "object") pending.push(value);
    }
  }
  return length;
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
  asked: ChatJob,
  grammar: LlamaGrammar | undefined,
  hooks: GenerationHooks,
  forced?: ForcedToolCall,
): Promise<GenerationResult> {
  // A required call: the tools told in a system note, the answer held to the call's schema by
  // `grammar`, and handed out as the call rather than as text.
  const job: ChatJob = forced
    ? { ...asked, history: withNote(asked.history, forced.note), functions: undefined }
    : asked;
  const { history, promptTokens, truncatedMessages } = await fitHistory(loaded, job, hooks.signal);
  // Never past the context: there the answer ends with "length", as OpenAI's does at its window, where
  // node-llama-cpp would shift the context and fail on a prompt it cannot shorten. Without max_tokens
  // (OpenAI's default) it goes on until the model stops or the context is full.
  const room = loaded.contextSize - promptTokens;
  const maxTokens = Math.min(job.maxTokens ?? room, room);

  return loaded.sequences.use(hooks.signal, async (sequence) => {
    hooks.onStart?.({ promptTokens, truncatedMessages });
    const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: loaded.chatWrapper });
    let meterBefore = sequence.tokenMeter.getState();
    /**
     * The answer's own tokens, for its log probabilities, and how many tokens of reasoning (a thought
     * segment) came before them: the answer is looked for after those.
     */
    const answer: Token[] = [];
    let reasoningTokens = 0;
    try {
      const options: LLamaChatGenerateResponseOptions = {
        ...samplerOptions(job.sampling),
        maxTokens,
        signal: hooks.signal,
        ...(job.stop.length > 0 ? { customStopTriggers: job.stop } : {}),
        ...(hooks.onText && !forced ? { onTextChunk: hooks.onText } : {}),
        ...(grammar ? { grammar } : {}),
        ...(job.logprobs
          ? {
              onResponseChunk: (chunk: { type?: string; tokens: Token[] }) => {
                if (chunk.type === undefined) answer.push(...chunk.tokens);
                else if (answer.length === 0) reasoningTokens += chunk.tokens.length;
              },
            }
          : {}),
      };
      let response;
      if (job.functions && grammar && !forced) {
        // Tools the model may call, and a format for its text: a call if it makes one, else text
        // held to the format, generated anew (node-llama-cpp holds text to a grammar, or offers
        // functions, not both at once).
        response = await callUnlessText(chat, history, options, job.functions, hooks.signal);
        if (!response) {
          meterBefore = sequence.tokenMeter.getState();
          response = await chat.generateResponse(history, options);
        }
      } else if (job.functions) {
        response = await chat.generateResponse(history, {
          ...options,
          grammar: undefined,
          functions: job.functions,
        });
      } else response = await chat.generateResponse(history, options);
      const toolCalls = (response.functionCalls ?? []).map((call) => ({
        name: call.functionName,
        arguments: JSON.stringify(call.params ?? {}),
      }));
      const metadata = response.metadata;
      const trigger = metadata.stopReason === "customStopTrigger" ? metadata.customStopTrigger : undefined;
      const call = forced?.callOf(response.response);
      if (call) {
        return {
          text: "",
          finishReason: "tool_calls",
          toolCalls: [call],
          promptTokens,
          completionTokens: sequence.tokenMeter.diff(meterBefore).usedOutputTokens,
          truncatedMessages,
          // A call is not text: no content, no content's log probabilities.
          ...(job.logprobs ? { logprobs: [] } : {}),
        };
      }
      const finishReason = finishReasonOf(metadata.stopReason);
      // A required call cut short is no text (nor streamed as text): it is the call as far as it got.
      const cutCall = forced && finishReason === "length" ? forced.cutCallOf(response.response) : undefined;
      return {
        text: forced ? "" : response.response,
        finishReason,
        toolCalls: cutCall ? [cutCall] : toolCalls,
        promptTokens,
        completionTokens: sequence.tokenMeter.diff(meterBefore).usedOutputTokens,
        truncatedMessages,
        ...(trigger ? { stopSequence: trigger.filter((part) => typeof part === "string").join("") } : {}),
        ...(job.logprobs
          ? {
              logprobs: forced
                ? []
                : await chatAnswerLogprobs(loaded, sequence, {
                    answer,
                    before: promptTokens + reasoningTokens,
                    asked: job.logprobs,
                    signal: hooks.signal,
                  }),
            }
          : {}),
      };
    } finally {
      chat.dispose({ disposeSequence: false });
    }
  });
}

/** Words a model may write before a call ("Let me look that up.") before its text is taken for the answer. */
const preambleChars = 1000;

/**
 * The model's answer with `functions` offered, if it calls one (the words it wrote before the call
 * then go out as they would have); undefined once it begins an answer instead (JSON, as the format
 * asks, or more words than a call's preamble), cut there unsent, or ends with none.
 */
async function callUnlessText(
  chat: LlamaChat,
  history: ChatHistoryItem[],
  options: LLamaChatGenerateResponseOptions,
  functions: ChatModelFunctions,
  signal: AbortSignal,
) {
  const answerBegan = new AbortController();
  let held = "";
  const response = await chat.generateResponse(history, {
    ...options,
    grammar: undefined,
    functions,
    onTextChunk: (text) => {
      held += text;
      const begun = held.trimStart();
      if (begun.startsWith("{") || begun.startsWith("[") || held.length > preambleChars) answerBegan.abort();
    },
    onResponseChunk: undefined,
    signal: AbortSignal.any([signal, answerBegan.signal]),
    stopOnAbortSignal: true,
  });
  signal.throwIfAborted();
  if (!response.functionCalls?.length) return undefined;
  if (held !== "") options.onTextChunk?.(held);
  return response;
}

/**
 * A chat answer's log probabilities: its tokens scored after what the sequence held before them, the
 * prompt as the chat template rendered it and any reasoning. `before`: the tokens known to come first
 * (the prompt, as counted, and the reasoning's own tokens); the answer is the first fit after them.
 */
async function chatAnswerLogprobs(
  loaded: LoadedModel,
  sequence: LlamaContextSequence,
  {
    answer,
    before,
    asked,
    signal,
  }: { answer: Token[]; before: number; asked: LogprobsAsked; signal: AbortSignal },
): Promise<TokenLogprob[]> {
  const held = sequence.contextTokens;
  const start = answerStart(held, answer, Math.min(before, held.length));
  return scoreTokens(sequence, held.slice(0, start), answer, {
    top: asked.top,
    bytesOf: loaded.tokenBytes,
    signal,
  });
}

/**
 * A text completion's log probabilities: the answer's, after the prompt's own when it is echoed, and
 * the end token it ended with, as OpenAI's lists have it (evaluation harnesses leave the last token
 * out of a continuation's score, taking it for the one generated).
 */
async function completionLogprobs(
  loaded: LoadedModel,
  sequence: LlamaContextSequence,
  {
    job,
    prompt,
    tokens,
    generated,
  }: { job: CompletionJob; prompt: CompletionPrompt; tokens: Token[]; generated: Generated },
  asked: LogprobsAsked,
  signal: AbortSignal,
): Promise<TokenLogprob[]> {
  const answer = generated.tokens;
  const options = {
    top: asked.top,
    bytesOf: loaded.tokenBytes,
    signal,
    ...(generated.endedByEndToken ? { endsWith: (token: Token) => loaded.model.isEogToken(token) } : {}),
  };
  if (!job.echo) return scoreTokens(sequence, tokens, answer, options);
  // The BOS token is not the prompt's text: it is what the prompt's first token is scored after.
  const bos = loaded.model.tokens.shouldPrependBosToken && tokens[0] === loaded.model.tokens.bos ? 1 : 0;
  const scored = await scoreTokens(
    sequence,
    tokens.slice(0, bos),
    [...tokens.slice(bos), ...answer],
    options,
  );
  // Ids that began with it list it, as they list every id they hold: nothing comes before it.
  return prompt.givenBos
    ? [{ bytes: loaded.tokenBytes(tokens[0]!), logprob: null, top: [] }, ...scored]
    : scored;
}

/**
 * A completion's prompt as LlamaCompletion takes it (text, or ids without a BOS token of their own:
 * it puts the model's before either), and as it is echoed: ids as their tokens' bytes spell them, so
 * that `text_offset` agrees with the tokens listed.
 */
interface CompletionPrompt {
  input: string | Token[];
  echoed: string;
  /** The ids began with the model's BOS token. */
  givenBos: boolean;
}

function completionPromptOf(loaded: LoadedModel, prompt: string | Token[]): CompletionPrompt {
  if (typeof prompt === "string") return { input: prompt, echoed: prompt, givenBos: false };
  checkTokenIds(prompt, loaded.vocabularySize);
  const { shouldPrependBosToken, bos } = loaded.model.tokens;
  const givenBos = shouldPrependBosToken && bos != null && prompt[0] === bos;
  return {
    input: givenBos ? prompt.slice(1) : prompt,
    echoed: Buffer.from(prompt.flatMap((token) => loaded.tokenBytes(token))).toString("utf8"),
    givenBos,
  };
}

/** A prompt of token ids holds only the model's: another would fail deep in llama.cpp. */
function checkTokenIds(tokens: readonly Token[], vocabularySize: number): void {
  const stranger = tokens.findIndex((token) => token >= vocabularySize);
  if (stranger >= 0) {
    const message = `token ${tokens[stranger]} is not in this model's vocabulary (ids 0 to ${vocabularySize - 1}).`;
    throw new AppError("request.invalid", `prompt[${stranger}]: ${message}`, {
      param: `prompt[${stranger}]`,
    });
  }
}

interface Generated {
  text: string;
  finishReason: GenerationResult["finishReason"];
  completionTokens: number;
  /** The answer's tokens, as it was cut. */
  tokens: Token[];
  /** It ended with an end-of-generation token, which its text and tokens leave out. */
  endedByEndToken: boolean;
}

/**
 * A raw text completion (no chat template) on a free sequence. `max_tokens` 0 generates nothing: what
 * is asked for is then the prompt back (`echo`) and its log probabilities.
 */
export async function runCompletion(
  loaded: LoadedModel,
  job: CompletionJob,
  hooks: GenerationHooks,
): Promise<GenerationResult> {
  // What LlamaCompletion keeps free for generation (a tenth of the context, at most what is asked
  // for): it would silently cut a longer prompt's beginning. None when nothing is generated.
  const contextShiftSize = Math.min(job.maxTokens, Math.max(1, Math.floor(loaded.contextSize / 10)));
  const limit = loaded.contextSize - contextShiftSize;
  const prompt = completionPromptOf(loaded, job.prompt);
  // Text is judged by its length first: the tokenizer would hold the node's thread on megabytes.
  if (typeof prompt.input === "string") {
    const least = loaded.leastTokensIn(prompt.input);
    if (least > limit)
      throw contextExceeded(least, loaded.contextSize, {
        param: "prompt",
        reserved: contextShiftSize,
        atLeast: true,
      });
  }
  // Tokenized once: counted here, scored again for log probabilities.
  const promptIds = loaded.textTokens(prompt.input);
  const promptTokens = promptIds.length;
  if (promptTokens > limit)
    throw contextExceeded(promptTokens, loaded.contextSize, { param: "prompt", reserved: contextShiftSize });
  // Never past the context, as a chat's answer: node-llama-cpp would shift the context (the answer no
  // longer seeing its prompt) and go on for as many tokens as were asked.
  const maxTokens = Math.min(job.maxTokens, loaded.contextSize - promptTokens);

  const generate = async (sequence: LlamaContextSequence): Promise<Generated> => {
    const completion = new LlamaCompletion({ contextSequence: sequence });
    const meterBefore = sequence.tokenMeter.getState();
    const cap = capTokens(loaded.model, maxTokens, hooks.signal, hooks.onText);
    try {
      const response = await completion.generateCompletionWithMeta(prompt.input, {
        ...samplerOptions(job.sampling),
        maxTokens,
        contextShiftSize,
        signal: cap.signal,
        // The cap stops it by its signal; a client that left still ends it with its reason, below.
        stopOnAbortSignal: true,
        ...(job.stop.length > 0 ? { customStopTriggers: job.stop } : {}),
        onToken: cap.onToken,
        onTextChunk: cap.onTextChunk,
      });
      hooks.signal.throwIfAborted();
      const cut = cap.cut();
      return {
        text: cut?.text ?? response.response,
        finishReason: cut ? "length" : finishReasonOf(response.metadata.stopReason),
        // node-llama-cpp may decode a token past the cap to finish a character, then leave the
        // unfinished character out: that token is not in the answer, nor counted.
        completionTokens:
          cut?.tokens ?? Math.min(sequence.tokenMeter.diff(meterBefore).usedOutputTokens, maxTokens),
        tokens: cap.tokens(),
        endedByEndToken: !cut && response.metadata.stopReason === "eogToken",
      };
    } finally {
      completion.dispose({ disposeSequence: false });
    }
  };

  const echoed = job.echo ? prompt.echoed : undefined;
  return loaded.sequences.use(hooks.signal, async (sequence) => {
    hooks.onStart?.({ promptTokens, truncatedMessages: 0, ...(echoed !== undefined ? { echoed } : {}) });
    const generated: Generated =
      maxTokens > 0
        ? await generate(sequence)
        : { text: "", finishReason: "length", completionTokens: 0, tokens: [], endedByEndToken: false };
    const { logprobs } = job;
    return {
      text: generated.text,
      finishReason: generated.finishReason,
      toolCalls: [],
      promptTokens,
      completionTokens: generated.completionTokens,
      truncatedMessages: 0,
      ...(echoed !== undefined ? { echoed } : {}),
      ...(logprobs
        ? {
            logprobs: await completionLogprobs(
              loaded,
              sequence,
              { job, prompt, tokens: promptIds, generated },
              logprobs,
              hooks.signal,
            ),
          }
        : {}),
    };
  });
}

import {
  resolveChatWrapper,
  type ChatHistoryItem,
  type ChatModelFunctions,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaModel,
  type LlamaRankingContext,
  type Token,
} from "node-llama-cpp";
import { tokenBytesOf, type TokenBytes } from "./tokenBytes";
import { countTokensInTurns } from "./tokensInTurns";
import { createSlotPool, type SlotPool } from "./slotPool";
import { chooseSequenceCount } from "./sequenceCount";
import { defaultContextSize } from "./contextSize";
import { countedBatching, type DecodeStats } from "./decodeStats";
import { gatherDecodes } from "./decodeGate";

export interface LoadedModelOptions {
  /** CPU threads for every context: node-llama-cpp's default collapses throughput on small machines. */
  threads: number;
  /**
   * Most parallel sequences of the one context (continuous batching); fewer when memory is short.
   * Requests beyond wait for one.
   */
  sequences: number;
  /** Memory of the device the context lives on, in bytes (RAM for the CPU, VRAM for a GPU): total and free now. */
  deviceMemory: () => Promise<{ total: number; free: number }>;
  /**
   * Tokens per sequence, at most what the model was trained on. "auto": what the model and the device's
   * memory allow (`defaultContextSize`), smaller if even that does not fit. A number is kept exactly:
   * a context that does not fit fails the load rather than silently shrinking.
   */
  contextSize: number | "auto";
  /** llama.cpp's flash attention: on, off, or "auto" (where the model and backend support it). */
  flashAttention: boolean | "auto";
}

/** One GGUF in memory: the model, one context whose sequences serve parallel requests, and its chat template. */
export interface LoadedModel {
  readonly model: LlamaModel;
  readonly chatWrapper: ChatWrapper;
  /** Tokens one sequence holds. */
  readonly contextSize: number;
  readonly sequences: SlotPool<LlamaContextSequence>;
  /** How many sequences its decode batches held, since it was loaded. */
  readonly decode: DecodeStats;
  /** Created on the first embedding request: a second context most chat models never need. */
  embeddingContext(): Promise<LlamaEmbeddingContext>;
  /** Created on the first rerank request, for a model that can rank. */
  rankingContext(): Promise<LlamaRankingContext>;
  /**
   * Tokens of the prompt the chat template renders for `history` (with the tools it documents),
   * counted in turns so that megabytes do not silence the node.
   */
  countChatPromptTokens(
    history: ChatHistoryItem[],
    functions?: ChatModelFunctions,
    signal?: AbortSignal,
  ): Promise<number>;
  /**
   * The tokens of a raw prompt as LlamaCompletion feeds it: its text tokenized (or its tokens as they
   * are), after the model's BOS token.
   */
  textTokens(prompt: string | readonly Token[]): Token[];
  /** Tokens in the vocabulary (ids from 0); Infinity when the file does not list them. */
  readonly vocabularySize: number;
  /** Each token's bytes, for log probabilities. */
  readonly tokenBytes: TokenBytes;
  /**
   * The fewest tokens `text` can take, from its length alone: no token of the vocabulary is longer
   * than its longest. Instant, where the tokenizer holds the node's thread for seconds on megabytes.
   */
  leastTokensIn(text: { readonly length: number }): number;
  dispose(): Promise<void>;
}

export async function loadLlamaModel(
  llama: Llama,
  modelPath: string,
  options: LoadedModelOptions,
): Promise<LoadedModel> {
  // Loading and context creation throw InsufficientMemoryError on node-llama-cpp's estimate of memory.
  const model = await llama.loadModel({ modelPath });
  let context: LlamaContext;
  let sequenceCount = 1;
  const decode: DecodeStats = { batches: 0, sequences: 0 };
  try {
    const memory = await options.deviceMemory();
    const contextSize =
      options.contextSize === "auto"
        ? defaultContextSize(memory.total, model.trainContextSize)
        : Math.min(options.contextSize, model.trainContextSize);
    // A quarter of what is free stays free: other models, the embedding context, the system.
    const budgetBytes = memory.free * 0.75;
    sequenceCount = await chooseSequenceCount({
      max: options.sequences,
      budgetBytes,
      bytesFor: async (sequences) => {
        const need = await model.fileInsights.estimateContextResourceRequirementsV2({
          contextSize,
          modelGpuLayers: model.gpuLayers,
          sequences,
          flashAttention: options.flashAttention,
        });
        return model.gpuLayers > 0 ? need.gpuVram : need.cpuRam;
      },
    });
    context = await model.createContext({
      threads: options.threads,
      sequences: sequenceCount,
      contextSize: options.contextSize === "auto" ? { max: contextSize } : contextSize,
      flashAttention: options.flashAttention,
      batching: await countedBatching(decode),
    });
  } catch (error) {
    await model.dispose();
    throw error;
  }
  const sequences = createSlotPool(Array.from({ length: sequenceCount }, () => context.getSequence()));
  gatherDecodes(context, () => sequences.busy);
  // Resolved once: node-llama-cpp maps a GGUF's Jinja template to its matching built-in wrapper (ChatML, ...).
  const chatWrapper = resolveChatWrapper(model);
  const bos = model.tokens.shouldPrependBosToken && model.tokens.bos != null;
  const longestToken = longestTokenOf(model);
  let embeddings: Promise<LlamaEmbeddingContext> | undefined;
  let ranking: Promise<LlamaRankingContext> | undefined;

  return {
    model,
    chatWrapper,
    contextSize: context.contextSize,
    sequences,
    decode,
    embeddingContext() {
      embeddings ??= model.createEmbeddingContext({
        threads: options.threads,
        // The generation context's size, so one limit holds for both.
        contextSize: context.contextSize,
      });
      // A failed creation (memory) may succeed later, after an eviction.
      embeddings.catch(() => (embeddings = undefined));
      return embeddings;
    },
    rankingContext() {
      ranking ??= model.createRankingContext({ threads: options.threads, contextSize: context.contextSize });
      ranking.catch(() => (ranking = undefined));
      return ranking;
    },
    countChatPromptTokens(history, functions, signal) {
      const { contextText } = chatWrapper.generateContextState({
        chatHistory: history,
        ...(functions ? { availableFunctions: functions } : {}),
      });
      return countTokensInTurns(contextText, model.tokenizer, signal);
    },
    textTokens(prompt) {
      const tokens =
        typeof prompt === "string"
          ? model.tokenize(prompt, false, bos ? "trimLeadingSpace" : undefined)
          : prompt;
      return bos ? [model.tokens.bos!, ...tokens] : [...tokens];
    },
    vocabularySize: vocabularyOf(model)?.length ?? Infinity,
    tokenBytes: tokenBytesOf(model),
    leastTokensIn: (text) => Math.floor(text.length / longestToken),
    async dispose() {
      sequences.close(new Error("The model was unloaded."));
      for (const extra of [embeddings, ranking]) await (await extra?.catch(() => undefined))?.dispose();
      // Disposing the model disposes its contexts and their sequences.
      await model.dispose();
    },
  };
}

/**
 * The length of the vocabulary's longest token as the GGUF spells it (UTF-16 units, as JavaScript
 * counts a string). A token's text is never longer than its spelling: a byte-level BPE spells each
 * byte as one character, SentencePiece spells a space as one and a single byte as six ("<0xE3>").
 * Infinity (no bound) when the file lists no vocabulary.
 */
function longestTokenOf(model: LlamaModel): number {
  const tokens = vocabularyOf(model);
  if (!tokens) return Infinity;
  let longest = 1;
  for (const token of tokens) if (typeof token === "string" && token.length > longest) longest = token.length;
  return longest;
}

/** The vocabulary's tokens as the GGUF spells them, when it lists them. */
function vocabularyOf(model: LlamaModel): unknown[] | undefined {
  const metadata = model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: unknown } } };
  const tokens = metadata.tokenizer?.ggml?.tokens;
  return Array.isArray(tokens) && tokens.length > 0 ? tokens : undefined;
}

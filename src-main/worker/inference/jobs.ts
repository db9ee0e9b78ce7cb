import type {
  ChatHistoryItem,
  ChatModelFunctions,
  LLamaContextualRepeatPenalty,
  Token,
} from "node-llama-cpp";
import type { FinishReason } from "../../contract";

/*
 * What the engine is asked to do, in node-llama-cpp's terms: the routes map OpenAI requests to these
 * (requestMapping.ts) and OpenAI responses from the results (responses.ts).
 */

/** A model the node has ready: its public id (echoed in responses), its GGUF file and its settings. */
export interface ModelTarget {
  id: string;
  path: string;
  /** Tokens per sequence; absent: the most the model and memory allow. */
  contextSize?: number;
  /** Parallel sequences; absent: the engine's. */
  sequences?: number;
  /** Idle time before unloading, for requests that name no `ttl`; absent: the engine's. */
  idleTtlMs?: number;
  /** What a chat that outgrows the context gets, when its request does not say; absent: "error". */
  overflow?: "error" | "truncate_oldest";
}

export interface SamplingOptions {
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  seed: number;
  repeatPenalty: false | LLamaContextualRepeatPenalty;
}

export type OutputFormat =
  { type: "text" } | { type: "json" } | { type: "json_schema"; schema: Record<string, unknown> };

interface JobBase {
  model: ModelTarget;
  /** How long the model may stay loaded while idle after this job; the engine's default when absent. */
  idleTtlMs?: number;
}

export interface ChatJob extends JobBase {
  /** Ends with the model turn to generate (empty, or an assistant prefix to continue). */
  history: ChatHistoryItem[];
  functions?: ChatModelFunctions;
  /** The answer must call one of `functions` (tool_choice "required" or a named one). */
  forceToolCall?: boolean;
  sampling: SamplingOptions;
  /** Absent: up to the end of the context window. */
  maxTokens?: number;
  stop: string[];
  format: OutputFormat;
  /** When the history outgrows the context: refuse (400), or leave out its oldest messages. */
  overflow: "error" | "truncate_oldest";
  /** The API the client speaks, whose fields its errors name. Default: chat completions. */
  api?: "responses" | "anthropic";
  /** Asked for each answer token's log probability, with this many alternatives. */
  logprobs?: LogprobsAsked;
}

/** What a request asked of log probabilities: the likeliest tokens to give at each place (0 to 20). */
export interface LogprobsAsked {
  top: number;
}

export interface CompletionJob extends JobBase {
  /** Text, or the token ids of a prompt tokenized already (the model's BOS token goes before either). */
  prompt: string | Token[];
  sampling: SamplingOptions;
  /** 0: nothing generated (the prompt's log probabilities, with `echo`). */
  maxTokens: number;
  stop: string[];
  /** The prompt comes back before the answer (and its tokens in the log probabilities). */
  echo: boolean;
  logprobs?: LogprobsAsked;
}

export interface EmbeddingJob extends JobBase {
  inputs: string[];
  /** OpenAI's `dimensions`: only the model's own size can be honoured. */
  dimensions?: number;
}

export interface RerankJob extends JobBase {
  query: string;
  documents: string[];
}

export interface RerankResult {
  /** Each document's relevance to the query (0 to 1), in the documents' order. */
  scores: number[];
  /** Tokens evaluated: the query with each document. */
  promptTokens: number;
}

export interface GeneratedToolCall {
  name: string;
  /** JSON text, as OpenAI sends it: unfinished where `cut`. */
  arguments: string;
  /** `max_tokens` ended it before its arguments were whole (the answer's finish is `length`). */
  cut?: true;
}

export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
  toolCalls: GeneratedToolCall[];
  promptTokens: number;
  completionTokens: number;
  /** How many of the oldest messages were left out to fit the context (context_overflow). */
  truncatedMessages: number;
  /** The stop string that ended it, when one did. */
  stopSequence?: string;
  /** The prompt, when asked back (`echo`); its tokens then lead `logprobs`. */
  echoed?: string;
  /** Each token's log probability, when asked for: the echoed prompt's, then the answer's. */
  logprobs?: TokenLogprob[];
  /** How long it waited for its model: a load, or room for one. */
  modelWaitMs?: number;
}

/** A token as log probabilities describe it: its bytes (a UTF-8 character may span tokens). */
export interface ScoredToken {
  bytes: number[];
  /** Natural log. */
  logprob: number;
}

export interface TokenLogprob {
  bytes: number[];
  /** Natural log; null for a first token nothing came before (an echoed prompt without a BOS token). */
  logprob: number | null;
  /** The likeliest tokens at its place, likeliest first. */
  top: ScoredToken[];
}

export interface EmbeddingResult {
  /** L2-normalised, as OpenAI's are. */
  vectors: number[][];
  promptTokens: number;
}

export interface GenerationHooks {
  /** Aborts the job (the client left, or the engine is shutting down) and frees its sequence. */
  signal: AbortSignal;
  /**
   * Called once the prompt passed its checks and a sequence is free, just before generating;
   * `truncatedMessages`: how many of the oldest messages were left out to fit the context; `echoed`:
   * the prompt's text, when the request asked for it back.
   */
  onStart?(info: { promptTokens: number; truncatedMessages: number; echoed?: string }): void;
  /** Each piece of generated text, as it comes. */
  onText?(text: string): void;
}

import { randomBytes } from "node:crypto";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatLogprobs,
  Completion,
  CompletionChunk,
  CompletionLogprobs,
  EmbeddingResponse,
  RerankRequest,
  RerankResponse,
  FinishReason,
  ToolCall,
  Usage,
} from "../../contract";
import type {
  EmbeddingResult,
  GeneratedToolCall,
  GenerationResult,
  RerankResult,
  ScoredToken,
  TokenLogprob,
} from "./jobs";
import { noChance } from "./tokenLogprobs";

/*
 * OpenAI's response objects, built from engine results. Pure, apart from ids and timestamps.
 */

export interface ResponseMeta {
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
}

export function responseMeta(prefix: "chatcmpl" | "cmpl", model: string, now = Date.now()): ResponseMeta {
  return { id: `${prefix}-${randomBytes(12).toString("hex")}`, created: Math.floor(now / 1000), model };
}

export function usageOf(result: Pick<GenerationResult, "promptTokens" | "completionTokens">): Usage {
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: result.promptTokens + result.completionTokens,
  };
}

function toolCallsOf(calls: readonly GeneratedToolCall[]): ToolCall[] {
  return calls.map((call) => ({
    id: `call_${randomBytes(12).toString("hex")}`,
    type: "function",
    function: { name: call.name, arguments: call.arguments },
  }));
}

/** A token's text: its bytes decoded, a half character as U+FFFD (its bytes say which). */
const textOfBytes = (bytes: readonly number[]) => Buffer.from(bytes).toString("utf8");

/** Chat's `logprobs`: each answer token with its bytes and its likeliest alternatives. */
export function chatLogprobsOf(logprobs: readonly TokenLogprob[] | undefined): ChatLogprobs | null {
  if (!logprobs) return null;
  const entry = ({ bytes, logprob }: ScoredToken) => ({
    token: textOfBytes(bytes),
    logprob,
    bytes: [...bytes],
  });
  return {
    content: logprobs.map((token) => ({
      ...entry({ bytes: token.bytes, logprob: token.logprob ?? noChance }),
      top_logprobs: token.top.map(entry),
    })),
    refusal: null,
  };
}

/**
 * The legacy completions' `logprobs`: lists by token, each place's likeliest tokens with the chosen
 * one (so up to `logprobs` + 1 of them, as OpenAI's), and where each token begins in the choice's text,
 * in characters (code points, as Python counts them): the tokens of a character split across them
 * all begin where it does.
 */
export function completionLogprobsOf(
  logprobs: readonly TokenLogprob[] | undefined,
): CompletionLogprobs | null {
  if (!logprobs) return null;
  const tokens = logprobs.map((token) => textOfBytes(token.bytes));
  const decoder = new TextDecoder();
  let offset = 0;
  return {
    tokens,
    token_logprobs: logprobs.map((token) => token.logprob),
    top_logprobs: logprobs.map((token, index) => {
      if (token.logprob === null) return null;
      const likeliest: Record<string, number> = {};
      for (const alternative of token.top) likeliest[textOfBytes(alternative.bytes)] ??= alternative.logprob;
      likeliest[tokens[index]!] ??= token.logprob;
      return likeliest;
    }),
    text_offset: logprobs.map((token) => {
      const start = offset;
      offset += [...decoder.decode(Uint8Array.from(token.bytes), { stream: true })].length;
      return start;
    }),
  };
}

export function chatCompletionBody(meta: ResponseMeta, result: GenerationResult): ChatCompletion {
  const toolCalls = toolCallsOf(result.toolCalls);
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          // OpenAI sends null content with tool calls and nothing said.
          content: toolCalls.length > 0 && !result.text ? null : result.text,
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs: chatLogprobsOf(result.logprobs),
        finish_reason: result.finishReason,
      },
    ],
    usage: usageOf(result),
  };
}

/**
 * Several answers to one request as one: their choices indexed in order, the prompt counted once and
 * every answer's tokens in the completion's.
 */
export function severalChoices<Body extends { choices: { index: number }[]; usage: Usage }>(
  bodies: Body[],
): Body {
  const [first] = bodies as [Body];
  return {
    ...first,
    choices: bodies.map((body, index) => ({ ...body.choices[0]!, index })),
    usage: usageOfChoices(bodies.map((body) => body.usage)),
  };
}

/** The usage of several choices of one prompt: the prompt once, every choice's tokens. */
export function usageOfChoices(usages: Usage[]): Usage {
  const completion = usages.reduce((sum, usage) => sum + usage.completion_tokens, 0);
  const prompt = usages[0]!.prompt_tokens;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function completionBody(meta: ResponseMeta, result: GenerationResult): Completion {
  return {
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        text: (result.echoed ?? "") + result.text,
        logprobs: completionLogprobsOf(result.logprobs),
        finish_reason: result.finishReason,
      },
    ],
    usage: usageOf(result),
  };
}

/** OpenAI's `base64` encoding: the float32 values, little-endian, base64. */
export function base64Embedding(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  return bytes.toString("base64");
}

export function embeddingsBody(
  model: string,
  result: EmbeddingResult,
  encoding: "float" | "base64",
): EmbeddingResponse {
  return {
    object: "list",
    data: result.vectors.map((vector, index) => ({
      object: "embedding",
      index,
      embedding: encoding === "base64" ? base64Embedding(vector) : vector,
    })),
    model,
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
}

/**
 * Text pieces to stream events. The latest piece is held back until the next one (or the end) arrives, so
 * that finish_reason rides on the last content event rather than on an empty one after it. Pieces are
 * single tokens, so holding one back costs a token's time.
 */
export interface StreamChunker<Chunk> {
  /**
   * The events to send first (the chat role; a completion's prompt, when it is asked back), if any,
   * once the prompt is counted.
   */
  start(info: { promptTokens: number; echoed?: string }): Chunk[];
  /** The events a new text piece releases. */
  text(piece: string): Chunk[];
  /**
   * The last events: the held piece with finish_reason, tool calls, then usage if asked for (unless
   * the stream is one of several choices: then `usage` gives it once all have finished).
   */
  finish(result: GenerationResult): Chunk[];
  /** The usage event of a stream of several choices, if usage was asked for. */
  usage?(usage: Usage): Chunk[];
}

/** Which of a request's `n` choices a chunker streams. Default: the only one. */
export interface StreamChoice {
  index: number;
  of: number;
}

export function chatChunker(
  meta: ResponseMeta,
  includeUsage: boolean,
  choice: StreamChoice = { index: 0, of: 1 },
  mayCall = false,
): StreamChunker<ChatCompletionChunk> {
  let held: string | undefined;
  const chunk = (
    delta: ChatCompletionChunk["choices"][number]["delta"],
    finishReason: FinishReason | null = null,
    logprobs: ChatLogprobs | null = null,
  ): ChatCompletionChunk => ({
    id: meta.id,
    object: "chat.completion.chunk",
    created: meta.created,
    model: meta.model,
    choices: [{ index: choice.index, delta, logprobs, finish_reason: finishReason }],
    // OpenAI marks every chunk but the last with usage: null when usage was asked for.
    ...(includeUsage ? { usage: null } : {}),
  });
  const usage = (total: Usage): ChatCompletionChunk[] =>
    includeUsage ? [{ ...chunk({}), choices: [], usage: total }] : [];
  return {
    // An answer that may be a call opens with no text, as OpenAI's does: clients (the AI SDK) open a
    // text part for "", which a call would leave empty.
    start: () => [chunk({ role: "assistant", content: mayCall ? null : "" })],
    text(piece) {
      if (!piece) return [];
      const released = held;
      held = piece;
      return released === undefined ? [] : [chunk({ content: released })];
    },
    finish(result) {
      const events: ChatCompletionChunk[] = [];
      const toolCalls = toolCallsOf(result.toolCalls).map((call, index) => ({ ...call, index }));
      // The answer's log probabilities come whole with its last chunk: they are worked out once it is
      // written. The SDKs' stream helpers gather them from every chunk.
      const logprobs = chatLogprobsOf(result.logprobs);
      if (toolCalls.length > 0) {
        if (held !== undefined) events.push(chunk({ content: held }));
        // The finish in a chunk of its own, after the calls, as OpenAI sends it: the SDKs' stream helpers
        // close a call's arguments (their `…arguments.done` event) only on a chunk after the call's own.
        events.push(chunk({ tool_calls: toolCalls }), chunk({}, result.finishReason, logprobs));
      } else {
        events.push(chunk(held !== undefined ? { content: held } : {}, result.finishReason, logprobs));
      }
      held = undefined;
      if (choice.of === 1) events.push(...usage(usageOf(result)));
      return events;
    },
    usage,
  };
}

export function completionChunker(
  meta: ResponseMeta,
  includeUsage: boolean,
  choice: StreamChoice = { index: 0, of: 1 },
): StreamChunker<CompletionChunk> {
  let held: string | undefined;
  const chunk = (
    text: string,
    finishReason: FinishReason | null = null,
    logprobs: CompletionLogprobs | null = null,
  ): CompletionChunk => ({
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: choice.index, text, logprobs, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const usage = (total: Usage): CompletionChunk[] =>
    includeUsage ? [{ ...chunk(""), choices: [], usage: total }] : [];
  return {
    start: ({ echoed }) => (echoed ? [chunk(echoed)] : []),
    text(piece) {
      if (!piece) return [];
      const released = held;
      held = piece;
      return released === undefined ? [] : [chunk(released)];
    },
    finish(result) {
      // The log probabilities of every token, the echoed prompt's too, come with the last piece.
      const events = [chunk(held ?? "", result.finishReason, completionLogprobsOf(result.logprobs))];
      held = undefined;
      if (choice.of === 1) events.push(...usage(usageOf(result)));
      return events;
    },
    usage,
  };
}

/** The documents most relevant first, `top_n` of them, with their text when asked. */
export function rerankBody(request: RerankRequest, result: RerankResult): RerankResponse {
  const ranked = result.scores
    .map((score, index) => ({ index, relevance_score: score }))
    .sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index)
    .slice(0, request.top_n ?? undefined);
  const textOf = (index: number) => {
    const document = request.documents[index]!;
    return typeof document === "string" ? document : document.text;
  };
  return {
    id: `rerank-${randomBytes(12).toString("hex")}`,
    object: "list",
    model: request.model,
    results: ranked.map((result) =>
      request.return_documents ? { ...result, document: { text: textOf(result.index) } } : result,
    ),
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
}

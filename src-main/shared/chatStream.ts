import { createParser } from "eventsource-parser";
import type { ChatCompletionChunk, ChatLogprobs, ErrorBody } from "../contract";

/** How a streamed chat completion ended. */
export interface ChatStreamOutcome {
  /** `stop`, `length`, …; null when the stream ended without one. */
  finishReason: string | null;
  /** Tokens generated, as the server counted them (stream_options.include_usage). */
  completionTokens: number | undefined;
  /**
   * Whether the stream said it was over (`[DONE]`): one that just stops (a server or proxy that went
   * away) may have lost the rest of the answer.
   */
  complete: boolean;
  /** Each answer token's log probability, where asked for (`logprobs`) and sent, from every chunk. */
  logprobs?: NonNullable<ChatLogprobs["content"]>;
}

/**
 * An error the server sent inside a stream it had begun (a node that failed midway), or an event that
 * is not JSON (`stream.malformed`).
 */
export class StreamedError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
  ) {
    super(message);
    this.name = "StreamedError";
  }
}

/**
 * Reads a streamed chat completion's server-sent events until `[DONE]` (or the end of the body):
 * each piece of text goes to `onText` as it comes. Read by the dashboard's playground and `llmlb chat`;
 * it uses nothing of Node's.
 */
export async function readChatStream(
  body: ReadableStream<Uint8Array>,
  onText: (text: string) => void,
  /** The model's reasoning, where a server streams it apart (`reasoning_content`, or `reasoning`). */
  onReasoning?: (text: string) => void,
): Promise<ChatStreamOutcome> {
  const outcome: ChatStreamOutcome = { finishReason: null, completionTokens: undefined, complete: false };
  let finished = false;
  let failure: StreamedError | undefined;
  const parser = createParser({
    onEvent(event) {
      if (finished || failure) return;
      if (event.data === "[DONE]") {
        finished = outcome.complete = true;
        return;
      }
      let chunk: ChatCompletionChunk | Partial<ErrorBody>;
      try {
        chunk = JSON.parse(event.data) as typeof chunk;
      } catch {
        failure = new StreamedError(
          `The server sent something that is not a chat completion event: ${event.data.slice(0, 200)}`,
          "stream.malformed",
        );
        return;
      }
      if ("error" in chunk && chunk.error) {
        failure = new StreamedError(chunk.error.message, chunk.error.code ?? null);
        return;
      }
      const completion = chunk as ChatCompletionChunk;
      for (const choice of completion.choices) {
        const { reasoning_content, reasoning } = choice.delta as {
          reasoning_content?: unknown;
          reasoning?: unknown;
        };
        const thought = typeof reasoning_content === "string" ? reasoning_content : reasoning;
        if (onReasoning && typeof thought === "string" && thought) onReasoning(thought);
        if (choice.delta.content) onText(choice.delta.content);
        if (choice.logprobs?.content) (outcome.logprobs ??= []).push(...choice.logprobs.content);
        if (choice.finish_reason) outcome.finishReason = choice.finish_reason;
      }
      if (completion.usage) outcome.completionTokens = completion.usage.completion_tokens;
    },
  });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    while (!finished && !failure) {
      const { done, value } = await reader.read();
      if (done) {
        // A last event the server did not end with a blank line still counts.
        parser.feed(`${decoder.decode()}\n\n`);
        break;
      }
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    // Past [DONE] nothing more is read; the connection is let go.
    await reader.cancel().catch(() => undefined);
  }
  if (failure) throw failure;
  return outcome;
}

import { createParser } from "eventsource-parser";
import type { ChatCompletionChunk, ErrorBody } from "../contract";

/** How a streamed chat completion ended. */
export interface ChatStreamOutcome {
  /** `stop`, `length`, …; null when the stream ended without one. */
  finishReason: string | null;
  /** Tokens generated, as the server counted them (stream_options.include_usage). */
  completionTokens: number | undefined;
}

/** An error the server sent inside a stream it had begun (a node that failed midway). */
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
): Promise<ChatStreamOutcome> {
  const outcome: ChatStreamOutcome = { finishReason: null, completionTokens: undefined };
  let finished = false;
  let failure: StreamedError | undefined;
  const parser = createParser({
    onEvent(event) {
      if (finished || failure) return;
      if (event.data === "[DONE]") {
        finished = true;
        return;
      }
      const chunk = JSON.parse(event.data) as ChatCompletionChunk | Partial<ErrorBody>;
      if ("error" in chunk && chunk.error) {
        failure = new StreamedError(chunk.error.message, chunk.error.code ?? null);
        return;
      }
      const completion = chunk as ChatCompletionChunk;
      for (const choice of completion.choices) {
        if (choice.delta.content) onText(choice.delta.content);
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
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    // Past [DONE] nothing more is read; the connection is let go.
    await reader.cancel().catch(() => undefined);
  }
  if (failure) throw failure;
  return outcome;
}

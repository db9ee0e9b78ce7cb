import type { ServerResponse } from "node:http";
import { namedSseEvent, sseEvent } from "../../shared/sse";

/**
 * How a stream is framed: OpenAI's (unnamed events, `[DONE]` last) or Anthropic's (each event named
 * by its type, nothing after `message_stop`).
 */
export type SseStyle = "openai" | "anthropic";

/** The event that ends an OpenAI stream. */
export const SSE_DONE = "data: [DONE]\n\n";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
  // Tells buffering proxies (nginx) to pass each event on at once.
  "x-accel-buffering": "no",
} as const;

/** Writes events straight to the socket, each as soon as it is made; nothing is buffered here. */
export interface SseWriter {
  send(payload: unknown): void;
  /** Sends `[DONE]` and ends the response. */
  done(): void;
  /**
   * An error after the stream began: OpenAI's SDKs raise an `{error}` event as an APIError, and
   * Anthropic's an `error` event.
   */
  fail(body: unknown): void;
}

export function openSse(
  raw: ServerResponse,
  headers: Record<string, string> = {},
  style: SseStyle = "openai",
): SseWriter {
  raw.writeHead(200, { ...SSE_HEADERS, ...headers });
  raw.flushHeaders();
  // Each event in its own TCP segment rather than waiting to fill one.
  raw.socket?.setNoDelay(true);
  const write = (text: string) => {
    if (!raw.writableEnded && !raw.destroyed) raw.write(text);
  };
  const event = (payload: unknown) =>
    style === "anthropic" ? namedSseEvent(payload as { type: string }) : sseEvent(payload);
  return {
    send: (payload) => write(event(payload)),
    done() {
      if (style === "openai") write(SSE_DONE);
      if (!raw.writableEnded) raw.end();
    },
    fail(body) {
      write(event(body));
      if (!raw.writableEnded) raw.end();
    },
  };
}

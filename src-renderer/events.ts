import { createParser } from "eventsource-parser";
import type { ServerEvent } from "../src-main/contract";
import { authorization, type AdminToken } from "./adminToken";

/** The part of `EventSource` the dashboard uses; tests pass a fake. */
export interface EventSourceLike {
  readonly readyState: number;
  /** The HTTP status the server refused the stream with, where it answered one (`EventSource` has none). */
  readonly refusedWith?: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

/** `EventSource`'s states, spelled out so this module loads where `EventSource` does not exist. */
const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

/**
 * An event stream read with `fetch`, which can send the admin token as a header where `EventSource`
 * sends only cookies. Like `EventSource` it calls `onopen`, `onmessage` for each unnamed event and
 * `onerror`; unlike it, it does not reconnect by itself: any failure or end leaves it CLOSED, and
 * `openEventStream` starts a new one.
 */
class FetchEventSource implements EventSourceLike {
  readyState = CONNECTING;
  refusedWith: number | undefined;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  private readonly stopped = new AbortController();

  constructor(url: string, headers: Record<string, string>) {
    void this.read(url, headers);
  }

  close(): void {
    this.readyState = CLOSED;
    this.stopped.abort();
  }

  private async read(url: string, headers: Record<string, string>): Promise<void> {
    try {
      const response = await fetch(url, {
        headers: { ...headers, accept: "text/event-stream" },
        cache: "no-store",
        signal: this.stopped.signal,
      });
      if (!response.ok || !response.body) {
        if (!response.ok) this.refusedWith = response.status;
        await response.body?.cancel();
        return;
      }
      this.readyState = OPEN;
      this.onopen?.(new Event("open"));
      const parser = createParser({
        onEvent: (event) => {
          if (event.event === undefined && this.readyState === OPEN)
            this.onmessage?.(new MessageEvent("message", { data: event.data }));
        },
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        parser.feed(value);
      }
    } catch {
      // Refused, dropped or closed: below.
    } finally {
      if (!this.stopped.signal.aborted) {
        this.readyState = CLOSED;
        this.onerror?.(new Event("error"));
      }
    }
  }
}

/** The dashboard's event streams, each with the admin token to send when it starts. */
export function fetchEventSource(token: AdminToken): EventSourceFactory {
  return (url) => new FetchEventSource(url, authorization(token));
}

export interface EventStreamOptions {
  factory: EventSourceFactory;
  onEvent(event: ServerEvent): void;
  /** The stream is open; `reconnected` is true when it had been down, so the caller's state may be stale. */
  onOpen(reconnected: boolean): void;
  /** The stream dropped; it reconnects by itself. */
  onDown(): void;
  /**
   * The server refused the admin token sent (401): trying again with it would only be refused again, so
   * the stream stays closed until the caller stops it and opens a new one (with another token).
   */
  onTokenRefused?(): void;
  /** Default: "/v0/events". */
  url?: string;
  /** Delays before starting a new stream when the browser gave up on one. Default: 2 s doubling to 30 s. */
  retryMs?: { first: number; max: number };
}

/**
 * Subscribes to `/v0/events`. A stream that closes (the server restarted, or the network dropped) is
 * started anew after a delay; one refused for its token is not (see `onTokenRefused`). Returns the
 * function that stops listening.
 */
export function openEventStream(options: EventStreamOptions): () => void {
  const url = options.url ?? "/v0/events";
  const retry = options.retryMs ?? { first: 2000, max: 30_000 };
  let source: EventSourceLike | undefined;
  let down = false;
  let delay = retry.first;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const connect = () => {
    const current = options.factory(url);
    source = current;
    current.onopen = () => {
      delay = retry.first;
      const reconnected = down;
      down = false;
      options.onOpen(reconnected);
    };
    current.onmessage = (message) => {
      const event = parse(message.data);
      if (event) options.onEvent(event);
    };
    current.onerror = () => {
      if (!down) {
        down = true;
        options.onDown();
      }
      if (current.readyState === CLOSED && current.refusedWith === 401 && options.onTokenRefused) {
        current.close();
        options.onTokenRefused();
      } else if (current.readyState === CLOSED && !stopped) {
        current.close();
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, retry.max);
      }
    };
  };

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    source?.close();
  };
}

/** The events this page knows: a type added to the contract and not here is a type error. */
const knownTypes: Record<ServerEvent["type"], true> = {
  "model.updated": true,
  "model.removed": true,
  "node.updated": true,
  "node.removed": true,
  serving: true,
  "node.token_replaced": true,
  "gpu.build": true,
  "requests.done": true,
};

/** Unknown or malformed messages are skipped: a newer server may send events this page does not know. */
function parse(data: unknown): ServerEvent | undefined {
  if (typeof data !== "string") return undefined;
  try {
    const event = JSON.parse(data) as { type?: unknown };
    return typeof event === "object" && event !== null && Object.hasOwn(knownTypes, event.type as string)
      ? (event as ServerEvent)
      : undefined;
  } catch {
    return undefined;
  }
}

import type { ServerEvent } from "../src-main/contract";

/** The part of `EventSource` the dashboard uses; tests pass a fake. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

export const browserEventSource: EventSourceFactory = (url) => new EventSource(url);

/** `EventSource.CLOSED`, spelled out so this module loads where `EventSource` does not exist. */
const CLOSED = 2;

export interface EventStreamOptions {
  factory: EventSourceFactory;
  onEvent(event: ServerEvent): void;
  /** The stream is open; `reconnected` is true when it had been down, so the caller's state may be stale. */
  onOpen(reconnected: boolean): void;
  /** The stream dropped; it reconnects by itself. */
  onDown(): void;
  /** Default: "/v0/events". */
  url?: string;
  /** Delays before starting a new stream when the browser gave up on one. Default: 2 s doubling to 30 s. */
  retryMs?: { first: number; max: number };
}

/**
 * Subscribes to `/v0/events`. EventSource reconnects by itself after a dropped connection, but gives up
 * for good when the server answers with an error (a restart that returns 503, say): then a new stream
 * is started after a delay. Returns the function that stops listening.
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
      if (current.readyState === CLOSED && !stopped) {
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
  "gpu.build": true,
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

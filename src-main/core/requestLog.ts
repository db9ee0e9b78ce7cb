import type { RequestRecord, ServerEvent } from "../contract";

export interface RequestLog {
  /** An inference request answered. */
  record(entry: RequestRecord): void;
  /** The latest ones, newest first. */
  recent(): RequestRecord[];
  /** Sends what is still held back. */
  dispose(): void;
}

export interface RequestLogOptions {
  /** Where the `requests.done` events go. */
  publish: (event: ServerEvent) => void;
  /** How many are kept. Default: 200. */
  capacity?: number;
  /** Requests answered within this long go out in one event. Default: 500 ms. */
  batchMs?: number;
}

/**
 * The latest inference requests, kept in memory for the dashboard's Requests page (the access log on
 * standard error keeps them all), and sent to it in batches: one event per request would cost a busy
 * server as much as the requests.
 */
export function createRequestLog(options: RequestLogOptions): RequestLog {
  const capacity = options.capacity ?? 200;
  const kept: RequestRecord[] = [];
  let held: RequestRecord[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (held.length === 0) return;
    const requests = held;
    held = [];
    options.publish({ type: "requests.done", requests });
  };
  return {
    record(entry) {
      kept.push(entry);
      if (kept.length > capacity) kept.splice(0, kept.length - capacity);
      held.push(entry);
      if (held.length > capacity) held.splice(0, held.length - capacity);
      timer ??= setTimeout(flush, options.batchMs ?? 500);
      timer.unref();
    },
    recent: () => kept.toReversed(),
    dispose() {
      clearTimeout(timer);
      flush();
    },
  };
}

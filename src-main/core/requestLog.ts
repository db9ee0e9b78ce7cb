import {
  keptRequests,
  requestMatches,
  type RequestFilter,
  type RequestRecord,
  type ServerEvent,
} from "../contract";

/** A page of the requests kept: newest first, after `before` (an id) where given. */
export interface RequestPageQuery extends RequestFilter {
  limit: number;
  before?: string;
}

export interface RequestLog {
  /** An inference request answered. */
  record(entry: RequestRecord): void;
  /**
   * Those kept that match, newest first, and whether older ones match too; undefined when `before`
   * names a request not kept (never one, or pushed out since).
   */
  page(query: RequestPageQuery): { data: RequestRecord[]; has_more: boolean } | undefined;
  /** Sends what is still held back. */
  dispose(): void;
}

export interface RequestLogOptions {
  /** Where the `requests.done` events go. */
  publish: (event: ServerEvent) => void;
  /** How many are kept. Default: `keptRequests`. */
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
  const capacity = options.capacity ?? keptRequests;
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
    page(query) {
      let from = kept.length - 1;
      if (query.before !== undefined) {
        from = kept.findLastIndex((entry) => entry.id === query.before) - 1;
        if (from === -2) return undefined;
      }
      const data: RequestRecord[] = [];
      for (let index = from; index >= 0; index--) {
        const entry = kept[index]!;
        if (!requestMatches(entry, query)) continue;
        if (data.length === query.limit) return { data, has_more: true };
        data.push(entry);
      }
      return { data, has_more: false };
    },
    dispose() {
      clearTimeout(timer);
      flush();
    },
  };
}

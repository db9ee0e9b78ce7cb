import type { Logger } from "../../shared/logger";

export interface HealthCheckerOptions {
  /** Time between the end of one check and the start of the next. */
  intervalMs: number;
  /** One check of one target; the signal aborts it when the target is unwatched or on dispose. */
  check: (id: string, signal: AbortSignal) => Promise<void>;
  log: Logger;
}

/** Checks targets periodically, one check in flight per target at most: a slow target never piles up. */
export interface HealthChecker {
  /** Starts checking `id`: the first check after `firstDelayMs` (default: the interval). */
  watch(id: string, firstDelayMs?: number): void;
  /** Stops checking `id` and aborts its running check. */
  unwatch(id: string): void;
  dispose(): void;
}

interface Watch {
  timer?: NodeJS.Timeout;
  abort: AbortController;
}

export function createHealthChecker(options: HealthCheckerOptions): HealthChecker {
  const watches = new Map<string, Watch>();

  function schedule(id: string, watch: Watch, delayMs: number): void {
    watch.timer = setTimeout(() => void run(id, watch), delayMs);
    watch.timer.unref();
  }

  async function run(id: string, watch: Watch): Promise<void> {
    watch.timer = undefined;
    try {
      await options.check(id, watch.abort.signal);
    } catch (error) {
      if (!watch.abort.signal.aborted) options.log.error({ endpoint: id, err: error }, "health check failed");
    }
    // The next check starts only once this one is over, and only while still watched.
    if (watches.get(id) === watch) schedule(id, watch, options.intervalMs);
  }

  function unwatch(id: string): void {
    const watch = watches.get(id);
    if (!watch) return;
    watches.delete(id);
    clearTimeout(watch.timer);
    watch.abort.abort(new Error("no longer checked"));
  }

  return {
    watch(id, firstDelayMs = options.intervalMs) {
      unwatch(id);
      const watch: Watch = { abort: new AbortController() };
      watches.set(id, watch);
      schedule(id, watch, firstDelayMs);
    },
    unwatch,
    dispose() {
      for (const id of [...watches.keys()]) unwatch(id);
    },
  };
}

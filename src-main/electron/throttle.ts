/** The timer functions a throttle uses; tests pass fake ones. */
export interface ThrottleTimers {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: ThrottleTimers = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface Throttled {
  /** Asks for a run: at once if none ran in the last interval, else once at the end of it. */
  (): void;
  /** Drops a pending run; later calls are ignored. */
  dispose(): void;
}

/**
 * Runs `run` at most once per `intervalMs`, the first call at once and the last one of a burst at the
 * end of its interval, so the latest state is always shown. Download progress publishes many events a
 * second; the tray rebuilds its menu at most once an interval.
 */
export function throttle(
  run: () => void,
  intervalMs: number,
  timers: ThrottleTimers = realTimers,
): Throttled {
  let last = -Infinity;
  let scheduled = false;
  let handle: unknown;
  let disposed = false;
  const fire = () => {
    scheduled = false;
    last = timers.now();
    run();
  };
  const throttled = (() => {
    if (disposed || scheduled) return;
    const wait = last + intervalMs - timers.now();
    if (wait <= 0) return fire();
    scheduled = true;
    handle = timers.setTimeout(fire, wait);
  }) as Throttled;
  throttled.dispose = () => {
    disposed = true;
    if (scheduled) timers.clearTimeout(handle);
    scheduled = false;
  };
  return throttled;
}

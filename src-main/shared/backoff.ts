/**
 * The wait before the next try after `failures` failures in a row (1 = after the first): `baseMs`,
 * doubling with each failure, never more than `maxMs`. Every retry in llmlb (downloads, worker
 * restarts, registering, nodes marked down, health checks) waits this way.
 */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, Math.max(0, baseMs) * 2 ** Math.max(0, failures - 1));
}

/** The longest Retry-After heeded: a broken server's hours would stall what waits on it. */
export const maxRetryAfterMs = 5 * 60_000;

/**
 * Retry-After as delta-seconds or an HTTP date, in ms from `now` (at most 5 minutes); undefined when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, maxRetryAfterMs);
  // An HTTP date names its day and month; this keeps "-5" and the like from parsing as a year.
  const date = /[a-z]/i.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, date - now), maxRetryAfterMs);
}

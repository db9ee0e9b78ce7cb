/**
 * The wait before the next try after `failures` failures in a row (1 = after the first): `baseMs`,
 * doubling with each failure, never more than `maxMs`. Every retry in llmlb (downloads, worker
 * restarts, registering, nodes marked down, health checks) waits this way.
 */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, Math.max(0, baseMs) * 2 ** Math.max(0, failures - 1));
}

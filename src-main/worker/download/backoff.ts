/** How long to wait before the next attempt: exponential backoff, unless the server said (Retry-After). */
import { backoffMs, maxRetryAfterMs } from "../../shared/backoff";

export const MAX_BACKOFF_MS = 30_000;
/** The longest Retry-After heeded (llmlb's one cap for it). */
export const MAX_RETRY_AFTER_MS = maxRetryAfterMs;

/**
 * Delay before retry number `failures` (1 = after the first failure): base * 2^(failures-1), capped,
 * with the upper half jittered so parallel segments do not retry in lockstep. A server's Retry-After wins.
 */
export function backoffDelayMs(
  failures: number,
  baseMs: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(0, retryAfterMs), MAX_RETRY_AFTER_MS);
  const exponential = backoffMs(failures, baseMs, MAX_BACKOFF_MS);
  return Math.round(exponential / 2 + (exponential / 2) * random());
}

export { parseRetryAfter } from "../../shared/backoff";

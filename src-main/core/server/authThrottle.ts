import { AppError } from "../../shared/errors";

/**
 * Wrong API keys from one address, counted: past `limit` within `windowMs`, its requests are answered
 * 429 until the oldest of those leaves the window, right key or not. A short API key would otherwise
 * fall to a few thousand guesses a second, from the network or from another user of this machine.
 */
export interface AuthThrottle {
  /** Refuses a request from an address that guessed wrong too often lately. */
  check(address: string): void;
  /** A wrong key came from this address. */
  failed(address: string): void;
}

export interface AuthThrottleOptions {
  now?: () => number;
  /** Wrong tries an address may make within the window. Default: 20. */
  limit?: number;
  /** Default: 60 s. */
  windowMs?: number;
}

/** Addresses remembered at most: a flood from many addresses does not grow the map for ever. */
const addressesKept = 10_000;

export function createAuthThrottle(options: AuthThrottleOptions = {}): AuthThrottle {
  const now = options.now ?? Date.now;
  const limit = options.limit ?? 20;
  const windowMs = options.windowMs ?? 60_000;
  /** When each address's recent wrong tries came, oldest first. */
  const failures = new Map<string, number[]>();
  const recent = (address: string, at: number): number[] => {
    const times = (failures.get(address) ?? []).filter((time) => at - time < windowMs);
    if (times.length === 0) failures.delete(address);
    else failures.set(address, times);
    return times;
  };
  return {
    check(address) {
      // Most addresses never guessed wrong: nothing to work out on every request.
      if (!failures.has(address)) return;
      const at = now();
      const times = recent(address, at);
      if (times.length < limit) return;
      throw new AppError(
        "auth.too_many_failures",
        `Too many wrong API keys from ${address} in the last ${windowMs / 1000} s: retry later with the right one.`,
        { retryAfter: (times[0]! + windowMs - at) / 1000 },
      );
    },
    failed(address) {
      const at = now();
      const times = recent(address, at);
      if (!failures.has(address) && failures.size >= addressesKept)
        failures.delete(failures.keys().next().value!);
      failures.set(address, [...times, at]);
    },
  };
}

import crypto from "node:crypto";
import { AppError } from "../../shared/errors";

/**
 * Wrong API keys from one address, counted by key: past `limit` different ones within `windowMs`, its
 * requests are answered 429 until the oldest of those leaves the window, right key or not. A short API
 * key would otherwise fall to a few thousand guesses a second, from the network or from another user
 * of this machine; a client that keeps sending one stale key is not a guesser, and holds back no one
 * behind its address.
 */
export interface AuthThrottle {
  /** Refuses a request from an address that guessed wrong too often lately. */
  check(address: string): void;
  /** A wrong key came from this address. */
  failed(address: string, key: string): void;
}

export interface AuthThrottleOptions {
  now?: () => number;
  /** Different wrong keys an address may send within the window. Default: 20. */
  limit?: number;
  /** Default: 60 s. */
  windowMs?: number;
}

/** Addresses remembered at most: a flood from many addresses does not grow the map for ever. */
const addressesKept = 10_000;

/**
 * Whom an address stands for: an IPv4 address (mapped into IPv6 or not), or an IPv6 address's /64,
 * which one machine may draw addresses from at will.
 */
export function guesserOf(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(":")) return address;
  const [head = "", tail] = address.toLowerCase().split("::");
  const front = head.split(":").filter(Boolean);
  const back = tail?.split(":").filter(Boolean) ?? [];
  const groups = [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill("0"), ...back];
  return `${groups.slice(0, 4).join(":")}::/64`;
}

export function createAuthThrottle(options: AuthThrottleOptions = {}): AuthThrottle {
  const now = options.now ?? Date.now;
  const limit = options.limit ?? 20;
  const windowMs = options.windowMs ?? 60_000;
  /** By guesser: when each wrong key (by its hash) was last sent. */
  const failures = new Map<string, Map<string, number>>();
  /** The guesser's wrong keys within the window (older ones forgotten), oldest first. */
  const recent = (guesser: string, at: number): Map<string, number> | undefined => {
    const keys = failures.get(guesser);
    if (!keys) return undefined;
    for (const [key, time] of keys) if (at - time >= windowMs) keys.delete(key);
    if (keys.size === 0) failures.delete(guesser);
    return keys.size > 0 ? keys : undefined;
  };
  return {
    check(address) {
      // Most addresses never sent a wrong key: nothing to work out on every request.
      if (failures.size === 0) return;
      const guesser = guesserOf(address);
      if (!failures.has(guesser)) return;
      const at = now();
      const keys = recent(guesser, at);
      if (!keys || keys.size < limit) return;
      const oldest = Math.min(...keys.values());
      throw new AppError(
        "auth.too_many_failures",
        `Too many different wrong API keys from ${guesser} in the last ${windowMs / 1000} s: retry later with the right one.`,
        { retryAfter: (oldest + windowMs - at) / 1000 },
      );
    },
    failed(address, key) {
      const guesser = guesserOf(address);
      const at = now();
      let keys = recent(guesser, at);
      if (!keys) {
        if (failures.size >= addressesKept) {
          // Those whose wrong keys are all old go first; else the one remembered longest.
          for (const other of failures.keys()) recent(other, at);
          if (failures.size >= addressesKept) failures.delete(failures.keys().next().value!);
        }
        failures.set(guesser, (keys = new Map()));
      }
      const hashed = crypto.createHash("sha256").update(key).digest("base64");
      // Sent again, a key counts from its last sending.
      keys.delete(hashed);
      keys.set(hashed, at);
    },
  };
}

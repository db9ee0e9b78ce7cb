import type { Logger } from "../../shared/logger";

/**
 * The models a node keeps loaded: loaded on first use, shared by concurrent uses, unloaded after an idle
 * time-to-live, and evicted least recently used first when a new one needs the room. Generic over what a
 * "model" is, so the policy is testable without llama.cpp.
 *
 * Room is judged two ways: a maximum count of loaded models (cheap, predictable), and node-llama-cpp's own
 * memory estimate, which makes a load throw when the model would not fit (`isOutOfMemory`): then an idle
 * model is evicted and the load retried. A model in use is never evicted; a load that needs its place waits.
 */
export interface ModelPoolOptions<T> {
  load(key: string): Promise<T>;
  unload(value: T, key: string): Promise<void>;
  /** Idle time before a model is unloaded, for uses that name none. */
  idleTtlMs: number;
  /** At most this many models loaded (or loading) at once. */
  maxLoaded: number;
  /** Whether a load failed for lack of memory (then an idle model is evicted and the load retried). */
  isOutOfMemory?(error: unknown): boolean;
  log: Logger;
  now?: () => number;
  /** A model left memory (idle, asked to, or for another): whoever reports memory may say so now. */
  onUnloaded?(): void;
  /** A load began, or ended (loaded or failed): whoever reports what the node holds may say so now. */
  onLoadChange?(): void;
}

export interface UseOptions {
  signal: AbortSignal;
  /** This use's idle time-to-live; the latest use's value applies (LM Studio's `ttl`). */
  idleTtlMs?: number;
}

export interface PooledModelInfo {
  key: string;
  state: "loading" | "ready";
  /** When its load began (a first load may compile GPU kernels for minutes). */
  loadStartedAt: number;
  activeUses: number;
  lastUsedAt: number;
  idleTtlMs: number;
  /** Asked to unload while in use: it goes when its last use ends, unless a new one comes first. */
  unloadPending: boolean;
}

export interface ModelPool<T> {
  /** Runs `work` with the model loaded, loading it first if needed; the model stays while `work` runs. */
  use<R>(key: string, options: UseOptions, work: (value: T) => Promise<R>): Promise<R>;
  entries(): PooledModelInfo[];
  /**
   * Unloads `key`: now if it is idle, else as soon as its last use ends (unless a new use comes
   * first); says whether it unloaded now.
   */
  unload(key: string): Promise<boolean>;
  /**
   * Keeps `key` this long idle from now on (its setting changed; default: the pool's): an idle one
   * goes once that long has passed since its last use, at once where it has.
   */
  keepIdleFor(key: string, idleTtlMs: number | undefined): void;
  /** Unloads everything, in use or not (abort the uses first); later uses fail. */
  dispose(): Promise<void>;
}

interface Entry<T> {
  key: string;
  loading: Promise<T>;
  loadStartedAt: number;
  ready: boolean;
  value?: T;
  activeUses: number;
  lastUsedAt: number;
  idleTtlMs: number;
  idleTimer?: NodeJS.Timeout;
  /** Asked to unload while in use: it goes when its last use ends. */
  unloadWhenIdle?: boolean;
}

/** Unloads for room within a minute that say models take turns (warned of at most every 10 min). */
const swapWindowMs = 60_000;
const swapsWorthSaying = 5;
const swapWarningEveryMs = 10 * 60_000;

/** setTimeout's ceiling (~24.8 days); a longer TTL would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class ModelPoolDisposedError extends Error {
  constructor() {
    super("The inference engine is shutting down.");
    this.name = "ModelPoolDisposedError";
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export function createModelPool<T>(options: ModelPoolOptions<T>): ModelPool<T> {
  const now = options.now ?? Date.now;
  const log = options.log;
  const entries = new Map<string, Entry<T>>();
  const unloading = new Set<Promise<void>>();
  let changeWaiters: (() => void)[] = [];
  let disposed = false;

  /** Wakes the loads waiting for room: a model went idle or away. */
  const notify = () => {
    const waiters = changeWaiters;
    changeWaiters = [];
    for (const wake of waiters) wake();
  };
  const waitForChange = (signal: AbortSignal) =>
    abortable(new Promise<void>((resolve) => changeWaiters.push(resolve)), signal);

  const leastRecentlyUsedIdle = (except?: Entry<T>): Entry<T> | undefined => {
    let best: Entry<T> | undefined;
    for (const entry of entries.values()) {
      if (entry === except || !entry.ready || entry.activeUses > 0) continue;
      if (!best || entry.lastUsedAt < best.lastUsedAt) best = entry;
    }
    return best;
  };

  /** When models were unloaded for room lately, and when that was last warned of. */
  const swaps: number[] = [];
  let swapsWarnedAt: number | undefined;
  /**
   * A model unloaded for another's room: a few now and then are what the limit is for; many in a
   * minute mean two models take turns, each load a wait (seconds to minutes for a large model).
   */
  const noteSwap = () => {
    const at = now();
    swaps.push(at);
    while (swaps.length > 0 && at - swaps[0]! > swapWindowMs) swaps.shift();
    if (swaps.length < swapsWorthSaying) return;
    if (swapsWarnedAt !== undefined && at - swapsWarnedAt < swapWarningEveryMs) return;
    swapsWarnedAt = at;
    log.warn(
      { unloads: swaps.length, withinSeconds: swapWindowMs / 1000 },
      `models swap in and out of this worker for room: it holds at most ${options.maxLoaded} at once (LLMLB_MAX_LOADED_MODELS); raise it where memory allows, or pin models to workers (llmlb model set <id> --nodes <name>)`,
    );
  };

  const evict = (entry: Entry<T>, reason: string): Promise<void> => {
    if (entries.get(entry.key) === entry) entries.delete(entry.key);
    clearTimeout(entry.idleTimer);
    const done: Promise<void> = entry.loading
      .then(async (value) => {
        await options.unload(value, entry.key);
        log.info({ model: entry.key, reason }, "model unloaded");
        options.onUnloaded?.();
      })
      .catch((error: unknown) => log.warn({ err: error, model: entry.key }, "model unload failed"))
      .finally(() => {
        unloading.delete(done);
        notify();
      });
    unloading.add(done);
    return done;
  };

  /** Unloads `entry` once idle for `ms` (default: its idle time) from now, unless a use comes first. */
  const scheduleIdle = (entry: Entry<T>, ms = entry.idleTtlMs) => {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(
      () => {
        if (entries.get(entry.key) === entry && entry.activeUses === 0) void evict(entry, "idle");
      },
      Math.min(ms, MAX_TIMER_MS),
    );
    // An idle model must not keep the process alive.
    entry.idleTimer.unref();
  };

  const loadWithRoom = async (key: string, self: Entry<T>): Promise<T> => {
    for (;;) {
      // Memory an eviction frees must be free before the next model claims it.
      await Promise.all([...unloading]);
      try {
        const started = now();
        const value = await options.load(key);
        log.info({ model: key, ms: now() - started }, "model loaded");
        return value;
      } catch (error) {
        const victim = options.isOutOfMemory?.(error) ? leastRecentlyUsedIdle(self) : undefined;
        if (!victim) throw error;
        log.info({ model: key, evicting: victim.key }, "not enough memory to load; evicting an idle model");
        await evict(victim, "memory");
      }
    }
  };

  const startLoading = (key: string, idleTtlMs: number): Entry<T> => {
    const entry: Entry<T> = {
      key,
      loadStartedAt: now(),
      ready: false,
      activeUses: 1,
      lastUsedAt: now(),
      idleTtlMs,
      loading: Promise.resolve(undefined as T),
    };
    entry.loading = loadWithRoom(key, entry);
    entries.set(key, entry);
    options.onLoadChange?.();
    entry.loading.then(
      (value) => {
        entry.value = value;
        entry.ready = true;
        options.onLoadChange?.();
        // Its uses left while it loaded: asked to unload meanwhile, it goes now.
        if (entry.activeUses === 0 && entries.get(key) === entry) {
          if (entry.unloadWhenIdle) void evict(entry, "requested");
          else scheduleIdle(entry);
        }
      },
      () => {
        if (entries.get(key) === entry) entries.delete(key);
        options.onLoadChange?.();
        notify();
      },
    );
    return entry;
  };

  /** The entry for `key` with one more use, once there is room for it. */
  const checkout = async (key: string, idleTtlMs: number, signal: AbortSignal): Promise<Entry<T>> => {
    for (;;) {
      if (disposed) throw new ModelPoolDisposedError();
      signal.throwIfAborted();
      const existing = entries.get(key);
      if (existing) {
        existing.activeUses++;
        existing.lastUsedAt = now();
        existing.idleTtlMs = idleTtlMs;
        existing.unloadWhenIdle = false;
        clearTimeout(existing.idleTimer);
        return existing;
      }
      if (entries.size < options.maxLoaded) return startLoading(key, idleTtlMs);
      const victim = leastRecentlyUsedIdle();
      if (victim) {
        noteSwap();
        await evict(victim, "room for another model");
      } else await waitForChange(signal);
    }
  };

  const checkin = (entry: Entry<T>) => {
    entry.activeUses--;
    entry.lastUsedAt = now();
    if (entry.activeUses > 0) return;
    if (entry.ready && entries.get(entry.key) === entry) {
      if (entry.unloadWhenIdle) void evict(entry, "requested");
      else scheduleIdle(entry);
    }
    notify();
  };

  return {
    async use(key, { signal, idleTtlMs }, work) {
      const entry = await checkout(key, idleTtlMs ?? options.idleTtlMs, signal);
      try {
        return await work(await abortable(entry.loading, signal));
      } finally {
        checkin(entry);
      }
    },
    entries() {
      return [...entries.values()].map((entry) => ({
        key: entry.key,
        state: entry.ready ? "ready" : "loading",
        loadStartedAt: entry.loadStartedAt,
        activeUses: entry.activeUses,
        lastUsedAt: entry.lastUsedAt,
        idleTtlMs: entry.idleTtlMs,
        unloadPending: entry.unloadWhenIdle === true,
      }));
    },
    async unload(key) {
      const entry = entries.get(key);
      if (!entry) return false;
      if (!entry.ready || entry.activeUses > 0) {
        entry.unloadWhenIdle = true;
        return false;
      }
      await evict(entry, "requested");
      return true;
    },
    keepIdleFor(key, idleTtlMs) {
      const entry = entries.get(key);
      if (!entry) return;
      entry.idleTtlMs = idleTtlMs ?? options.idleTtlMs;
      if (!entry.ready || entry.activeUses > 0) return;
      // Counted from its last use, as its timer was.
      scheduleIdle(entry, Math.max(0, entry.lastUsedAt + entry.idleTtlMs - now()));
    },
    async dispose() {
      disposed = true;
      notify();
      await Promise.all([...entries.values()].map((entry) => evict(entry, "shutdown")));
      await Promise.all([...unloading]);
    },
  };
}

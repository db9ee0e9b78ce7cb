import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createModelPool, type ModelPoolOptions } from "../../src-main/worker/inference/modelPool";
import { createSlotPool } from "../../src-main/worker/inference/slotPool";

const never = new AbortController().signal;

/** Resolves when `promise` settles, to tell a pending promise from a settled one. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return done;
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

function fakePool(overrides: Partial<ModelPoolOptions<string>> = {}) {
  const events: string[] = [];
  const pool = createModelPool<string>({
    log: pino({ level: "silent" }),
    idleTtlMs: 60_000,
    maxLoaded: 2,
    load: async (key) => {
      events.push(`load ${key}`);
      return `model:${key}`;
    },
    unload: async (_value, key) => {
      events.push(`unload ${key}`);
    },
    ...overrides,
  });
  return { pool, events };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("slot pool", () => {
  it("hands slots out first come, first served, and queues the rest", async () => {
    const pool = createSlotPool(["s1"]);
    const first = await pool.acquire(never);
    const second = pool.acquire(never);
    const third = pool.acquire(never);
    expect(pool.waiting).toBe(2);
    pool.release(first);
    expect(await second).toBe("s1");
    expect(await settled(third)).toBe(false);
    pool.release("s1");
    expect(await third).toBe("s1");
  });

  it("stops waiting when the signal aborts", async () => {
    const pool = createSlotPool(["s1"]);
    await pool.acquire(never);
    const controller = new AbortController();
    const waiting = pool.acquire(controller.signal);
    controller.abort(new Error("gone"));
    await expect(waiting).rejects.toThrow("gone");
    expect(pool.waiting).toBe(0);
  });

  it("releases the slot however the work ends", async () => {
    const pool = createSlotPool(["s1"]);
    await expect(pool.use(never, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(pool.busy).toBe(0);
  });
});

describe("model pool", () => {
  it("loads once and shares the model between concurrent uses", async () => {
    const { pool, events } = fakePool();
    const gate = deferred();
    const first = pool.use("a", { signal: never }, async (model) => {
      await gate.promise;
      return model;
    });
    const second = pool.use("a", { signal: never }, async (model) => model);
    expect(await second).toBe("model:a");
    expect(pool.entries()[0]).toMatchObject({ key: "a", activeUses: 1, state: "ready" });
    gate.resolve();
    expect(await first).toBe("model:a");
    expect(events).toEqual(["load a"]);
  });

  it("tells of each load as it begins and as it ends, for the node to report what it holds", async () => {
    let changes = 0;
    const { pool } = fakePool({ maxLoaded: 1, onLoadChange: () => changes++ });
    await pool.use("a", { signal: never }, async () => undefined);
    await pool.use("a", { signal: never }, async () => undefined);
    expect(changes).toBe(2);
    await pool.use("b", { signal: never }, async () => undefined);
    expect(changes).toBe(4);
  });

  it("warns once when models swap in and out for room, saying how to stop it", async () => {
    let clock = 0;
    const warnings: { fields: Record<string, unknown>; message: string }[] = [];
    const log = pino({ level: "silent" });
    log.warn = ((fields: Record<string, unknown>, message: string) =>
      void warnings.push({ fields, message })) as typeof log.warn;
    const { pool } = fakePool({ maxLoaded: 1, log, now: () => clock });
    // Two models taking turns on a worker that holds one: each load unloads the other.
    for (let turn = 0; turn < 12; turn++) {
      await pool.use(turn % 2 === 0 ? "a" : "b", { signal: never }, async () => undefined);
      clock += 2_000;
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(
      /^models swap in and out of this worker for room: it holds at most 1 at once \(LLMLB_MAX_LOADED_MODELS\); raise it where memory allows, or pin models to workers \(llmlb model set <id> --nodes <name>\)$/,
    );
    expect(warnings[0]!.fields).toMatchObject({ unloads: 5, withinSeconds: 60 });

    // Swaps now and then, minutes apart, are no warning.
    warnings.length = 0;
    clock += 10 * 60_000;
    for (let turn = 0; turn < 6; turn++) {
      await pool.use(turn % 2 === 0 ? "a" : "b", { signal: never }, async () => undefined);
      clock += 30_000;
    }
    expect(warnings).toEqual([]);
  });

  it("says a model is loading, and since when, until its load ends", async () => {
    let clock = 1000;
    const loaded = deferred();
    const { pool } = fakePool({
      now: () => clock,
      load: async (key) => {
        await loaded.promise;
        return `model:${key}`;
      },
    });
    const use = pool.use("a", { signal: never }, async (value) => value);
    clock = 5000;
    expect(pool.entries()).toMatchObject([{ key: "a", state: "loading", loadStartedAt: 1000 }]);
    loaded.resolve();
    await use;
    expect(pool.entries()).toMatchObject([{ key: "a", state: "ready" }]);
  });

  it("unloads after the idle ttl, the latest use's ttl winning", async () => {
    vi.useFakeTimers();
    const { pool, events } = fakePool();
    await pool.use("a", { signal: never }, async () => undefined);
    await pool.use("a", { signal: never, idleTtlMs: 1000 }, async () => undefined);
    expect(pool.entries()[0]!.idleTtlMs).toBe(1000);
    await vi.advanceTimersByTimeAsync(999);
    expect(pool.entries()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(pool.entries()).toHaveLength(0);
    expect(events).toEqual(["load a", "unload a"]);
  });

  it("does not unload a model in use", async () => {
    vi.useFakeTimers();
    const { pool } = fakePool({ idleTtlMs: 10 });
    const gate = deferred();
    const using = pool.use("a", { signal: never }, () => gate.promise);
    await vi.advanceTimersByTimeAsync(100);
    expect(pool.entries()).toHaveLength(1);
    gate.resolve();
    await using;
    await vi.advanceTimersByTimeAsync(10);
    expect(pool.entries()).toHaveLength(0);
  });

  it("unloads a model asked to go while it loaded, once loaded, when its only use left meanwhile", async () => {
    const loading = deferred();
    const seen: string[] = [];
    const { pool } = fakePool({
      load: async (key) => {
        await loading.promise;
        return `model:${key}`;
      },
      unload: async (_value, key) => void seen.push(`unload ${key}`),
    });
    const client = new AbortController();
    const using = pool.use("a", { signal: client.signal }, async () => undefined);
    await vi.waitFor(() => expect(pool.entries()).toMatchObject([{ key: "a", state: "loading" }]));
    expect(await pool.unload("a")).toBe(false);
    expect(pool.entries()[0]?.unloadPending).toBe(true);
    client.abort();
    await using.catch(() => undefined);
    loading.resolve();
    await vi.waitFor(() => expect(seen).toEqual(["unload a"]));
    expect(pool.entries()).toEqual([]);
  });

  it("unloads a model asked to go while in use as soon as its last use ends, unless used again first", async () => {
    let unloaded = 0;
    const { pool, events } = fakePool({ idleTtlMs: 60_000, onUnloaded: () => unloaded++ });
    const gate = deferred();
    const using = pool.use("a", { signal: never }, () => gate.promise);
    await vi.waitFor(() => expect(pool.entries()[0]?.state).toBe("ready"));
    expect(pool.entries()[0]?.unloadPending).toBe(false);
    expect(await pool.unload("a")).toBe(false);
    // Still there, and says it is going.
    expect(pool.entries()).toMatchObject([{ key: "a", unloadPending: true }]);
    gate.resolve();
    await using;
    await vi.waitFor(() => expect(events).toEqual(["load a", "unload a"]));
    // Whoever reports memory hears of it.
    expect(unloaded).toBe(1);

    // A new use in between keeps it: somebody still wants it.
    const again = deferred();
    const reusing = pool.use("a", { signal: never }, () => again.promise);
    await vi.waitFor(() => expect(pool.entries()[0]?.state).toBe("ready"));
    await pool.unload("a");
    await pool.use("a", { signal: never }, async () => undefined);
    expect(pool.entries()[0]?.unloadPending).toBe(false);
    again.resolve();
    await reusing;
    expect(pool.entries()).toHaveLength(1);
  });

  it("evicts the least recently used idle model to make room", async () => {
    let clock = 0;
    const { pool, events } = fakePool({ now: () => ++clock });
    await pool.use("a", { signal: never }, async () => undefined);
    await pool.use("b", { signal: never }, async () => undefined);
    await pool.use("a", { signal: never }, async () => undefined);
    await pool.use("c", { signal: never }, async () => undefined);
    expect(events).toEqual(["load a", "load b", "unload b", "load c"]);
    expect(pool.entries().map((entry) => entry.key)).toEqual(["a", "c"]);
  });

  it("waits for a busy model to go idle rather than evict it", async () => {
    const { pool, events } = fakePool({ maxLoaded: 1 });
    const gate = deferred();
    const busy = pool.use("a", { signal: never }, () => gate.promise);
    await settled(busy);
    const next = pool.use("b", { signal: never }, async (model) => model);
    expect(await settled(next)).toBe(false);
    gate.resolve();
    expect(await next).toBe("model:b");
    expect(events).toEqual(["load a", "unload a", "load b"]);
  });

  it("evicts an idle model and retries when a load runs out of memory", async () => {
    class OutOfMemory extends Error {}
    let fits = 1;
    const loaded = new Set<string>();
    const { pool } = fakePool({
      maxLoaded: 5,
      isOutOfMemory: (error) => error instanceof OutOfMemory,
      load: async (key) => {
        if (loaded.size >= fits) throw new OutOfMemory();
        loaded.add(key);
        return key;
      },
      unload: async (key) => {
        loaded.delete(key);
      },
    });
    await pool.use("a", { signal: never }, async () => undefined);
    await pool.use("b", { signal: never }, async () => undefined);
    expect([...loaded]).toEqual(["b"]);
    fits = 0;
    await expect(pool.use("c", { signal: never }, async () => undefined)).rejects.toBeInstanceOf(OutOfMemory);
    expect(pool.entries().map((entry) => entry.key)).toEqual([]);
  });

  it("refuses uses after dispose and unloads everything", async () => {
    const { pool, events } = fakePool();
    await pool.use("a", { signal: never }, async () => undefined);
    await pool.dispose();
    expect(events).toEqual(["load a", "unload a"]);
    await expect(pool.use("a", { signal: never }, async () => undefined)).rejects.toThrow(/shutting down/);
  });
});

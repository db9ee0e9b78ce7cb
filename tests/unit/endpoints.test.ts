import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createEndpointService, type EndpointChange } from "../../src-main/core/endpoints/endpointService";
import { normalizeEndpointUrl, routeBaseOf } from "../../src-main/core/endpoints/endpointUrl";
import { createHealthChecker } from "../../src-main/core/endpoints/healthChecker";
import type { ProbeOptions } from "../../src-main/core/endpoints/probeEndpoint";
import { createNodeHealth } from "../../src-main/core/nodes/nodeHealth";
import { AppError, toHttpError } from "../../src-main/shared/errors";
import { createLogger } from "../../src-main/shared/logger";
import { createEndpointRepository } from "../../src-main/core/registry/endpointRepository";
import { migrations } from "../../src-main/core/registry/migrations";
import { openDatabase } from "../../src-main/core/registry/openDatabase";
import { createRegistryVersion } from "../../src-main/core/registry/registryVersion";
import { makeTempDir } from "../helpers/tempDir";
import { olderDatabase } from "../helpers/olderDatabase";

const log = createLogger({ level: "silent" });

describe("normalizeEndpointUrl", () => {
  it.each([
    ["http://127.0.0.1:8000", "http://127.0.0.1:8000/v1"],
    ["http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1"],
    ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"],
    ["http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1"],
    ["HTTPS://API.Example.com/openai//", "https://api.example.com/openai/v1"],
    ["https://api.example.com:443/openai/v1", "https://api.example.com/openai/v1"],
    ["  http://[::1]:11434  ", "http://[::1]:11434/v1"],
  ])("%s → %s", (input, expected) => {
    expect(normalizeEndpointUrl(input)).toBe(expected);
  });

  it.each([
    ["not a url", /is not a URL/],
    ["ftp://host/v1", /must be http or https, not ftp/],
    ["http://user:secret@host/v1", /must not carry credentials: pass the key as api_key/],
    ["http://host/v1?key=1", /must not have a query or a fragment/],
    ["http://host/v1?", /must not have a query or a fragment/],
    ["http://host/v1#x", /must not have a query or a fragment/],
  ])("refuses %s", (input, message) => {
    const error = (() => {
      try {
        normalizeEndpointUrl(input);
      } catch (caught) {
        return caught as AppError;
      }
    })();
    expect(error).toBeInstanceOf(AppError);
    expect(error?.message).toMatch(message);
    expect(toHttpError(error!).status).toBe(400);
    expect(error?.param).toBe("url");
  });

  it("routes to the base without /v1, so the balancer's /v1/... path lands under the prefix", () => {
    expect(routeBaseOf("https://api.example.com/openai/v1")).toBe("https://api.example.com/openai");
    expect(routeBaseOf("http://127.0.0.1:8000/v1")).toBe("http://127.0.0.1:8000");
  });
});

describe("health checker", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("never runs a second check of a target while one is in flight", async () => {
    let calls = 0;
    let finish = () => {};
    const checker = createHealthChecker({
      intervalMs: 100,
      log,
      check: () => {
        calls++;
        return new Promise<void>((resolve) => (finish = resolve));
      },
    });
    checker.watch("a", 0);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(1);
    finish();
    await vi.advanceTimersByTimeAsync(99);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    checker.dispose();
  });

  it("aborts the running check when the target is unwatched, and checks it no more", async () => {
    let calls = 0;
    const signals: AbortSignal[] = [];
    const checker = createHealthChecker({
      intervalMs: 100,
      log,
      check: (_id, signal) => {
        calls++;
        signals.push(signal);
        return new Promise<void>((_resolve, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason)),
        );
      },
    });
    checker.watch("a", 0);
    await vi.advanceTimersByTimeAsync(0);
    checker.unwatch("a");
    expect(signals[0]?.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(1);
  });
});

describe("endpoint service", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  function setup(answers: { models: string[] | Error }) {
    const db = openDatabase({ file: ":memory:", log });
    const registryVersion = createRegistryVersion();
    const changes: EndpointChange[] = [];
    const probes: ProbeOptions[] = [];
    const service = createEndpointService({
      endpoints: createEndpointRepository(db),
      registryVersion,
      clock: { now: () => Date.now() },
      log,
      nodeHealth: createNodeHealth({ clock: { now: () => Date.now() }, log }),
      healthIntervalMs: 1000,
      onChange: (change) => changes.push(change),
      probe: async (options) => {
        probes.push(options);
        if (answers.models instanceof Error) throw answers.models;
        return { models: answers.models, instance: null };
      },
    });
    return { db, service, changes, probes, registryVersion };
  }

  /** The service as a restarted llmlb builds it on the same database, its servers listing `models`. */
  function reopened(db: ReturnType<typeof openDatabase>, models: string[], probes: ProbeOptions[] = []) {
    return createEndpointService({
      endpoints: createEndpointRepository(db),
      registryVersion: createRegistryVersion(),
      clock: { now: () => Date.now() },
      log,
      nodeHealth: createNodeHealth({ clock: { now: () => Date.now() }, log }),
      probe: async (options) => {
        probes.push(options);
        return { models, instance: null };
      },
    });
  }

  it("routes a model to the endpoints that list it while they are online, and says why not otherwise", async () => {
    const answers: { models: string[] | Error } = { models: ["a", "b"] };
    const { service, changes, registryVersion, probes } = setup(answers);
    const added = await service.add({ name: "vllm", url: "http://h:8000/proxy/", api_key: "sk-1" });
    expect(added).toMatchObject({ url: "http://h:8000/proxy/v1", status: "online", models: ["a", "b"] });
    expect(probes[0]).toMatchObject({ url: "http://h:8000/proxy/v1", apiKey: "sk-1" });
    expect(changes).toEqual([{ endpointId: added.id, removed: false, models: ["a", "b"] }]);
    expect(service.routesFor("a")).toEqual([
      { id: added.id, name: "vllm", kind: "endpoint", url: "http://h:8000/proxy", token: "sk-1", slots: 4 },
    ]);
    expect(service.routesFor("c")).toEqual([]);
    const version = registryVersion.current();

    answers.models = new AppError(
      "endpoint.unreachable",
      "Cannot reach http://h:8000/proxy/v1: connection refused.",
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(service.list().data[0]).toMatchObject({
      status: "offline",
      last_error: "Cannot reach http://h:8000/proxy/v1: connection refused.",
      models: ["a", "b"],
    });
    expect(service.routesFor("a")).toEqual([]);
    expect(registryVersion.current()).toBeGreaterThan(version);
    expect(changes).toHaveLength(2);
    const why = service.unavailable("a");
    expect(toHttpError(why!).status).toBe(503);
    expect(why?.message).toBe(
      "Model a is served only by an endpoint that is offline (vllm: Cannot reach http://h:8000/proxy/v1: connection refused). Retry later.",
    );
    expect(service.unavailable("c")).toBeUndefined();

    // Still down: nothing to tell anyone.
    await vi.advanceTimersByTimeAsync(1000);
    expect(changes).toHaveLength(2);

    answers.models = ["b", "c"];
    await vi.advanceTimersByTimeAsync(1000);
    expect(service.routesFor("c")).toHaveLength(1);
    expect(changes[2]).toEqual({ endpointId: added.id, removed: false, models: ["a", "b", "c"] });

    answers.models = ["c", "d"];
    await vi.advanceTimersByTimeAsync(1000);
    expect(changes[3]).toEqual({ endpointId: added.id, removed: false, models: ["d", "b"] });
    expect(service.routesFor("b")).toEqual([]);
    service.dispose();
  });

  it("restores endpoints from the database and checks them at once", async () => {
    const { db, service } = setup({ models: ["a"] });
    await service.add({ name: "ollama", url: "http://h:11434" });
    service.dispose();
    const probes: ProbeOptions[] = [];
    const again = reopened(db, ["a", "z"], probes);
    expect(again.routesFor("a")).toEqual([
      { id: expect.any(String), name: "ollama", kind: "endpoint", url: "http://h:11434", slots: 4 },
    ]);
    await vi.advanceTimersByTimeAsync(0);
    expect(probes).toHaveLength(1);
    expect(again.list().data[0]?.models).toEqual(["a", "z"]);
    again.dispose();
  });

  it("records nothing for an endpoint removed while its check runs", async () => {
    const { service, changes } = setup({ models: ["a"] });
    const added = await service.add({ name: "x", url: "http://h" });
    service.remove("x");
    expect(changes.at(-1)).toEqual({ endpointId: added.id, removed: true, models: ["a"] });
    await vi.advanceTimersByTimeAsync(5000);
    expect(service.list().data).toEqual([]);
    expect(changes).toHaveLength(2);
    expect(() => service.remove(added.id)).toThrow(/no endpoint named or with id/);
  });

  it("sends an endpoint as many requests at once as its parallel says, kept across restarts and changed in place", async () => {
    const { db, service, changes } = setup({ models: ["a"] });
    const added = await service.add({ name: "vllm", url: "http://h:8000", parallel: 32 });
    expect(added.parallel).toBe(32);
    expect(service.routesFor("a")).toEqual([expect.objectContaining({ id: added.id, slots: 32 })]);
    expect(service.asNodes()[0]).toMatchObject({ name: "vllm", parallel: 32 });

    const before = changes.length;
    await expect(service.update("vllm", { parallel: 2 })).resolves.toMatchObject({
      id: added.id,
      parallel: 2,
    });
    expect(service.routesFor("a")).toEqual([expect.objectContaining({ slots: 2 })]);
    // Listings (and the dashboard, through them) hear of it; the models it serves did not change.
    expect(changes.slice(before)).toEqual([{ endpointId: added.id, removed: false, models: [] }]);
    await expect(service.update("nope", { parallel: 2 })).rejects.toThrow(
      /no endpoint named or with id nope/,
    );
    service.dispose();

    const again = reopened(db, ["a"]);
    expect(again.list().data[0]?.parallel).toBe(2);
    expect(again.routesFor("a")).toEqual([expect.objectContaining({ slots: 2 })]);
    again.dispose();
  });

  it("reads an endpoint stored before parallel existed as taking the default 4", async () => {
    const temp = await makeTempDir();
    try {
      const file = path.join(temp.path, "llmlb.db");
      const before = migrations.findIndex((migration) => /endpoints ADD COLUMN parallel/.test(migration));
      expect(before).toBeGreaterThan(0);
      const old = olderDatabase(file, before);
      old
        .prepare(
          `INSERT INTO endpoints (id, name, url, status, models, created_at) VALUES ('ep_1', 'vllm', 'http://h:8000/v1', 'online', '["a"]', '2026-01-01T00:00:00.000Z')`,
        )
        .run();
      old.close();

      const db = openDatabase({ file, log });
      const service = reopened(db, ["a"]);
      expect(service.list().data).toEqual([expect.objectContaining({ name: "vllm", parallel: 4 })]);
      expect(service.routesFor("a")).toEqual([expect.objectContaining({ id: "ep_1", slots: 4 })]);
      service.dispose();
      db.close();
    } finally {
      await temp.remove();
    }
  });
});

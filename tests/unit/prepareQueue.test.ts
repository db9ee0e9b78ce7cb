import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import type { Manifest, Model } from "../../src-main/contract";
import { createLogger } from "../../src-main/shared/logger";
import { createPrepareQueue } from "../../src-main/worker/agent/prepareQueue";
import type { ControlPlaneClient } from "../../src-main/worker/controlPlaneClient";
import type { DownloadLedger } from "../../src-main/worker/downloadLedger";
import type { MemoryProbe } from "../../src-main/worker/memory";
import type { WorkerConfig } from "../../src-main/worker/workerConfig";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { tempDirForEachTest } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

// The node's prepare queue on its own, its clock injected: when a model that failed is tried again,
// and what a retry or a new token changes. The control plane is a stand-in that refuses manifests.

const model = (name: string, nodes: string[] = []) =>
  ({ name, settings: { nodes, context_size: null, parallel: null }, artifacts: [] }) as unknown as Model;

function setup(crashedModels: WorkerConfig["crashedModels"] = []) {
  let now = 1_000_000;
  const asked: string[] = [];
  const dropped: string[] = [];
  const queue = createPrepareQueue({
    config: {
      name: "box-cpu0",
      hfToken: undefined,
      crashedModels,
      hubCacheDir: "/nonexistent",
    } as WorkerConfig,
    client: {
      manifest: async (id: string) => {
        asked.push(id);
        throw new Error("the hub is down");
      },
    } as unknown as ControlPlaneClient,
    memory: {} as MemoryProbe,
    ledger: {} as DownloadLedger,
    log: createLogger({ level: "silent" }),
    clock: { now: () => now },
    stopped: new AbortController().signal,
    onCrashCleared: (id) => dropped.push(id),
    reportNow: async () => {},
  });
  /** Lets the queue finish what it is at. */
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  return { queue, asked, dropped, settle, advance: (ms: number) => void (now += ms) };
}

describe("the prepare queue", () => {
  it("tries a failed model again only once its backoff is over: 15 s after the first failure, 30 s after the second", async () => {
    const { queue, asked, settle, advance } = setup();
    /** `ms` later, a sync: the registry's models reconciled, and what is pending prepared. */
    const syncAfter = async (ms: number) => {
      advance(ms);
      await queue.reconcile([model("org/a")]);
      queue.prepareNext();
      await settle();
    };
    await syncAfter(0);
    expect(asked).toEqual(["org/a"]);
    expect(queue.states()).toEqual([
      { model: "org/a", artifact: null, state: "error", message: "the hub is down" },
    ]);
    await syncAfter(14_000);
    expect(asked).toHaveLength(1);
    await syncAfter(1_000);
    expect(asked).toHaveLength(2);
    await syncAfter(29_000);
    expect(asked).toHaveLength(2);
    await syncAfter(1_000);
    expect(asked).toHaveLength(3);
  });

  it("tries at once on a retry or a new token, and not a model that crashed the worker until it is retried", async () => {
    const { queue, asked, dropped, settle } = setup([{ model: "org/crashy", message: "signal SIGABRT" }]);
    await queue.reconcile([model("org/a"), model("org/crashy")]);
    queue.prepareNext();
    await settle();
    expect(asked).toEqual(["org/a"]);
    expect(queue.states().find((state) => state.model === "org/crashy")).toMatchObject({
      state: "error",
      crashed: true,
    });

    queue.setHfToken("hf_new");
    await settle();
    expect(asked).toEqual(["org/a", "org/a"]);

    expect(queue.retry("org/crashy")).toBe(true);
    await settle();
    expect(dropped).toEqual(["org/crashy"]);
    expect(asked).toEqual(["org/a", "org/a", "org/crashy"]);
    expect(queue.retry("org/nothing")).toBe(false);
  });

  it("tracks only the models this node serves, and drops one pinned elsewhere", async () => {
    const { queue, settle } = setup();
    await queue.reconcile([model("org/a"), model("org/b", ["other-node"])]);
    await settle();
    expect(queue.states().map((state) => state.model)).toEqual(["org/a"]);
    await queue.reconcile([model("org/a", ["other-node"])]);
    expect(queue.states()).toEqual([]);
  });

  describe("after a restart", () => {
    const temp = tempDirForEachTest();

    it("serves a model whose file is in the cache at once, while another model downloads", async () => {
      const gguf = generateTinyGguf();
      const sha256 = createHash("sha256").update(gguf).digest("hex");
      // The hub: the cached model's file, and a download that never gets an answer.
      const hub = http.createServer((request, response) => {
        if (request.url?.endsWith("/cached.gguf")) response.writeHead(200).end(gguf);
      });
      await new Promise<void>((resolve) => hub.listen(0, "127.0.0.1", resolve));
      const base = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
      const manifestOf = (id: string): Manifest => {
        const filename = id === "org/cached" ? "cached.gguf" : "slow.gguf";
        return {
          model: id,
          repo: id,
          revision: "main",
          commit: "c".repeat(40),
          filename: null,
          artifacts: [
            {
              filename,
              format: "gguf",
              quantization: "Q8_0",
              size_bytes: gguf.length,
              sha256,
              split_group: null,
              url: `${base}/${id}/${filename}`,
            },
          ],
        };
      };
      const start = () => {
        const stopped = new AbortController();
        const queue = createPrepareQueue({
          config: { name: "box-cpu0", crashedModels: [], hubCacheDir: temp.path } as unknown as WorkerConfig,
          client: { manifest: async (id: string) => manifestOf(id) } as unknown as ControlPlaneClient,
          memory: { memory: async () => ({ total_bytes: 8e9, free_bytes: 8e9 }) } as MemoryProbe,
          ledger: { record: async () => {} } as unknown as DownloadLedger,
          log: createLogger({ level: "silent" }),
          clock: { now: () => Date.now() },
          stopped: stopped.signal,
          reportNow: async () => {},
        });
        const stateOf = (id: string) => queue.states().find((state) => state.model === id)?.state;
        return { queue, stateOf, stop: () => stopped.abort() };
      };
      try {
        const first = start();
        await first.queue.reconcile([model("org/cached")]);
        first.queue.prepareNext();
        await waitFor("the first download", () => first.stateOf("org/cached") === "ready");
        first.stop();

        // Started again, with a new model before it in line whose download hangs.
        const again = start();
        await again.queue.reconcile([model("org/slow"), model("org/cached")]);
        again.queue.prepareNext();
        await waitFor("the cached model ready", () => again.stateOf("org/cached") === "ready");
        expect(again.stateOf("org/slow")).toMatch(/^(pending|downloading)$/);
        again.stop();
      } finally {
        hub.closeAllConnections();
        await new Promise((resolve) => hub.close(resolve));
      }
    });
  });
});

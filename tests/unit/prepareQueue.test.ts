import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Manifest, Model } from "../../src-main/contract";
import { createLogger } from "../../src-main/shared/logger";
import { createPrepareQueue } from "../../src-main/worker/agent/prepareQueue";
import type { ControlPlaneClient } from "../../src-main/worker/controlPlaneClient";
import { repoCacheDir } from "../../src-main/worker/download";
import { openDownloadLedger, type DownloadLedger } from "../../src-main/worker/downloadLedger";
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
    // A model only an endpoint serves has no files for a node to download.
    const outside = { ...model("qwen-7b"), source: "endpoint" } as Model;
    await queue.reconcile([model("org/a"), model("org/b", ["other-node"]), outside]);
    await settle();
    expect(queue.states().map((state) => state.model)).toEqual(["org/a"]);
    await queue.reconcile([model("org/a", ["other-node"])]);
    expect(queue.states()).toEqual([]);
  });

  describe("with a hub and a Hugging Face cache", () => {
    const temp = tempDirForEachTest();
    const gguf = generateTinyGguf();
    const sha256 = createHash("sha256").update(gguf).digest("hex");
    let now = 1_000_000;
    const served: string[] = [];
    let hub: http.Server | undefined;
    let base = "";

    /** A hub that serves `gguf` as every file but slow.gguf, whose download never gets an answer. */
    beforeEach(async () => {
      served.length = 0;
      hub = http.createServer((request, response) => {
        served.push(request.url!);
        if (!request.url?.endsWith("/slow.gguf")) response.writeHead(200).end(gguf);
      });
      await new Promise<void>((resolve) => hub!.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
    });
    afterEach(async () => {
      hub!.closeAllConnections();
      await new Promise((resolve) => hub!.close(resolve));
    });

    /** org/big's file: 1 GiB, as another tool left it in the cache (its bytes are not what the hub says). */
    // Sparse, so nothing is written, but seconds to hash: the lanes are seen side by side, on a busy machine too.
    const big = { size: 2 ** 31, sha256: "f".repeat(64) };

    /** One file per model, `<name>.gguf`, said to have `gguf`'s sha256 (org/liar's says another). */
    const manifestOf = (id: string): Manifest => {
      const filename = `${id.split("/")[1]}.gguf`;
      if (id === "org/big") {
        const artifact = manifestOf("org/other").artifacts[0]!;
        return {
          ...manifestOf("org/other"),
          model: id,
          repo: id,
          artifacts: [
            {
              ...artifact,
              filename,
              size_bytes: big.size,
              sha256: big.sha256,
              url: `${base}/${id}/${filename}`,
            },
          ],
        };
      }
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
            sha256: id === "org/liar" ? "0".repeat(64) : sha256,
            split_group: null,
            url: `${base}/${id}/${filename}`,
          },
        ],
      };
    };

    /** A node's queue on the cache, as a worker process starts one. */
    // A ledger that takes every file in the cache for this node's own download (so checked already).
    const start = (
      ledger = {
        record: async () => true,
        owns: () => true,
        rememberChecked: async () => {},
        changedSinceChecked: async () => false,
        use: async () => {},
      } as unknown as DownloadLedger,
    ) => {
      const stopped = new AbortController();
      const queue = createPrepareQueue({
        config: { name: "box-cpu0", crashedModels: [], hubCacheDir: temp.path } as unknown as WorkerConfig,
        client: { manifest: async (id: string) => manifestOf(id) } as unknown as ControlPlaneClient,
        memory: { memory: async () => ({ total_bytes: 8e9, free_bytes: 8e9 }) } as MemoryProbe,
        ledger,
        log: createLogger({ level: "silent" }),
        clock: { now: () => now },
        stopped: stopped.signal,
        reportNow: async () => {},
      });
      const stateOf = (id: string) => queue.states().find((state) => state.model === id);
      /** Stops it as a node that exits does: once its download has let go of its files. */
      const stop = async () => {
        stopped.abort();
        await queue.settled();
      };
      return { queue, stateOf, stop };
    };

    it("after a restart, serves a model whose file is in the cache at once, while another downloads", async () => {
      const first = start();
      await first.queue.reconcile([model("org/cached")]);
      first.queue.prepareNext();
      await waitFor("the first download", () => first.stateOf("org/cached")?.state === "ready");
      await first.stop();

      // Started again, with a new model before it in line whose download hangs.
      const again = start();
      await again.queue.reconcile([model("org/slow"), model("org/cached")]);
      again.queue.prepareNext();
      await waitFor("the cached model ready", () => again.stateOf("org/cached")?.state === "ready");
      expect(again.stateOf("org/slow")?.state).toMatch(/^(pending|downloading)$/);
      await again.stop();
    });

    /** org/big's file as another tool left it in the cache: 1 GiB, holes that read as zeros. */
    const adoptBig = () =>
      leftInCache({ repo: "org/big", filename: "big.gguf", sha: big.sha256 }, (blob) => {
        fs.writeFileSync(blob, "");
        fs.truncateSync(blob, big.size);
      });

    /**
     * A file as another tool (huggingface-cli) leaves it in the cache: its blob, which `write` fills,
     * and a link to it in the snapshot of `commit` (the manifests' own by default). Says the blob's path.
     */
    const leftInCache = (
      file: { repo: string; filename: string; sha: string; commit?: string },
      write: (blob: string) => void,
    ): string => {
      const repoDir = repoCacheDir(temp.path, file.repo);
      const snapshot = path.join(repoDir, "snapshots", file.commit ?? "c".repeat(40));
      fs.mkdirSync(path.join(repoDir, "blobs"), { recursive: true });
      fs.mkdirSync(snapshot, { recursive: true });
      const blob = path.join(repoDir, "blobs", file.sha);
      write(blob);
      fs.symlinkSync(`../../blobs/${file.sha}`, path.join(snapshot, file.filename));
      return blob;
    };

    /** This node's download ledger, on the test's cache. */
    const openLedger = () =>
      openDownloadLedger(path.join(temp.path, "ledger.json"), temp.path, createLogger({ level: "silent" }));

    /** Downloads these models as a first run of the node would, then stops it. */
    const downloadFirst = async (ledger: DownloadLedger, ids: string[]) => {
      const first = start(ledger);
      await first.queue.reconcile(ids.map((id) => model(id)));
      first.queue.prepareNext();
      await waitFor("the first downloads", () => ids.every((id) => first.stateOf(id)?.state === "ready"));
      await first.stop();
    };

    it("hashes again a file of its own that changed on disk since, and downloads it again when its bytes are not the hub's", async () => {
      const ledger = await openLedger();
      await downloadFirst(ledger, ["org/mine"]);
      const blob = path.join(repoCacheDir(temp.path, "org/mine"), "blobs", sha256);
      // Bytes in the middle changed (a bad write, a tool's edit): same size, a new modification time.
      const bytes = fs.readFileSync(blob);
      const middle = Math.floor(bytes.length / 2);
      bytes[middle] = bytes[middle]! ^ 0xff;
      fs.writeFileSync(blob, bytes);
      served.length = 0;

      const again = start(ledger);
      await again.queue.reconcile([model("org/mine")]);
      again.queue.prepareNext();
      await waitFor("the model ready", () => again.stateOf("org/mine")?.state === "ready");
      await again.stop();
      expect(served).toEqual(["/org/mine/mine.gguf"]);
      expect(fs.readFileSync(blob).equals(gguf)).toBe(true);

      // Unchanged since, it is trusted as it is: no hashing, no download.
      served.length = 0;
      const third = start(ledger);
      await third.queue.reconcile([model("org/mine")]);
      third.queue.prepareNext();
      await waitFor("the model ready", () => third.stateOf("org/mine")?.state === "ready");
      await third.stop();
      expect(served).toEqual([]);
    });

    it("downloads a new model while it hashes a large file another tool put in the cache, first in line", async () => {
      const ledger = await openLedger();
      const own = ["org/cached-1", "org/cached-2", "org/cached-3", "org/cached-4"];
      await downloadFirst(ledger, own);
      adoptBig();
      // Started again: the large file first in line, models of its own in the cache (the two lanes
      // share them), a new one last.
      const node = start(ledger);
      await node.queue.reconcile([model("org/big"), ...own.map((id) => model(id)), model("org/fresh")]);
      node.queue.prepareNext();
      await waitFor("the new model downloaded", () => node.stateOf("org/fresh")?.state === "ready");
      expect(node.stateOf("org/big")?.state).toMatch(/^(pending|verifying)$/);
      await waitFor("the large file refused", () => node.stateOf("org/big")?.state === "error", {
        timeoutMs: 90_000,
      });
      await node.stop();
    }, 120_000);

    it("serves a cached model of its own at once while it hashes a large file another tool put in the cache", async () => {
      const ledger = await openLedger();
      await downloadFirst(ledger, ["org/cached"]);
      // Meanwhile another tool put org/big in the cache.
      adoptBig();

      // Started again, a download that hangs first in line, then the large file: the model of its own
      // is ready before that hash ends, and the hash does not wait for the download.
      const again = start(ledger);
      await again.queue.reconcile([model("org/slow")]);
      again.queue.prepareNext();
      await waitFor("the download under way", () => served.some((url) => url.endsWith("/slow.gguf")));
      await again.queue.reconcile([model("org/slow"), model("org/big"), model("org/cached")]);
      again.queue.prepareNext();
      await waitFor("the cached model ready", () => again.stateOf("org/cached")?.state === "ready");
      expect(again.stateOf("org/big")?.state).toMatch(/^(pending|verifying)$/);
      const refused = await waitFor(
        "the large file refused",
        () => again.stateOf("org/big")?.state === "error" && again.stateOf("org/big"),
        { timeoutMs: 90_000 },
      );
      expect(refused).toMatchObject({ message: expect.stringContaining("is not the file the hub lists") });
      expect(again.stateOf("org/slow")?.state).toMatch(/^(pending|downloading)$/);
      await again.stop();
      expect(served.filter((url) => url.includes("big"))).toEqual([]);
    }, 120_000);

    it("does not claim a file another tool fetched at another commit: removing the model leaves it", async () => {
      // huggingface-cli fetched the file at an older commit (the repo changed since, not this file).
      const blob = leftInCache(
        { repo: "org/adopted", filename: "adopted.gguf", sha: sha256, commit: "o".repeat(40) },
        (at) => fs.writeFileSync(at, gguf),
      );
      const ledger = await openLedger();
      const node = start(ledger);
      await node.queue.reconcile([model("org/adopted")]);
      node.queue.prepareNext();
      await waitFor("the model ready", () => node.stateOf("org/adopted")?.state === "ready");
      await node.stop();
      expect(served).toEqual([]);
      // The model removed: nothing of it is this node's to delete.
      expect(await ledger.prune(new Set(), new Set([sha256]))).toEqual([]);
      expect(fs.existsSync(blob)).toBe(true);
    });

    it("checks the bytes of a file another tool put in the cache, and serves none of the wrong ones", async () => {
      // Another file's bytes under this one's name, of the same size (a copy damaged, a tool's mistake).
      const wrong = Buffer.from(gguf);
      wrong[wrong.length - 1] = wrong.at(-1)! ^ 0xff;
      const blob = leftInCache({ repo: "org/mislabeled", filename: "mislabeled.gguf", sha: sha256 }, (at) =>
        fs.writeFileSync(at, wrong),
      );
      const ledger = await openLedger();
      const node = start(ledger);
      await node.queue.reconcile([model("org/mislabeled")]);
      node.queue.prepareNext();
      const failed = await waitFor("the model failed", () => {
        const state = node.stateOf("org/mislabeled");
        return state?.state === "error" && state;
      });
      await node.stop();
      expect(failed.message).toContain("mislabeled.gguf in the model cache");
      expect(failed.message).toContain("is not the file the hub lists");
      expect(failed.waits_for_retry).toBe(true);
      // Not this node's to delete, nor fetched again over it.
      expect(fs.readFileSync(blob).equals(wrong)).toBe(true);
      expect(served).toEqual([]);
    });

    it("says which download a queued model waits for, and that the download under way has begun", async () => {
      const node = start();
      await node.queue.reconcile([model("org/slow")]);
      node.queue.prepareNext();
      // The hub has not answered its download yet: it is under way all the same, from 0.
      await waitFor("org/slow's download", () => node.stateOf("org/slow")?.state === "downloading");
      expect(node.stateOf("org/slow")).toMatchObject({ bytes_done: 0, bytes_per_second: 0 });

      await node.queue.reconcile([model("org/slow"), model("org/second")]);
      node.queue.prepareNext();
      await waitFor("org/second looked up in the cache and queued", () => {
        const state = node.stateOf("org/second");
        return state?.state === "pending" && state.queued_behind !== undefined;
      });
      expect(node.stateOf("org/second")).toEqual({
        model: "org/second",
        artifact: null,
        state: "pending",
        queued_behind: "org/slow",
      });

      // Once org/slow is gone, org/second is next and no longer waits for it.
      await node.queue.reconcile([model("org/second")]);
      await waitFor("org/second ready", () => node.stateOf("org/second")?.state === "ready");
      expect(node.stateOf("org/second")).not.toHaveProperty("queued_behind");
      await node.stop();
    });

    it("stops downloading a file that failed verification twice, until it is retried", async () => {
      const node = start();
      const fetched = () => served.filter((url) => url.endsWith("/liar.gguf")).length;
      const sync = async (laterMs: number) => {
        now += laterMs;
        await node.queue.reconcile([model("org/liar")]);
        node.queue.prepareNext();
      };
      await sync(0);
      await waitFor("the first check to fail", () => node.stateOf("org/liar")?.state === "error");
      expect(node.stateOf("org/liar")).toMatchObject({
        message: expect.stringContaining("failed verification"),
      });
      expect(node.stateOf("org/liar")).not.toHaveProperty("waits_for_retry");

      // A mirror's hiccup is given one more try, after the usual 15 s.
      await sync(15_000);
      await waitFor(
        "the second download",
        () => fetched() === 2 && node.stateOf("org/liar")?.state === "error",
      );
      const told = node.stateOf("org/liar") as { message: string };
      // It says it waits for a retry by hand, so the dashboard offers one instead of "(retrying)".
      expect(told).toMatchObject({ state: "error", waits_for_retry: true });
      expect(told.message).toContain(
        "It failed verification 2 times, so this node stops downloading it: once the hub's file is fixed, retry it (llmlb model retry org/liar, or Retry on the Models page).",
      );
      expect(told.message).not.toContain("try again");

      await sync(60 * 60_000);
      expect(node.stateOf("org/liar")?.state).toBe("error");
      expect(fetched()).toBe(2);

      expect(node.queue.retry("org/liar")).toBe(true);
      await waitFor("a download on request", () => fetched() === 3);
      await node.stop();
    });
  });
});

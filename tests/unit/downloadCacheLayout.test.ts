import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireBlobLock } from "../../src-main/worker/download/blobLock";
import { cachePaths, isInside, snapshotLinkTarget } from "../../src-main/shared/hfCachePaths";
import { contiguousBytes, planPieces } from "../../src-main/worker/download/partialState";
import { publishSnapshot } from "../../src-main/worker/download/snapshotLink";

const log = pino({ level: "silent" });
const commit = "c".repeat(40);
const sha = "a".repeat(64);

describe("cache paths", () => {
  it("follow huggingface_hub's layout", () => {
    const paths = cachePaths("/cache", {
      repo: "org/name",
      revision: "v1",
      commit,
      filename: "x.gguf",
      sha256: sha,
    });
    expect(paths).toMatchObject({
      repoDir: "/cache/models--org--name",
      blob: `/cache/models--org--name/blobs/${sha}`,
      partial: `/cache/models--org--name/blobs/${sha}.incomplete`,
      snapshot: `/cache/models--org--name/snapshots/${commit}/x.gguf`,
      ref: "/cache/models--org--name/refs/v1",
    });
    expect(
      cachePaths("/cache", { repo: "o/n", revision: commit, commit, filename: "x", sha256: sha }).ref,
    ).toBe(undefined);
  });

  it("link snapshots relatively, one more ../ per folder level", () => {
    const blob = `/c/models--o--n/blobs/${sha}`;
    expect(snapshotLinkTarget(`/c/models--o--n/snapshots/${commit}/x.gguf`, blob)).toBe(`../../blobs/${sha}`);
    expect(snapshotLinkTarget(`/c/models--o--n/snapshots/${commit}/a/b/x.gguf`, blob)).toBe(
      `../../../../blobs/${sha}`,
    );
  });

  it("tell inside from outside lexically", () => {
    expect(isInside("/c", "/c/models--o--n/blobs/x")).toBe(true);
    expect(isInside("/c", "/c")).toBe(true);
    expect(isInside("/c", "/c/../etc/passwd")).toBe(false);
    expect(isInside("/c", "/cache2/x")).toBe(false);
  });
});

describe("planPieces", () => {
  const MiB = 1024 * 1024;

  it("keeps small files in one stream", () => {
    expect(planPieces(100 * MiB, 4, 32 * MiB)).toEqual([{ start: 0, end: 100 * MiB, done: 0 }]);
    expect(planPieces(0, 4, 32 * MiB)).toEqual([{ start: 0, end: 0, done: 0 }]);
  });

  it("gives every connection the same number of pieces that tile the file", () => {
    const pieces = planPieces(1000 * MiB + 3, 4, 32 * MiB);
    expect(pieces).toHaveLength(16);
    expect(pieces[0]?.start).toBe(0);
    expect(pieces.at(-1)?.end).toBe(1000 * MiB + 3);
    pieces.slice(1).forEach((piece, i) => expect(piece.start).toBe(pieces[i]?.end));
  });

  it("counts a single-stream prefix as done in the pieces it covers", () => {
    const pieces = planPieces(8 * MiB, 4, 2 * MiB, 3 * MiB);
    expect(pieces.map((p) => p.done)).toEqual([2 * MiB, 1 * MiB, 0, 0]);
    expect(contiguousBytes(pieces)).toBe(3 * MiB);
  });
});

describe("on disk", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "llmlb-dl-unit-"));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("copies the blob into the snapshot when symlinks are refused", async () => {
    const paths = cachePaths(dir, {
      repo: "o/n",
      revision: "main",
      commit,
      filename: "a/x.gguf",
      sha256: sha,
    });
    await fs.mkdir(path.dirname(paths.blob), { recursive: true });
    await fs.writeFile(paths.blob, "weights");
    const refuse = async () => {
      throw Object.assign(new Error("symlinks not allowed"), { code: "EPERM" });
    };
    await publishSnapshot(paths, commit, 7, log, refuse);
    expect((await fs.lstat(paths.snapshot)).isFile()).toBe(true);
    expect(await fs.readFile(paths.snapshot, "utf8")).toBe("weights");
    expect(await fs.readFile(paths.ref!, "utf8")).toBe(commit);
  });

  it("takes over a lock whose process is gone, or whose pid is ours without our token", async () => {
    const lock = path.join(dir, `${sha}.lock`);
    for (const holder of [
      { pid: 2 ** 22 + 12345, host: os.hostname(), token: "dead" },
      { pid: process.pid, host: os.hostname(), token: "a-previous-life" },
    ]) {
      await fs.writeFile(lock, JSON.stringify(holder));
      const taken = await acquireBlobLock(lock, { signal: AbortSignal.timeout(5000), log });
      expect(JSON.parse(await fs.readFile(lock, "utf8"))).toMatchObject({ pid: process.pid });
      await taken.release();
      expect(await fs.readdir(dir)).toEqual([]);
    }
  });

  it("waits for a live holder: until it releases, or until aborted", async () => {
    const lock = path.join(dir, `${sha}.lock`);
    const held = await acquireBlobLock(lock, {
      signal: new AbortController().signal,
      log,
      by: "llmlb worker box-cpu1",
    });
    const controller = new AbortController();
    const giveUp = acquireBlobLock(lock, { signal: controller.signal, log, pollMs: 10 });
    controller.abort();
    await expect(giveUp).rejects.toMatchObject({ name: "AbortError" });

    // Waiting, it says for whom, once: what the node reports for the model meanwhile.
    const told: string[] = [];
    let saidIt!: () => void;
    const said = new Promise<void>((resolve) => (saidIt = resolve));
    const next = acquireBlobLock(lock, {
      signal: new AbortController().signal,
      log,
      pollMs: 10,
      onWaiting: (why) => {
        told.push(why);
        saidIt();
      },
    });
    await said;
    expect(told).toEqual([
      `another download of this file into the same cache (llmlb worker box-cpu1 on ${os.hostname()}); this node uses it once done`,
    ]);
    await held.release();
    const taken = await next;
    expect(told).toHaveLength(1);
    expect(await fs.readdir(dir)).toEqual([`${sha}.lock`]);
    await taken.release();
    expect(await fs.readdir(dir)).toEqual([]);
  });
});

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { pino, type Logger } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  cachedSnapshotPath,
  DownloadError,
  downloadToHfCache,
  repoCacheDir,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadRequest,
} from "../../src-main/worker/download";
import { sha256Hex, startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { seededBytes } from "../helpers/seededBytes";
import { waitFor } from "../helpers/waitFor";

const root = path.resolve(import.meta.dirname, "../..");
const MODULE = path.join(root, "src-main/worker/download/index.ts");

const MiB = 1024 * 1024;
const REPO = "test-org/dl-GGUF";
const GATED = "test-org/gated-dl-GGUF";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const MODEL = seededBytes(3 * MiB + 4097, "model");
const NESTED = seededBytes(200_000, "nested");
const GATED_FILE = seededBytes(100_000, "gated");
const OTHER_REPO = "test-org/other-dl-GGUF";
const OTHER = seededBytes(3 * MiB + 4097, "other");

let hub: FakeHub;
let parent: string;
let cacheDir: string;
const silent = pino({ level: "silent" });
const children = new Set<ChildProcess>();

beforeAll(async () => {
  hub = await startFakeHub({
    repos: [
      {
        id: REPO,
        sha: COMMIT,
        files: [
          { path: "model-Q4_K_M.gguf", content: MODEL },
          { path: "sub/dir/nested-Q8_0.gguf", content: NESTED },
        ],
      },
      { id: GATED, sha: COMMIT, gated: true, files: [{ path: "g-Q4_K_M.gguf", content: GATED_FILE }] },
      { id: OTHER_REPO, sha: COMMIT, files: [{ path: "other-Q4_K_M.gguf", content: OTHER }] },
    ],
  });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(async () => {
  hub.clearFaults();
  hub.resetStats();
  parent = await fs.mkdtemp(path.join(os.tmpdir(), "llmlb-dl-test-"));
  cacheDir = path.join(parent, "hub");
  await fs.mkdir(cacheDir);
});
afterEach(async () => {
  // A child left running by a failed test must not hold the cache or the hub.
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
  await fs.rm(parent, { recursive: true, force: true });
});

function requestFor(
  filename = "model-Q4_K_M.gguf",
  content: Buffer = MODEL,
  overrides: Partial<DownloadRequest> = {},
): DownloadRequest {
  const repo = overrides.repo ?? REPO;
  return {
    repo,
    revision: "main",
    commit: COMMIT,
    filename,
    url: `${hub.url}/${repo}/resolve/${COMMIT}/${filename.split("/").map(encodeURIComponent).join("/")}`,
    size: content.length,
    sha256: sha256Hex(content),
    ...overrides,
  };
}

function options(extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return { cacheDir, log: silent, retryBaseDelayMs: 5, ...extra };
}

const blobsDir = () => path.join(repoCacheDir(cacheDir, REPO), "blobs");
const partialOf = (content: Buffer) => path.join(blobsDir(), `${sha256Hex(content)}.incomplete`);

/** Requests of the file's body (the CDN answers), as opposed to the hub's redirects. */
function bodyRequests() {
  return hub.requests.filter((r) => r.path.startsWith("/cdn-lfs/"));
}

async function expectDownloadError(promise: Promise<unknown>, code: string): Promise<DownloadError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DownloadError);
  expect((error as DownloadError).code).toBe(code);
  return error as DownloadError;
}

/** A logger whose lines reach `onLine`, to react to what the downloader reports (e.g. a retry). */
function watchingLogger(onLine: (line: { msg: string; [key: string]: unknown }) => void): Logger {
  return pino({ level: "info" }, { write: (text: string) => onLine(JSON.parse(text)) });
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  );
}

describe("downloadToHfCache", () => {
  it("fills the standard HF cache layout with the exact bytes", async () => {
    const progress: DownloadProgress[] = [];
    const result = await downloadToHfCache(requestFor(), options({ onProgress: (p) => progress.push(p) }));

    const repoDir = path.join(cacheDir, "models--test-org--dl-GGUF");
    const sha = sha256Hex(MODEL);
    expect(result).toEqual({
      snapshotPath: path.join(repoDir, "snapshots", COMMIT, "model-Q4_K_M.gguf"),
      blobPath: path.join(repoDir, "blobs", sha),
      fetchedBytes: MODEL.length,
      alreadyCached: false,
    });
    expect(await fs.readlink(result.snapshotPath)).toBe(`../../blobs/${sha}`);
    expect((await fs.readFile(result.snapshotPath)).equals(MODEL)).toBe(true);
    expect(await fs.readFile(path.join(repoDir, "refs", "main"), "utf8")).toBe(COMMIT);
    // Nothing of the download's bookkeeping is left behind.
    expect(await fs.readdir(path.join(repoDir, "blobs"))).toEqual([sha]);
    expect(progress.at(-1)).toMatchObject({ bytesDone: MODEL.length, bytesTotal: MODEL.length });
    expect(await cachedSnapshotPath(cacheDir, requestFor())).toBe(result.snapshotPath);
  });

  it("links nested files one level deeper and writes no ref when the revision is the commit", async () => {
    const result = await downloadToHfCache(
      requestFor("sub/dir/nested-Q8_0.gguf", NESTED, { revision: COMMIT }),
      options(),
    );
    expect(await fs.readlink(result.snapshotPath)).toBe(`../../../../blobs/${sha256Hex(NESTED)}`);
    expect((await fs.readFile(result.snapshotPath)).equals(NESTED)).toBe(true);
    expect(await exists(path.join(repoCacheDir(cacheDir, REPO), "refs"))).toBe(false);
  });

  it("does not fetch a file it already has, and remakes a missing snapshot link", async () => {
    // (Its own earlier download, not another process's: `fetchedByAnother` stays unset.)
    const first = await downloadToHfCache(requestFor(), options());
    await fs.rm(first.snapshotPath);
    hub.resetStats();

    const second = await downloadToHfCache(requestFor(), options());
    expect(second).toMatchObject({ alreadyCached: true, fetchedBytes: 0, snapshotPath: first.snapshotPath });
    expect(hub.bytesServed()).toBe(0);
    expect(hub.requests).toEqual([]);
    expect((await fs.readFile(second.snapshotPath)).equals(MODEL)).toBe(true);
  });

  it("survives the connection being cut mid-file twice, fetching little more than the file", async () => {
    hub.setFaults({ cutAfterBytes: 1_000_000, cutTimes: 2 });
    const progress: DownloadProgress[] = [];
    const result = await downloadToHfCache(requestFor(), options({ onProgress: (p) => progress.push(p) }));
    // While a retry waits, nothing arrives: it says so (speed 0) instead of the last speed it had.
    const stalls = progress.filter(
      (p) => p.bytesPerSecond === 0 && p.bytesDone > 0 && p.bytesDone < MODEL.length,
    );
    expect(stalls.length).toBeGreaterThanOrEqual(2);
    // And why: the cut, in words (its code after them), gone again once bytes flow.
    for (const stall of stalls)
      expect(stall.interrupted).toMatch(
        /^the (server closed the connection|connection closed early|answer ended early) \([A-Z_]+\)$/,
      );
    expect(progress.at(-1)?.interrupted).toBeUndefined();
    expect((await fs.readFile(result.snapshotPath)).equals(MODEL)).toBe(true);
    expect(hub.bytesServed()).toBeLessThan(1.3 * MODEL.length);
    const bodies = bodyRequests();
    expect(bodies.length).toBe(3);
    expect(bodies[2]?.range).toMatch(/^bytes=\d+-$/);
  });

  it("sends a token set mid-download with its next request, as Settings says (used from now on)", async () => {
    hub.setFaults({ cutAfterBytes: 1_000_000, cutTimes: 1 });
    let token: string | undefined;
    const result = await downloadToHfCache(
      requestFor(),
      options({
        token: () => token,
        // Set once the first bytes came, before the cut makes it ask again.
        onProgress: (progress) => {
          if (progress.bytesDone > 0) token = hub.token;
        },
      }),
    );
    expect((await fs.readFile(result.snapshotPath)).equals(MODEL)).toBe(true);
    const bodies = hub.requests.filter((request) => request.status === 200 || request.status === 206);
    expect(bodies.length).toBeGreaterThanOrEqual(2);
    expect(bodies[0]?.authorization).toBeUndefined();
    expect(bodies.at(-1)?.authorization).toBe(`Bearer ${hub.token}`);
  });

  it("keeps the partial on abort and resumes it with Range and If-Range", async () => {
    hub.setFaults({ throttleBytesPerSecond: 4 * MiB });
    const controller = new AbortController();
    const aborted = downloadToHfCache(
      requestFor(),
      options({
        signal: controller.signal,
        onProgress: (p) => {
          if (p.bytesDone > 0 && p.bytesDone < p.bytesTotal) controller.abort();
        },
      }),
    );
    const error = await expectDownloadError(aborted, "aborted");
    expect(error.retryable).toBe(false);
    const kept = (await fs.stat(partialOf(MODEL))).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(MODEL.length);
    expect(await exists(`${path.join(blobsDir(), sha256Hex(MODEL))}.lock`)).toBe(false);

    hub.clearFaults();
    hub.resetStats();
    const result = await downloadToHfCache(requestFor(), options());
    expect((await fs.readFile(result.blobPath)).equals(MODEL)).toBe(true);
    expect(result.fetchedBytes).toBe(MODEL.length - kept);
    expect(hub.bytesServed()).toBe(MODEL.length - kept);
    // The validator is the one the CDN gave the first time (its ETag).
    expect(bodyRequests()[0]).toMatchObject({
      range: `bytes=${kept}-`,
      ifRange: `"${sha256Hex(MODEL)}"`,
      status: 206,
    });
  });

  it("says where it resumes before the server answers at all", async () => {
    await fs.mkdir(blobsDir(), { recursive: true });
    await fs.writeFile(partialOf(MODEL), MODEL.subarray(0, 1_234_567));
    // A server that takes the request and never answers: a hub that hangs.
    const silentServer = createServer(() => {});
    await new Promise<void>((resolve) => silentServer.listen(0, "127.0.0.1", resolve));
    const controller = new AbortController();
    try {
      const { port } = silentServer.address() as AddressInfo;
      const progress: DownloadProgress[] = [];
      const download = downloadToHfCache(
        requestFor("model-Q4_K_M.gguf", MODEL, { url: `http://127.0.0.1:${port}/model-Q4_K_M.gguf` }),
        options({ signal: controller.signal, onProgress: (p) => progress.push(p) }),
      );
      await waitFor("a first report", () => progress.length > 0);
      expect(progress[0]).toEqual({ bytesDone: 1_234_567, bytesTotal: MODEL.length, bytesPerSecond: 0 });
      controller.abort();
      await expectDownloadError(download, "aborted");
    } finally {
      silentServer.closeAllConnections();
      await new Promise((resolve) => silentServer.close(resolve));
    }
  });

  it("resumes a partial left by huggingface_hub (no sidecar) from its length", async () => {
    await fs.mkdir(blobsDir(), { recursive: true });
    await fs.writeFile(partialOf(MODEL), MODEL.subarray(0, 1_234_567));
    const result = await downloadToHfCache(requestFor(), options());
    expect((await fs.readFile(result.blobPath)).equals(MODEL)).toBe(true);
    expect(hub.bytesServed()).toBe(MODEL.length - 1_234_567);
    expect(bodyRequests()[0]?.range).toBe("bytes=1234567-");
  });

  it.each([
    ["one stream", {}],
    ["parallel segments", { segments: 4, minSegmentBytes: 256 * 1024 }],
  ])("a corrupted byte (%s) fails the checksum and leaves nothing behind", async (_label, extra) => {
    hub.setFaults({ flipByteAt: 2_000_000 });
    const corrupted = Buffer.from(MODEL);
    corrupted[2_000_000] = (corrupted[2_000_000] ?? 0) ^ 0xff;
    const error = await expectDownloadError(downloadToHfCache(requestFor(), options(extra)), "checksum");
    expect(error.message).toContain(sha256Hex(MODEL));
    expect(error.message).toContain(sha256Hex(corrupted));
    expect(await fs.readdir(blobsDir())).toEqual([]);
    expect(await exists(path.join(repoCacheDir(cacheDir, REPO), "snapshots"))).toBe(false);
    expect(await cachedSnapshotPath(cacheDir, requestFor())).toBeUndefined();
  });

  it("waits out a 429 for its Retry-After, then succeeds", async () => {
    hub.setFaults({ downloadStatus: 429, retryAfterSeconds: 1 });
    const retries: Array<Record<string, unknown>> = [];
    const log = watchingLogger((line) => {
      if (line.msg.includes("retrying")) {
        retries.push(line);
        hub.clearFaults();
      }
    });
    const started = performance.now();
    const result = await downloadToHfCache(requestFor(), options({ log, retryBaseDelayMs: 10 }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect((await fs.readFile(result.blobPath)).equals(MODEL)).toBe(true);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ delayMs: 1000, attempt: 1 });
    expect(hub.requests.map((r) => r.status)).toEqual([429, 302, 200]);
  });

  it("retries 500s and gives up after the configured attempts as a retryable network error", async () => {
    hub.setFaults({ downloadStatus: 500 });
    const error = await expectDownloadError(
      downloadToHfCache(requestFor(), options({ retries: 3 })),
      "network",
    );
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/after 3 attempts/);
    expect(hub.requests.map((r) => r.status)).toEqual([500, 500, 500]);
  });

  it("recovers when the 500s stop", async () => {
    hub.setFaults({ downloadStatus: 503 });
    let failures = 0;
    const log = watchingLogger((line) => {
      if (line.msg.includes("retrying") && ++failures === 2) hub.clearFaults();
    });
    const result = await downloadToHfCache(requestFor(), options({ log }));
    expect((await fs.readFile(result.blobPath)).equals(MODEL)).toBe(true);
    expect(hub.requests.filter((r) => r.status === 503)).toHaveLength(2);
  });

  it("a gated repo without a token says to set one and accept the terms; with it, it downloads", async () => {
    const request = requestFor("g-Q4_K_M.gguf", GATED_FILE, { repo: GATED });
    const error = await expectDownloadError(downloadToHfCache(request, options()), "unauthorized");
    expect(error.message).toContain("HF_TOKEN");
    expect(error.message).toContain("Settings");
    expect(error.message).toMatch(/accept/i);
    expect(error.message).toContain(`https://huggingface.co/${GATED}`);

    // A token the hub refuses: it says so, rather than to set one.
    const refused = await expectDownloadError(
      downloadToHfCache(request, options({ token: "hf_revoked" })),
      "unauthorized",
    );
    expect(refused.message).toMatch(/^The Hugging Face Hub refused the token set for llmlb access to /);
    expect(refused.message).toContain("accept its terms");

    const result = await downloadToHfCache(request, options({ token: hub.token }));
    expect((await fs.readFile(result.snapshotPath)).equals(GATED_FILE)).toBe(true);
    expect(hub.requests.find((r) => r.status === 302)?.authorization).toBe(`Bearer ${hub.token}`);
  });

  it("sends the token to the hub's origin only, not to a download server elsewhere", async () => {
    // Here the "hub" is a redirector and the fake hub plays the other origin (a CDN).
    const seen: Array<string | undefined> = [];
    const redirector = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(302, { location: requestFor().url }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = redirector.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}/${REPO}/resolve/${COMMIT}/model-Q4_K_M.gguf`;
      const result = await downloadToHfCache({ ...requestFor(), url }, options({ token: hub.token }));
      expect((await fs.readFile(result.blobPath)).equals(MODEL)).toBe(true);
      expect(seen).toEqual([`Bearer ${hub.token}`]);
      expect(hub.requests.length).toBeGreaterThan(0);
      expect(hub.requests.every((r) => r.authorization === undefined)).toBe(true);
    } finally {
      redirector.closeAllConnections();
      await new Promise((resolve) => redirector.close(resolve));
    }
  });

  it("a file missing on the hub is not_found", async () => {
    const request = requestFor("missing-Q4_K_M.gguf", NESTED);
    const error = await expectDownloadError(downloadToHfCache(request, options()), "not_found");
    expect(error.message).toContain("missing-Q4_K_M.gguf");
    // Nothing fetched, nothing left to resume: no empty partial or its notes in the cache.
    const left = await fs.readdir(blobsDir()).catch(() => []);
    expect(left.filter((name) => name.startsWith(sha256Hex(NESTED)))).toEqual([]);
  });

  it("restarts cleanly from zero when the server ignores Range on resume", async () => {
    // A partial whose bytes are wrong: concatenating anything to it could never verify.
    await fs.mkdir(blobsDir(), { recursive: true });
    await fs.writeFile(partialOf(MODEL), Buffer.alloc(1_000_000, 7));
    hub.setFaults({ ignoreRange: true });
    const seen: DownloadProgress[] = [];
    const result = await downloadToHfCache(requestFor(), options({ onProgress: (p) => seen.push(p) }));
    expect((await fs.readFile(result.blobPath)).equals(MODEL)).toBe(true);
    expect(bodyRequests()[0]).toMatchObject({ range: "bytes=1000000-", status: 200 });
    expect(hub.bytesServed()).toBe(MODEL.length);
    // Its progress went back to 0, and said why.
    expect(seen[0]).toMatchObject({ bytesDone: 1_000_000 });
    expect(seen[1]).toMatchObject({ bytesDone: 0, restarted: expect.stringContaining("the whole file") });
  });

  it("downloads large files in parallel Range segments and verifies them", async () => {
    const result = await downloadToHfCache(
      requestFor(),
      options({ segments: 4, minSegmentBytes: 256 * 1024 }),
    );
    expect((await fs.readFile(result.blobPath)).equals(MODEL)).toBe(true);
    const ranges = bodyRequests().map((r) => r.range);
    expect(new Set(ranges).size).toBeGreaterThanOrEqual(4);
    expect(ranges.every((range) => /^bytes=\d+-\d+$/.test(range ?? ""))).toBe(true);
    expect(hub.bytesServed()).toBe(MODEL.length);
  });

  it("segments against a server that ignores Range fall back to one stream", async () => {
    hub.setFaults({ ignoreRange: true });
    const result = await downloadToHfCache(
      requestFor(),
      options({ segments: 4, minSegmentBytes: 256 * 1024 }),
    );
    expect((await fs.readFile(result.blobPath)).equals(MODEL)).toBe(true);
    expect(bodyRequests().at(-1)?.range).toBeUndefined();
  });

  it("two concurrent calls for the same blob fetch it once", async () => {
    const [a, b] = await Promise.all([
      downloadToHfCache(requestFor(), options()),
      downloadToHfCache(requestFor(), options()),
    ]);
    expect(a.snapshotPath).toBe(b.snapshotPath);
    expect([a.alreadyCached, b.alreadyCached].sort()).toEqual([false, true]);
    expect(bodyRequests()).toHaveLength(1);
    expect(hub.bytesServed()).toBe(MODEL.length);
  });

  it("tidies what a download killed right after publishing left beside a finished file", async () => {
    const first = await downloadToHfCache(requestFor(), options());
    const blob = await fs.realpath(first.snapshotPath);
    // Its sidecar, a partial and the lock of a process that is gone (no pid is this high on Linux).
    await fs.writeFile(`${blob}.incomplete.json`, "{}");
    await fs.writeFile(`${blob}.incomplete`, "stale");
    await fs.writeFile(
      `${blob}.lock`,
      JSON.stringify({ pid: 2 ** 22 + 5, host: os.hostname(), token: "gone" }),
    );

    const second = await downloadToHfCache(requestFor(), options());
    expect(second).toMatchObject({ alreadyCached: true, fetchedBytes: 0 });
    expect((await fs.readdir(path.dirname(blob))).sort()).toEqual([path.basename(blob)]);
  });

  it("uses a file another tool put in the cache, with or without symlinks", async () => {
    const repoDir = repoCacheDir(cacheDir, REPO);
    const sha = sha256Hex(MODEL);
    // huggingface_hub's layout: blob + relative link.
    await fs.mkdir(path.join(repoDir, "blobs"), { recursive: true });
    await fs.mkdir(path.join(repoDir, "snapshots", COMMIT), { recursive: true });
    await fs.writeFile(path.join(repoDir, "blobs", sha), MODEL);
    await fs.symlink(`../../blobs/${sha}`, path.join(repoDir, "snapshots", COMMIT, "model-Q4_K_M.gguf"));
    // …and its layout without symlinks (Windows): the file itself in the snapshot, no blob.
    const nestedSnapshot = path.join(repoDir, "snapshots", COMMIT, "sub", "dir", "nested-Q8_0.gguf");
    await fs.mkdir(path.dirname(nestedSnapshot), { recursive: true });
    await fs.writeFile(nestedSnapshot, NESTED);

    const model = await downloadToHfCache(requestFor(), options());
    const nested = await downloadToHfCache(requestFor("sub/dir/nested-Q8_0.gguf", NESTED), options());
    expect(model).toMatchObject({ alreadyCached: true, fetchedBytes: 0 });
    expect(nested).toMatchObject({ alreadyCached: true, fetchedBytes: 0, snapshotPath: nestedSnapshot });
    expect(hub.requests).toEqual([]);
    expect(await cachedSnapshotPath(cacheDir, requestFor("sub/dir/nested-Q8_0.gguf", NESTED))).toBe(
      nestedSnapshot,
    );
  });

  it("cachedSnapshotPath says undefined for a blob of the wrong size or a link elsewhere", async () => {
    const result = await downloadToHfCache(requestFor(), options());
    expect(await cachedSnapshotPath(cacheDir, { ...requestFor(), size: MODEL.length + 1 })).toBeUndefined();
    await fs.rm(result.snapshotPath);
    await fs.symlink(`../../blobs/${"0".repeat(64)}`, result.snapshotPath);
    expect(await cachedSnapshotPath(cacheDir, requestFor())).toBeUndefined();
  });

  it.each([
    ["a filename with ..", { filename: "../../evil.gguf" }],
    ["a filename with .. inside", { filename: "sub/../../../evil.gguf" }],
    ["an absolute filename", { filename: "/tmp/evil.gguf" }],
    ["a backslash", { filename: "..\\evil.gguf" }],
    ["a NUL", { filename: "evil\0.gguf" }],
    ["a control character", { filename: "evil\n.gguf" }],
    ["a sha256 that is a path", { sha256: "../../../../evil" }],
    ["an uppercase sha256", { sha256: sha256Hex(MODEL).toUpperCase() }],
    ["a commit that is a path", { commit: "../../../../../../tmp/evil" }],
    ["a revision that is a path", { revision: "../../../evil" }],
    ["a repo that is a path", { repo: "../evil" }],
    ["a negative size", { size: -1 }],
    ["a fractional size", { size: 1.5 }],
    ["an unsafe size", { size: 2 ** 60 }],
    ["a url that is not http", { url: "file:///etc/passwd" }],
  ] as Array<[string, Partial<DownloadRequest>]>)("refuses %s and writes nothing", async (_label, bad) => {
    await expectDownloadError(downloadToHfCache({ ...requestFor(), ...bad }, options()), "invalid");
    expect(await fs.readdir(parent)).toEqual(["hub"]);
    expect(await fs.readdir(cacheDir)).toEqual([]);
    expect(hub.requests).toEqual([]);
  });

  it("cachedSnapshotPath and repoCacheDir refuse hostile input too", async () => {
    await expect(cachedSnapshotPath(cacheDir, { ...requestFor(), filename: "../x" })).rejects.toMatchObject({
      code: "invalid",
    });
    expect(() => repoCacheDir(cacheDir, "../../etc")).toThrow(DownloadError);
    expect(repoCacheDir(cacheDir, "org/name")).toBe(path.join(cacheDir, "models--org--name"));
  });
});

/** The downloader in another process; it prints one JSON line per progress report and its outcome. */
interface ChildLine {
  /** The file the child downloads. */
  file: string;
  progress?: DownloadProgress;
  result?: { alreadyCached: boolean; snapshotPath: string; fetchedBytes: number };
  error?: { code: string; message: string };
  partialBytes?: number;
  sidecar?: boolean;
  /** Whether the blob's lock was left behind. */
  lock?: boolean;
}

const CHILD_SCRIPT = `
(async () => {
  const fs = await import("node:fs");
  const { downloadToHfCache } = await import(process.env.DL_MODULE);
  const { pino } = await import("pino");
  const input = JSON.parse(process.env.DL_INPUT);
  const out = (line) => process.stdout.write(JSON.stringify({ ...line, file: input.request.filename }) + "\\n");
  try {
    const result = await downloadToHfCache(input.request, {
      ...input.options,
      log: pino({ level: "silent" }),
      onProgress: (progress) => out({ progress }),
    });
    out({ result });
  } catch (e) {
    const size = fs.existsSync(input.partial) ? fs.statSync(input.partial).size : -1;
    out({
      error: { code: e.code, message: e.message },
      partialBytes: size,
      sidecar: fs.existsSync(input.partial + ".json"),
      lock: fs.existsSync(input.partial.replace(/\\.incomplete$/, ".lock")),
    });
  }
})();
`;

function startChild(
  request: DownloadRequest,
  childOptions: Partial<DownloadOptions> & { cacheDir: string },
  wrapper: string[] = [],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; lines: AsyncIterator<ChildLine>; exited: Promise<unknown> } {
  const partial = path.join(
    repoCacheDir(childOptions.cacheDir, request.repo),
    "blobs",
    `${request.sha256}.incomplete`,
  );
  const [command, ...args] = [...wrapper, process.execPath, "--import", "tsx", "-e", CHILD_SCRIPT];
  const child = spawn(command!, args, {
    cwd: root,
    env: {
      ...process.env,
      DL_MODULE: MODULE,
      DL_CACHE: childOptions.cacheDir,
      DL_INPUT: JSON.stringify({ request, options: childOptions, partial }),
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  // Listened for from the start: the child may be gone before the test asks.
  const exited = once(child, "exit");
  const reader = createInterface({ input: child.stdout! });
  const lines = (async function* () {
    for await (const line of reader) yield JSON.parse(line) as ChildLine;
  })();
  return { child, lines, exited };
}

async function nextLine(lines: AsyncIterator<ChildLine>, accept: (line: ChildLine) => boolean) {
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new Error("the child ended without the expected line");
    if (accept(value)) return value;
  }
}

describe("downloadToHfCache across processes", () => {
  it("a second process waits for the first and then finds the file cached", async () => {
    hub.setFaults({ throttleBytesPerSecond: 3 * MiB });
    const { lines, exited } = startChild(requestFor(), { cacheDir });
    await nextLine(lines, (line) => (line.progress?.bytesDone ?? 0) > 0);

    const mine = await downloadToHfCache(requestFor(), options());
    const theirs = await nextLine(lines, (line) => line.result !== undefined || line.error !== undefined);
    await exited;
    expect(theirs.result).toMatchObject({ alreadyCached: false, snapshotPath: mine.snapshotPath });
    // Fetched by the other process while this one waited: the other's to remove, not this one's.
    expect(mine).toMatchObject({ alreadyCached: true, fetchedBytes: 0, fetchedByAnother: true });
    expect(bodyRequests()).toHaveLength(1);
    expect(hub.bytesServed()).toBe(MODEL.length);
    expect((await fs.readFile(mine.snapshotPath)).equals(MODEL)).toBe(true);
  });

  const segmented = { segments: 4, minSegmentBytes: 256 * 1024 };

  /** A download in pieces in a child process, killed once it has reported 1 MiB: what it reported done. */
  async function killedInPieces(): Promise<number> {
    hub.setFaults({ throttleBytesPerSecond: 512 * 1024 });
    const { child, lines, exited } = startChild(requestFor(), { cacheDir, ...segmented });
    const reported = await nextLine(lines, (line) => (line.progress?.bytesDone ?? 0) >= 1 * MiB);
    child.kill("SIGKILL");
    await exited;
    return reported.progress!.bytesDone;
  }

  it("a killed download's lock is taken over and its segments resume", async () => {
    const reported = await killedInPieces();
    const sha = sha256Hex(MODEL);
    expect(await exists(path.join(blobsDir(), `${sha}.lock`))).toBe(true);
    // Pieces land out of order, leaving holes: not in huggingface_hub's `.incomplete`, which it would
    // resume from its length (or, at full length, publish unchecked).
    expect(await exists(partialOf(MODEL))).toBe(false);
    expect(await exists(path.join(blobsDir(), `${sha}.llmlb-pieces`))).toBe(true);

    hub.clearFaults();
    hub.resetStats();
    const result = await downloadToHfCache(requestFor(), options(segmented));
    expect((await fs.readFile(result.blobPath)).equals(MODEL)).toBe(true);
    // Everything the killed process reported as done was kept.
    expect(hub.bytesServed()).toBeLessThanOrEqual(MODEL.length - reported);
    expect(bodyRequests().every((r) => /^bytes=\d+-\d+$/.test(r.range ?? ""))).toBe(true);
    expect(await fs.readdir(blobsDir())).toEqual([sha]);
  });

  it("resumes the pieces an earlier llmlb wrote into .incomplete, under their own name", async () => {
    const reported = await killedInPieces();
    const sha = sha256Hex(MODEL);
    // Where an llmlb before this one kept its pieces.
    await fs.rename(path.join(blobsDir(), `${sha}.llmlb-pieces`), partialOf(MODEL));

    hub.clearFaults();
    hub.resetStats();
    const result = await downloadToHfCache(requestFor(), options(segmented));
    expect((await fs.readFile(result.blobPath)).equals(MODEL)).toBe(true);
    expect(hub.bytesServed()).toBeLessThanOrEqual(MODEL.length - reported);
  });

  it("starts over, rather than fail verification, from pieces whose record of what is done was lost", async () => {
    await killedInPieces();
    await fs.rm(path.join(blobsDir(), `${sha256Hex(MODEL)}.incomplete.json`));

    hub.clearFaults();
    hub.resetStats();
    const result = await downloadToHfCache(requestFor(), options(segmented));
    expect((await fs.readFile(result.blobPath)).equals(MODEL)).toBe(true);
    expect(hub.bytesServed()).toBe(MODEL.length);
  });

  // A tiny tmpfs as the cache, in a private mount namespace, for a real ENOSPC.
  const canMountTmpfs =
    process.platform === "linux" &&
    spawnSync("unshare", ["-Urm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /tmp"]).status === 0;

  /**
   * Runs the download in a child whose cache is a tmpfs of `size`, after `before` (shell) has run, which
   * may start the same child for `DL_INPUT_2` in the background.
   */
  function inTinyTmpfs(size: string, before = "", second?: DownloadRequest) {
    const partial = path.join(
      repoCacheDir(cacheDir, second?.repo ?? REPO),
      "blobs",
      `${second?.sha256}.incomplete`,
    );
    const env = second
      ? { DL_INPUT_2: JSON.stringify({ request: second, options: { cacheDir }, partial }) }
      : {};
    return startChild(
      requestFor(),
      { cacheDir },
      [
        "unshare",
        "-Urm",
        "sh",
        "-c",
        `mount -t tmpfs -o size=${size} tmpfs "$DL_CACHE" && ${before} exec "$@"`,
        "sh",
      ],
      env,
    );
  }

  it.skipIf(!canMountTmpfs)(
    "a file bigger than the free space is disk_full before a byte is fetched, with both sizes",
    async () => {
      const { lines, exited } = inTinyTmpfs("1m");
      const outcome = await nextLine(lines, (line) => line.result !== undefined || line.error !== undefined);
      await exited;
      expect(outcome.error?.code).toBe("disk_full");
      expect(outcome.error?.message).toMatch(
        /^model-Q4_K_M\.gguf needs 3\.1 MB more on the disk holding \S+, which has 1\.0 MB free\. Free some space, or move the model cache/,
      );
      expect(hub.bytesServed()).toBe(0);
    },
  );

  it.skipIf(!canMountTmpfs)(
    "a disk too full to write the download's lock is disk_full, and leaves no empty lock behind",
    async () => {
      const blobs = path.relative(cacheDir, blobsDir());
      const { lines, exited } = inTinyTmpfs(
        "1m",
        `mkdir -p "$DL_CACHE/${blobs}" && (cat /dev/zero > "$DL_CACHE/filler" 2>/dev/null; true) &&`,
      );
      const outcome = await nextLine(lines, (line) => line.result !== undefined || line.error !== undefined);
      await exited;
      expect(outcome.error?.code).toBe("disk_full");
      expect(outcome.lock).toBe(false);
    },
  );

  /**
   * Two downloads into a 5 MB cache, each file 3 MB: the model's first, then, once `between` (shell) has
   * run, the other's, while the hub sends slowly. The first completes; says how the second ended.
   */
  async function twoDownloads(between: string): Promise<ChildLine | undefined> {
    // Slow enough that the first is still under way while the second process starts, on a busy machine too.
    hub.setFaults({ throttleBytesPerSecond: 1 * MiB });
    const second = requestFor("other-Q4_K_M.gguf", OTHER, { repo: OTHER_REPO });
    const { lines, exited } = inTinyTmpfs("5m", `(${between}; DL_INPUT="$DL_INPUT_2" exec "$@") &`, second);
    const outcomes = new Map<string, ChildLine>();
    while (outcomes.size < 2) {
      const line = await nextLine(lines, (next) => next.result !== undefined || next.error !== undefined);
      outcomes.set(line.file, line);
    }
    await exited;
    expect(outcomes.get("model-Q4_K_M.gguf")?.result?.fetchedBytes).toBe(MODEL.length);
    const refused = outcomes.get("other-Q4_K_M.gguf");
    expect(refused?.error?.code).toBe("disk_full");
    return refused;
  }

  it.skipIf(!canMountTmpfs)(
    "of two downloads into a cache with room for one, the later refuses at once, naming the other, and the first completes",
    async () => {
      // Both files fit the free space alone, not together. The second starts once the first holds its
      // lock; the hub sends slowly, so the first is still under way.
      const firstLock = path.join(blobsDir(), `${sha256Hex(MODEL)}.lock`);
      const refused = await twoDownloads(`until [ -e '${firstLock}' ]; do sleep 0.02; done`);
      expect(refused?.error?.message).toMatch(
        /^other-Q4_K_M\.gguf needs 3\.1 MB more on the disk holding \S+, which has \S+ MB free, \S+ [KM]B of it for the download of test-org\/dl-GGUF under way into the same cache\. Free some space/,
      );
      expect(refused?.partialBytes).toBeLessThanOrEqual(0);
    },
  );

  it.skipIf(!canMountTmpfs)(
    "a download under way counts for a later one even where its host's clock runs ahead (a cache shared by hosts)",
    async () => {
      // The first passes its room check and writes; then its lock says it started an hour from now, as a
      // host whose clock is ahead would write it. The second, started after, must still count it.
      const firstLock = path.join(blobsDir(), `${sha256Hex(MODEL)}.lock`);
      const later = Date.now() + 3_600_000;
      const refused = await twoDownloads(
        `until [ "$(du -k '${partialOf(MODEL)}' 2>/dev/null | cut -f1)" -gt 0 ] 2>/dev/null; do sleep 0.02; done; ` +
          `sed -i 's/"since":[0-9]*/"since":${later}/' '${firstLock}'`,
      );
      expect(refused?.error?.message).toMatch(
        /for the download of test-org\/dl-GGUF under way into the same cache/,
      );
    },
  );

  it.skipIf(!canMountTmpfs)(
    "a disk that fills up mid-download is disk_full, with the partial kept for later",
    async () => {
      // Room for the file when it starts; then, once its first bytes are on disk, something else takes
      // the rest (another download, a log) while the hub sends slowly.
      hub.setFaults({ throttleBytesPerSecond: 1 * MiB });
      const partial = partialOf(MODEL);
      const filler =
        `(until [ "$(du -k '${partial}' 2>/dev/null | cut -f1)" -gt 0 ] 2>/dev/null; do sleep 0.05; done; ` +
        `cat /dev/zero > "$DL_CACHE/filler" 2>/dev/null) &`;
      const { lines, exited } = inTinyTmpfs("4m", filler);
      const outcome = await nextLine(lines, (line) => line.result !== undefined || line.error !== undefined);
      await exited;
      expect(outcome.error?.code).toBe("disk_full");
      expect(outcome.error?.message).toMatch(/^The disk holding \S+ is full\. Free some space/);
      expect(outcome.partialBytes).toBeGreaterThan(0);
      expect(outcome.sidecar).toBe(true);
    },
  );
});

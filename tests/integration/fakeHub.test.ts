import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readlink, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import {
  downloadFile,
  downloadFileToCacheDir,
  fileDownloadInfo,
  HubApiError,
  listFiles,
  modelInfo,
  pathsInfo,
  type ListFileEntry,
} from "@huggingface/hub";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sha256Hex, startFakeHub, type FakeHub, type FakeRepo } from "../fixtures/fakeHub";
import { seededBytes } from "../helpers/seededBytes";

const execFileAsync = promisify(execFile);

/** Computed here independently of the fake, as git and git-lfs define them. */
function gitOid(content: Buffer): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}
function lfsPointerOid(content: Buffer): string {
  const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256Hex(content)}\nsize ${content.length}\n`;
  return gitOid(Buffer.from(pointer));
}

const MODEL = seededBytes(300_000, "model");
const EXTRA = seededBytes(1000, "extra");
const README = Buffer.from("# tiny\n");
const CONFIG = Buffer.from('{"model_type":"llama"}\n');
const REPO_SHA = "0123456789abcdef0123456789abcdef01234567";
const V1_SHA = "89abcdef0123456789abcdef0123456789abcdef";

const publicRepo: FakeRepo = {
  id: "test-org/tiny-GGUF",
  sha: REPO_SHA,
  revisions: { "v1.0": V1_SHA },
  files: [
    { path: "model-Q4_K_M.gguf", content: MODEL },
    { path: "README.md", content: README },
    { path: "config.json", content: CONFIG },
    { path: "sub/dir/extra.gguf", content: EXTRA },
    { path: "huge-Q8_0.gguf", size: 8_000_000_000, sha256: "ab".repeat(32) },
  ],
};
const gatedRepo: FakeRepo = {
  id: "test-org/gated-GGUF",
  gated: true,
  files: [{ path: "g.gguf", content: EXTRA }],
};
const privateRepo: FakeRepo = {
  id: "test-org/private-GGUF",
  private: true,
  files: [{ path: "p.gguf", content: EXTRA }],
};
const hostileRepo: FakeRepo = {
  id: "test-org/hostile",
  files: [
    { path: "../evil.gguf", size: 10 },
    { path: "/abs.gguf", size: 10 },
    { path: "a\\b.gguf", size: 10 },
  ],
};

let hub: FakeHub;
const model = { type: "model" as const, name: publicRepo.id };

beforeAll(async () => {
  hub = await startFakeHub({ repos: [publicRepo, gatedRepo, privateRepo, hostileRepo] });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(() => {
  hub.clearFaults();
  hub.resetStats();
});

async function expectHubError(promise: Promise<unknown>, statusCode: number): Promise<HubApiError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubApiError);
  expect((error as HubApiError).statusCode).toBe(statusCode);
  return error as HubApiError;
}

async function fetchBytes(url: string, init?: RequestInit): Promise<{ response: Response; body: Buffer }> {
  const response = await fetch(url, init);
  return { response, body: Buffer.from(await response.arrayBuffer()) };
}

function resolveUrl(file: string, repo = publicRepo.id): string {
  return `${hub.url}/${repo}/resolve/main/${file}`;
}

describe("fake hub against @huggingface/hub", () => {
  it("modelInfo gives the commit and the asked-for fields", async () => {
    const info = await modelInfo({ name: publicRepo.id, hubUrl: hub.url, additionalFields: ["sha"] });
    expect(info).toMatchObject({ name: publicRepo.id, sha: REPO_SHA, private: false, gated: false });
    expect(info.updatedAt.toISOString()).toMatch(/^\d{4}-/);
    expect(hub.requests[0]?.path).toContain(`/api/models/${publicRepo.id}/revision/HEAD?`);

    const v1 = await modelInfo({
      name: publicRepo.id,
      hubUrl: hub.url,
      revision: "v1.0",
      additionalFields: ["sha"],
    });
    expect(v1.sha).toBe(V1_SHA);
    const bySha = await modelInfo({
      name: publicRepo.id,
      hubUrl: hub.url,
      revision: V1_SHA,
      additionalFields: ["sha"],
    });
    expect(bySha.sha).toBe(V1_SHA);
    await expectHubError(modelInfo({ name: publicRepo.id, hubUrl: hub.url, revision: "nope" }), 404);
  });

  it("answers only the expanded fields, like the hub", async () => {
    const res = await fetch(`${hub.url}/api/models/${publicRepo.id}?expand[]=sha&expand[]=gated`);
    expect(await res.json()).toEqual({
      _id: expect.any(String),
      id: publicRepo.id,
      sha: REPO_SHA,
      gated: false,
    });
    const bad = await fetch(`${hub.url}/api/models/${publicRepo.id}?expand=bogus`);
    expect(bad.status).toBe(400);
  });

  it("model info without expand has siblings, with blobs=true their sizes and LFS hashes", async () => {
    const res = await fetch(`${hub.url}/api/models/${publicRepo.id}?blobs=true`);
    const info = (await res.json()) as { siblings: Record<string, unknown>[]; sha: string; modelId: string };
    expect(info.sha).toBe(REPO_SHA);
    expect(info.modelId).toBe(publicRepo.id);
    expect(info.siblings).toContainEqual({
      rfilename: "model-Q4_K_M.gguf",
      size: MODEL.length,
      blobId: lfsPointerOid(MODEL),
      lfs: { sha256: sha256Hex(MODEL), size: MODEL.length, pointerSize: expect.any(Number) },
    });
    expect(info.siblings).toContainEqual({
      rfilename: "README.md",
      size: README.length,
      blobId: gitOid(README),
    });
  });

  it("listFiles follows the Link pagination and reports git/LFS oids", async () => {
    const paged = await startFakeHub({ repos: [publicRepo], pageSize: 2 });
    try {
      const entries: ListFileEntry[] = [];
      for await (const entry of listFiles({ repo: model, hubUrl: paged.url, recursive: true }))
        entries.push(entry);
      expect(entries.map((e) => `${e.type}:${e.path}`).sort()).toEqual(
        [
          "file:README.md",
          "file:config.json",
          "file:huge-Q8_0.gguf",
          "file:model-Q4_K_M.gguf",
          "file:sub/dir/extra.gguf",
          "directory:sub",
          "directory:sub/dir",
        ].sort(),
      );
      const treeRequests = paged.requests.filter((r) => r.path.includes("/tree/"));
      expect(treeRequests).toHaveLength(4);
      expect(treeRequests[1]?.path).toContain("cursor=");

      const byPath = new Map(entries.map((e) => [e.path, e]));
      expect(byPath.get("model-Q4_K_M.gguf")).toMatchObject({
        oid: lfsPointerOid(MODEL),
        size: MODEL.length,
        lfs: { oid: sha256Hex(MODEL), size: MODEL.length },
      });
      expect(byPath.get("README.md")).toMatchObject({ oid: gitOid(README), size: README.length });
      expect(byPath.get("README.md")?.lfs).toBeUndefined();
      expect(byPath.get("huge-Q8_0.gguf")).toMatchObject({
        size: 8_000_000_000,
        lfs: { oid: "ab".repeat(32) },
      });

      const top: string[] = [];
      for await (const entry of listFiles({ repo: model, hubUrl: paged.url })) top.push(entry.path);
      expect(top).not.toContain("sub/dir/extra.gguf");
      expect(top).toContain("sub");
      const sub: string[] = [];
      for await (const entry of listFiles({ repo: model, hubUrl: paged.url, path: "sub/dir" }))
        sub.push(entry.path);
      expect(sub).toEqual(["sub/dir/extra.gguf"]);
    } finally {
      await paged.close();
    }
  });

  it("pathsInfo answers the known paths with lastCommit when expanded", async () => {
    const infos = await pathsInfo({
      repo: model,
      hubUrl: hub.url,
      paths: ["model-Q4_K_M.gguf", "config.json", "missing.gguf"],
      expand: true,
    });
    expect(infos.map((i) => i.path)).toEqual(["model-Q4_K_M.gguf", "config.json"]);
    expect(infos[0]).toMatchObject({ type: "file", size: MODEL.length, lfs: { oid: sha256Hex(MODEL) } });
    expect(infos[0]?.lastCommit?.id).toBe(REPO_SHA);
    expect(infos[1]).toMatchObject({ oid: gitOid(CONFIG), lfs: undefined });
  });

  it("fileDownloadInfo probes with Range and follows the CDN redirect", async () => {
    const info = await fileDownloadInfo({ repo: model, path: "model-Q4_K_M.gguf", hubUrl: hub.url });
    expect(info).toMatchObject({ size: MODEL.length, etag: `"${sha256Hex(MODEL)}"` });
    expect(info?.url.startsWith(`${hub.url}/cdn-lfs/`)).toBe(true);
    expect(hub.requests.map((r) => [r.status, r.range])).toEqual([
      [302, "bytes=0-0"],
      [206, "bytes=0-0"],
    ]);

    const small = await fileDownloadInfo({ repo: model, path: "README.md", hubUrl: hub.url });
    expect(small).toMatchObject({ size: README.length, etag: `"${gitOid(README)}"` });
    expect(await fileDownloadInfo({ repo: model, path: "missing.gguf", hubUrl: hub.url })).toBeNull();
  });

  it("downloadFile gets the exact bytes and counts them", async () => {
    const blob = await downloadFile({ repo: model, path: "model-Q4_K_M.gguf", hubUrl: hub.url });
    const data = Buffer.from(await blob!.arrayBuffer());
    expect(sha256Hex(data)).toBe(sha256Hex(MODEL));
    expect(hub.bytesServed()).toBe(1 + MODEL.length); // the bytes=0-0 probe, then the body
    const nested = await downloadFile({ repo: model, path: "sub/dir/extra.gguf", hubUrl: hub.url });
    expect(Buffer.from(await nested!.arrayBuffer()).equals(EXTRA)).toBe(true);
  });

  it("downloadFileToCacheDir fills the standard HF cache layout", async () => {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), "fakehub-cache-"));
    try {
      const pointer = await downloadFileToCacheDir({
        repo: model,
        path: "model-Q4_K_M.gguf",
        hubUrl: hub.url,
        cacheDir,
      });
      expect(pointer).toBe(
        path.join(cacheDir, "models--test-org--tiny-GGUF", "snapshots", REPO_SHA, "model-Q4_K_M.gguf"),
      );
      expect(await readlink(pointer)).toBe(path.join("..", "..", "blobs", sha256Hex(MODEL)));
      expect(sha256Hex(await readFile(pointer))).toBe(sha256Hex(MODEL));
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it("gated repo: metadata is public, downloads need the token", async () => {
    const gated = { type: "model" as const, name: gatedRepo.id };
    const info = await modelInfo({ name: gatedRepo.id, hubUrl: hub.url });
    expect(info.gated).toBe("auto");
    const error = await expectHubError(downloadFile({ repo: gated, path: "g.gguf", hubUrl: hub.url }), 401);
    expect(error.message).toContain(`Access to model ${gatedRepo.id} is restricted`);
    const res = await fetch(resolveUrl("g.gguf", gatedRepo.id));
    expect(res.headers.get("x-error-code")).toBe("GatedRepo");

    const blob = await downloadFile({ repo: gated, path: "g.gguf", hubUrl: hub.url, accessToken: hub.token });
    expect(Buffer.from(await blob!.arrayBuffer()).equals(EXTRA)).toBe(true);
    expect(hub.requests.find((r) => r.path.includes("/resolve/") && r.status === 302)?.authorization).toBe(
      `Bearer ${hub.token}`,
    );
  });

  it("private and unknown repos look alike without a token; 404 with one", async () => {
    const anonPrivate = await fetch(`${hub.url}/api/models/${privateRepo.id}`);
    const anonMissing = await fetch(`${hub.url}/api/models/test-org/missing`);
    for (const res of [anonPrivate, anonMissing]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("x-error-code")).toBe("RepoNotFound");
    }
    expect(await anonPrivate.json()).toEqual(await anonMissing.json());

    const info = await modelInfo({ name: privateRepo.id, hubUrl: hub.url, accessToken: hub.token });
    expect(info.private).toBe(true);
    await expectHubError(
      modelInfo({ name: "test-org/missing", hubUrl: hub.url, accessToken: hub.token }),
      404,
    );
    const missing = await fetch(`${hub.url}/api/models/test-org/missing`, {
      headers: { Authorization: `Bearer ${hub.token}` },
    });
    expect(missing.headers.get("x-error-code")).toBe("RepoNotFound");
  });

  it("refuses a wrong token even on a public repo", async () => {
    const error = await expectHubError(
      modelInfo({ name: publicRepo.id, hubUrl: hub.url, accessToken: "hf_wrong_token" }),
      401,
    );
    expect(error.message).toContain("Invalid credentials in Authorization header");
  });

  it("404s with the hub's error codes for unknown files and revisions", async () => {
    const file = await fetch(resolveUrl("nope.gguf"));
    expect([file.status, file.headers.get("x-error-code")]).toEqual([404, "EntryNotFound"]);
    expect(await file.json()).toEqual({ error: "Entry not found" });
    const rev = await fetch(`${hub.url}/${publicRepo.id}/resolve/nope/README.md`);
    expect([rev.status, rev.headers.get("x-error-code")]).toEqual([404, "RevisionNotFound"]);
    const metadataOnly = await fetch(resolveUrl("huge-Q8_0.gguf"));
    expect(metadataOnly.status).toBe(404);
    expect(await metadataOnly.json()).toEqual({ error: "content not available in fake hub" });
  });

  it("lists hostile paths exactly as given", async () => {
    const paths: string[] = [];
    for await (const entry of listFiles({
      repo: { type: "model", name: hostileRepo.id },
      hubUrl: hub.url,
      recursive: true,
    })) {
      paths.push(entry.path);
    }
    expect(paths.sort()).toEqual(["../evil.gguf", "/abs.gguf", "a\\b.gguf"].sort());
  });
});

describe("fake hub over plain HTTP", () => {
  it("honours Range, If-Range, 416 and HEAD on the CDN", async () => {
    const cdn = (await fetch(resolveUrl("model-Q4_K_M.gguf"), { redirect: "manual" })).headers.get(
      "location",
    )!;
    const etag = `"${sha256Hex(MODEL)}"`;
    const tail = await fetchBytes(cdn, { headers: { Range: "bytes=299990-" } });
    expect([tail.response.status, tail.response.headers.get("content-range")]).toEqual([
      206,
      "bytes 299990-299999/300000",
    ]);
    expect(tail.body.equals(MODEL.subarray(299_990))).toBe(true);

    const stale = await fetchBytes(cdn, { headers: { Range: "bytes=0-9", "If-Range": '"other"' } });
    expect([stale.response.status, stale.body.length]).toEqual([200, MODEL.length]);
    const fresh = await fetchBytes(cdn, { headers: { Range: "bytes=0-9", "If-Range": etag } });
    expect([fresh.response.status, fresh.body.length]).toEqual([206, 10]);

    const beyond = await fetch(cdn, { headers: { Range: "bytes=300000-" } });
    expect([beyond.status, beyond.headers.get("content-range")]).toEqual([416, "bytes */300000"]);

    const head = await fetch(cdn, { method: "HEAD" });
    expect(head.headers.get("content-length")).toBe(String(MODEL.length));
    expect(head.headers.get("etag")).toBe(etag);
    expect(head.headers.get("accept-ranges")).toBe("bytes");

    const forged = await fetch(cdn.replace(/sig=[0-9a-f]+/, "sig=00"));
    expect(forged.status).toBe(403);
  });

  it("curl -L follows the redirect and gets the exact bytes", async () => {
    const { stdout } = await execFileAsync(
      "curl",
      ["-sSL", "--noproxy", "*", resolveUrl("model-Q4_K_M.gguf")],
      {
        encoding: "buffer",
        maxBuffer: 10 * 1024 * 1024,
      },
    );
    expect(sha256Hex(stdout)).toBe(sha256Hex(MODEL));
  });

  it("curl -r gets a 206 with 10 bytes", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "fakehub-"));
    try {
      const out = path.join(dir, "part");
      const { stdout } = await execFileAsync("curl", [
        ...["-sSL", "--noproxy", "*", "-r", "10-19", "-o", out, "-w", "%{http_code}"],
        resolveUrl("model-Q4_K_M.gguf"),
      ]);
      expect(stdout).toBe("206");
      expect((await readFile(out)).equals(MODEL.subarray(10, 20))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("curl -I shows the resolve headers", async () => {
    const { stdout } = await execFileAsync("curl", [
      "-sSI",
      "--noproxy",
      "*",
      resolveUrl("model-Q4_K_M.gguf"),
    ]);
    expect(stdout).toMatch(/^HTTP\/1\.1 302/);
    expect(stdout).toMatch(new RegExp(`^x-repo-commit: ${REPO_SHA}\\r?$`, "im"));
    expect(stdout).toMatch(new RegExp(`^x-linked-size: ${MODEL.length}\\r?$`, "im"));
    expect(stdout).toMatch(new RegExp(`^x-linked-etag: "${sha256Hex(MODEL)}"\\r?$`, "im"));
    expect(hub.bytesServed()).toBe(0);
  });
});

describe("fault switches", () => {
  it("apiStatus 429 with Retry-After on the API, downloads unaffected", async () => {
    hub.setFaults({ apiStatus: 429, retryAfterSeconds: 7 });
    const res = await fetch(`${hub.url}/api/models/${publicRepo.id}`);
    expect([res.status, res.headers.get("retry-after")]).toEqual([429, "7"]);
    expect(await res.json()).toHaveProperty("error");
    await expectHubError(modelInfo({ name: publicRepo.id, hubUrl: hub.url }), 429);
    expect((await fetch(resolveUrl("README.md"))).status).toBe(200);
  });

  it("downloadStatus 503 with Retry-After on resolve", async () => {
    hub.setFaults({ downloadStatus: 503, retryAfterSeconds: 3 });
    const res = await fetch(resolveUrl("model-Q4_K_M.gguf"));
    expect([res.status, res.headers.get("retry-after")]).toEqual([503, "3"]);
    expect((await fetch(`${hub.url}/api/models/${publicRepo.id}`)).status).toBe(200);
  });

  it("unreachable makes fetch reject, until cleared", async () => {
    hub.setFaults({ unreachable: true });
    await expect(fetch(`${hub.url}/api/models/${publicRepo.id}`)).rejects.toThrow();
    expect(hub.requests[0]?.status).toBe(0);
    hub.clearFaults();
    expect((await fetch(`${hub.url}/api/models/${publicRepo.id}`)).status).toBe(200);
  });

  it("cutAfterBytes cuts cutTimes downloads, then they work again", async () => {
    hub.setFaults({ cutAfterBytes: 1000, cutTimes: 2 });
    const download = async () => (await fetchBytes(resolveUrl("model-Q4_K_M.gguf"))).body;
    // A body no longer than the limit is not cut and does not use up a cut.
    const probe = await fetchBytes(resolveUrl("model-Q4_K_M.gguf"), { headers: { Range: "bytes=0-0" } });
    expect(probe.response.status).toBe(206);
    await expect(download()).rejects.toThrow();
    await expect(download()).rejects.toThrow();
    expect(sha256Hex(await download())).toBe(sha256Hex(MODEL));
    expect(hub.bytesServed()).toBe(1 + 2 * 1000 + MODEL.length);
  });

  it("flipByteAt corrupts exactly that byte, in full and ranged bodies", async () => {
    hub.setFaults({ flipByteAt: 5 });
    const full = (await fetchBytes(resolveUrl("model-Q4_K_M.gguf"))).body;
    expect(sha256Hex(full)).not.toBe(sha256Hex(MODEL));
    expect(full[5]).toBe(MODEL[5]! ^ 0xff);
    expect(
      Buffer.concat([full.subarray(0, 5), full.subarray(6)]).equals(
        Buffer.concat([MODEL.subarray(0, 5), MODEL.subarray(6)]),
      ),
    ).toBe(true);
    const ranged = (await fetchBytes(resolveUrl("model-Q4_K_M.gguf"), { headers: { Range: "bytes=4-6" } }))
      .body;
    expect([...ranged]).toEqual([MODEL[4], MODEL[5]! ^ 0xff, MODEL[6]]);
    const clean = (await fetchBytes(resolveUrl("model-Q4_K_M.gguf"), { headers: { Range: "bytes=6-9" } }))
      .body;
    expect(clean.equals(MODEL.subarray(6, 10))).toBe(true);
  });

  it("ignoreRange answers 200 with the whole file", async () => {
    hub.setFaults({ ignoreRange: true });
    const { response, body } = await fetchBytes(resolveUrl("model-Q4_K_M.gguf"), {
      headers: { Range: "bytes=10-19" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-range")).toBeNull();
    expect(body.equals(MODEL)).toBe(true);
  });

  it("throttleBytesPerSecond slows a download down", async () => {
    hub.setFaults({ throttleBytesPerSecond: 100_000 });
    const started = performance.now();
    const { body } = await fetchBytes(resolveUrl("model-Q4_K_M.gguf"), {
      headers: { Range: "bytes=0-19999" },
    });
    expect(body.equals(MODEL.subarray(0, 20_000))).toBe(true);
    // 20 kB at 100 kB/s is ~200 ms of pacing; well above what an unthrottled loopback read takes.
    expect(performance.now() - started).toBeGreaterThanOrEqual(120);
  });
});

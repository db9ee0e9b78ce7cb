import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { errorBodySchema, registerResponseSchema } from "../../src-main/contract";
import { sha256Hex, type FakeHub } from "../fixtures/fakeHub";
import { fakeBytes, testRepos } from "../helpers/hubRepos";
import { startCore, startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";

let hub: FakeHub;
let server: TestServerWithHub;

beforeAll(async () => {
  server = await startCoreWithHub();
  hub = server.hub;
});
afterAll(async () => {
  await server?.close();
});
afterEach(async () => {
  hub.clearFaults();
  const list = await server.request("GET", "/v0/models?limit=1000");
  for (const model of list.body.data)
    await server.request("DELETE", `/v0/models/${encodeURIComponent(model.name)}`);
});

const register = (body: unknown) => server.request("POST", "/v0/models/register", { body });

/** A file of `repo` at `commit` (main) in the data directory's Hugging Face cache, as huggingface_hub lays it out. */
function layInCache(dataDir: string, repo: string, commit: string, filename: string, bytes: Buffer): void {
  const repoDir = path.join(dataDir, "hub", `models--${repo.replace("/", "--")}`);
  fs.mkdirSync(path.join(repoDir, "blobs"), { recursive: true });
  fs.mkdirSync(path.join(repoDir, "snapshots", commit), { recursive: true });
  fs.mkdirSync(path.join(repoDir, "refs"), { recursive: true });
  fs.writeFileSync(path.join(repoDir, "blobs", sha256Hex(bytes)), bytes);
  fs.symlinkSync(`../../blobs/${sha256Hex(bytes)}`, path.join(repoDir, "snapshots", commit, filename));
  fs.writeFileSync(path.join(repoDir, "refs", "main"), commit);
}

function expectError(response: { status: number; body: unknown }, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = errorBodySchema.parse(response.body);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
  return body.error.message;
}

describe("POST /v0/models/register", () => {
  it("registers a whole repo by URL with every file's size, sha256, format and quantization", async () => {
    const response = await register({ url: "https://huggingface.co/acme/tiny-GGUF" });
    expect(response.status).toBe(201);
    const model = registerResponseSchema.parse(response.body);
    expect(model).toMatchObject({
      name: "acme/tiny-GGUF",
      status: "registered",
      repo: "acme/tiny-GGUF",
      filename: null,
      revision: "main",
      ready: false,
    });
    expect(model.commit).toMatch(/^[0-9a-f]{40}$/);
    const q4 = model.artifacts.find((a) => a.filename === "tiny-Q4_K_M.gguf");
    expect(q4).toEqual({
      filename: "tiny-Q4_K_M.gguf",
      format: "gguf",
      quantization: "Q4_K_M",
      size_bytes: 4096,
      sha256: sha256Hex(fakeBytes("q4")),
      split_group: null,
    });
    expect(model.artifacts.find((a) => a.filename === "tiny.F16.gguf")?.quantization).toBe("F16");
    expect(model.artifacts.find((a) => a.filename === "README.md")).toMatchObject({
      format: "other",
      quantization: null,
      sha256: null,
    });
    expect(model.warnings).toEqual([]);
  });

  it.each([
    ["blob URL", { url: "https://huggingface.co/acme/tiny-GGUF/blob/main/tiny-Q8_0.gguf" }],
    [
      "resolve URL with ?download=true",
      { url: "https://huggingface.co/acme/tiny-GGUF/resolve/main/tiny-Q8_0.gguf?download=true" },
    ],
    ["hf.co short link", { url: "hf.co/acme/tiny-GGUF/blob/main/tiny-Q8_0.gguf" }],
    ["org/repo/<file>", { url: "  acme/tiny-GGUF/tiny-Q8_0.gguf \n" }],
    ["quantization tag", { url: "acme/tiny-GGUF:q8_0" }],
    ["repo and filename fields", { repo: "acme/tiny-GGUF", filename: "tiny-Q8_0.gguf" }],
  ])("registers one file from a %s under the id org/repo/<file>", async (_form, body) => {
    const response = await register(body);
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      name: "acme/tiny-GGUF/tiny-Q8_0.gguf",
      filename: "tiny-Q8_0.gguf",
    });
    expect(response.body.artifacts.map((a: { filename: string }) => a.filename)).toEqual(["tiny-Q8_0.gguf"]);
    expect(response.body.size_bytes).toBe(8192);
  });

  it("registers the revision of a tree URL at that revision's commit", async () => {
    const response = await register({ url: "https://huggingface.co/acme/tiny-GGUF/tree/v1" });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ revision: "v1", commit: "1".repeat(40) });
  });

  it("registers a link to the hub it uses (a mirror, through HF_ENDPOINT) as one to huggingface.co", async () => {
    const response = await register({ url: `${hub.url}/acme/tiny-GGUF/blob/main/tiny-Q8_0.gguf` });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ name: "acme/tiny-GGUF/tiny-Q8_0.gguf", repo: "acme/tiny-GGUF" });
  });

  it("registers a split GGUF as one set under its first part, whichever part was pasted", async () => {
    const response = await register({ url: "acme/split-GGUF/big-Q4_K_M-00002-of-00003.gguf" });
    expect(response.status).toBe(201);
    expect(response.body.name).toBe("acme/split-GGUF/big-Q4_K_M-00001-of-00003.gguf");
    expect(response.body.artifacts).toHaveLength(3);
    expect(new Set(response.body.artifacts.map((a: { split_group: string }) => a.split_group))).toEqual(
      new Set(["big-Q4_K_M"]),
    );
    const byTag = await register({ url: "acme/split-GGUF:Q4_K_M" });
    expectError(byTag, 409, "registry.duplicate");
  });

  it("rejects a quantization tag that matches no file or more than one, naming the GGUF files", async () => {
    const none = expectError(await register({ url: "acme/tiny-GGUF:Q2_K" }), 404, "hub.file_not_found");
    expect(none).toContain("tiny-Q4_K_M.gguf");
    expectError(await register({ url: "acme/two-Q4:Q4_K_M" }), 400, "input.invalid");
  });

  it("answers 409 for a duplicate and leaves the existing row untouched", async () => {
    const first = await register({ url: "acme/tiny-GGUF" });
    expect(first.status).toBe(201);
    hub.addRepo({ id: "acme/tiny-GGUF", files: [{ path: "other-Q4_K_M.gguf", content: fakeBytes("new") }] });
    try {
      const again = await register({ url: "https://huggingface.co/acme/tiny-GGUF" });
      expect(expectError(again, 409, "registry.duplicate")).toContain("acme/tiny-GGUF");
      const stored = await server.request("GET", `/v0/models/${encodeURIComponent("acme/tiny-GGUF")}`);
      expect(stored.body.commit).toBe(first.body.commit);
      expect(stored.body.created_at).toBe(first.body.created_at);
      expect(stored.body.artifacts).toEqual(first.body.artifacts);
    } finally {
      hub.addRepo(testRepos()[0]!);
    }
  });

  it("answers 404 for a repo, a file or a revision the hub does not have", async () => {
    expect(expectError(await register({ url: "acme/missing" }), 404, "hub.not_found")).toContain(
      "acme/missing",
    );
    expect(
      expectError(
        await register({ url: "https://hf.co/acme/missing/blob/main/x.gguf" }),
        404,
        "hub.not_found",
      ),
    ).toMatch(/not found/);
    const file = expectError(await register({ url: "acme/tiny-GGUF/nope.gguf" }), 404, "hub.file_not_found");
    expect(file).toContain("tiny-Q4_K_M.gguf");
    expectError(
      await register({ repo: "acme/tiny-GGUF", revision: "no-such-branch" }),
      404,
      "hub.revision_not_found",
    );
  });

  it("answers 401 telling the user to set a Hugging Face token for a gated repo, and registers nothing", async () => {
    expect(expectError(await register({ url: "acme/gated-GGUF" }), 401, "hub.unauthorized")).toMatch(
      /gated: accept its terms on the model page, then set a Hugging Face token/,
    );
    expect(expectError(await register({ url: "acme/gated-GGUF:Q4_K_M" }), 401, "hub.unauthorized")).toMatch(
      /token/,
    );
    expect((await server.request("GET", "/v0/models")).body.total).toBe(0);
  });

  it("answers a private repo without a token as the hub does (not found), saying a token may help", async () => {
    // The hub hides private repos from anonymous callers exactly as if they did not exist.
    expect(expectError(await register({ url: "acme/private-GGUF" }), 404, "hub.not_found")).toMatch(
      /If it is private, set a Hugging Face token/,
    );
  });

  it("registers a gated repo when the server has a valid Hugging Face token", async () => {
    const withToken = await startCore({ hubEndpoint: hub.url, config: { hfToken: hub.token } });
    try {
      const response = await withToken.request("POST", "/v0/models/register", {
        body: { url: "acme/gated-GGUF" },
      });
      expect(response.status).toBe(201);
      expect(hub.requests.some((r) => r.authorization === `Bearer ${hub.token}`)).toBe(true);
    } finally {
      await withToken.close();
    }
  });

  it("registers a safetensors-only repo with a warning that llama.cpp nodes cannot serve it", async () => {
    const response = await register({ url: "acme/weights-only" });
    expect(response.status).toBe(201);
    expect(response.body.warnings.join(" ")).toMatch(/no GGUF/i);
    // And where to go instead.
    expect(response.body.warnings.join(" ")).toContain(
      "https://huggingface.co/models?search=weights-only+GGUF), or serve it from an endpoint (vLLM)",
    );
  });

  it("refuses a repo with no model file, and a file that is not a model", async () => {
    expectError(await register({ url: "acme/docs-only" }), 422, "hub.no_usable_file");
    expectError(await register({ url: "acme/tiny-GGUF/README.md" }), 422, "hub.no_usable_file");
  });

  it("drops files with unsafe paths from the hub's listing and says so", async () => {
    const response = await register({ url: "acme/hostile-GGUF" });
    expect(response.status).toBe(201);
    expect(response.body.artifacts.map((a: { filename: string }) => a.filename)).toEqual([
      "good-Q4_K_M.gguf",
    ]);
    expect(response.body.warnings.filter((w: string) => w.startsWith("Ignored hub file"))).toHaveLength(3);
  });

  it("answers 424 when the hub cannot be reached and the repo was never fetched", async () => {
    hub.addRepo({ id: "acme/never-fetched", files: [{ path: "n-Q4_K_M.gguf", content: fakeBytes("n") }] });
    hub.setFaults({ unreachable: true });
    expect(expectError(await register({ url: "acme/never-fetched" }), 424, "hub.unreachable")).toMatch(
      /cannot be reached/,
    );
    expect((await server.request("GET", "/v0/models")).body.total).toBe(0);
  });

  it("falls back to the last good metadata, marked stale with its age, when the hub fails", async () => {
    expect((await register({ url: "acme/tiny-GGUF" })).status).toBe(201);
    await server.request("DELETE", `/v0/models/${encodeURIComponent("acme/tiny-GGUF")}`);
    hub.setFaults({ apiStatus: 503 });
    const response = await register({ url: "acme/tiny-GGUF" });
    expect(response.status).toBe(201);
    expect(response.body.stale.age_seconds).toBeGreaterThanOrEqual(0);
    expect(response.body.warnings[0]).toMatch(/^The hub answered 503: used the metadata cached \d+ s ago\.$/);
    expect(response.body.artifacts.length).toBe(5);
  });

  it("registers a repo the Hugging Face cache holds while offline (or HF_HUB_OFFLINE), from its files there", async () => {
    for (const offline of [false, true]) {
      const local = await startCore({
        hubEndpoint: offline ? hub.url : "http://127.0.0.1:9",
        ...(offline && { config: { hubOffline: true } }),
      });
      try {
        // What huggingface-cli (or another llmlb) left there: one quantization of the repo, at main.
        const gguf = fakeBytes("cached gguf");
        const commit = "d".repeat(40);
        layInCache(local.dataDir, "someone/cached-GGUF", commit, "c-Q4_K_M.gguf", gguf);
        const asked = hub.requests.length;

        const response = await local.request("POST", "/v0/models/register", {
          body: { url: "someone/cached-GGUF" },
        });
        expect(response.status).toBe(201);
        const registered = registerResponseSchema.parse(response.body);
        expect(registered).toMatchObject({ commit, name: "someone/cached-GGUF" });
        expect(registered.artifacts).toEqual([
          expect.objectContaining({
            filename: "c-Q4_K_M.gguf",
            size_bytes: gguf.length,
            sha256: sha256Hex(gguf),
          }),
        ]);
        expect(registered.warnings[0]).toMatch(
          /: used what the Hugging Face cache holds of someone\/cached-GGUF \(commit ddddddd, written \d+ s ago\); only its files there can be served\.$/,
        );
        if (offline) {
          expect(registered.warnings[0]).toMatch(/^HF_HUB_OFFLINE is set, so the hub is not asked/);
          expect(hub.requests.length).toBe(asked);
        }
        // Nothing there at all: what it always said.
        const missing = await local.request("POST", "/v0/models/register", {
          body: { url: "someone/absent-GGUF" },
        });
        expect(expectError(missing, 424, "hub.unreachable")).toMatch(/has never been fetched before/);
      } finally {
        await local.close();
      }
    }
  });

  it("refuses to register a gated repo from cached metadata, since access cannot be checked", async () => {
    const withToken = await startCore({ hubEndpoint: hub.url, config: { hfToken: hub.token } });
    try {
      const first = await withToken.request("POST", "/v0/models/register", {
        body: { url: "acme/gated-GGUF" },
      });
      expect(first.status).toBe(201);
      await withToken.request("DELETE", "/v0/models/acme%2Fgated-GGUF");
      hub.setFaults({ unreachable: true });
      const again = await withToken.request("POST", "/v0/models/register", {
        body: { url: "acme/gated-GGUF" },
      });
      expect(expectError(again, 424, "hub.unreachable")).toMatch(/gated/);
    } finally {
      await withToken.close();
    }
  });

  it("refuses a split set with missing parts, and warns of one in a repo registration", async () => {
    const file = await register({ url: "acme/partial-split-GGUF:Q4_K_M" });
    expect(expectError(file, 422, "hub.no_usable_file")).toMatch(/part\(s\) 3 of 3 are missing/);
    const repo = await register({ url: "acme/partial-split-GGUF" });
    expect(repo.status).toBe(201);
    expect(repo.body.warnings.join(" ")).toMatch(/Split set p-Q4_K_M cannot be loaded/);
  });

  it("does not let a vision projector make a quantization tag ambiguous", async () => {
    const response = await register({ url: "hf.co/acme/vision-GGUF:F16" });
    expect(response.status).toBe(201);
    expect(response.body.name).toBe("acme/vision-GGUF/vision-F16.gguf");
  });

  it("keeps one of two hub files whose names differ only in case, and says so", async () => {
    const response = await register({ url: "acme/case-clash-GGUF" });
    expect(response.status).toBe(201);
    expect(response.body.artifacts).toHaveLength(1);
    expect(response.body.warnings.join(" ")).toMatch(/another file has the same name/);
  });
});

describe("hub rate limits", () => {
  it("passes the hub's Retry-After on when nothing is cached, and waits it out before asking again", async () => {
    // A server of its own: the wait it learns applies to every later registration.
    const own = await startCore({ hubEndpoint: hub.url });
    try {
      hub.addRepo({
        id: "acme/never-fetched-2",
        files: [{ path: "n-Q4_K_M.gguf", content: fakeBytes("n") }],
      });
      hub.setFaults({ apiStatus: 429, retryAfterSeconds: 7 });
      const response = await own.request("POST", "/v0/models/register", {
        body: { url: "acme/never-fetched-2" },
      });
      const message = expectError(response, 424, "hub.rate_limited");
      expect(message).toMatch(/cannot be registered until the hub answers: try again in [67] s\.$/);
      expect(Number(response.headers["retry-after"])).toBeGreaterThanOrEqual(6);
      hub.clearFaults();
      hub.resetStats();
      const during = await own.request("POST", "/v0/models/register", {
        body: { url: "acme/never-fetched-2" },
      });
      expect(expectError(during, 424, "hub.rate_limited")).toMatch(
        /^The hub asked llmlb to wait before asking again \(429\), \d s more\./,
      );
      expect(hub.requests).toHaveLength(0);
    } finally {
      await own.close();
    }
  });
});

describe("POST /v0/models/update", () => {
  const update = (model: string) => server.request("POST", "/v0/models/update", { body: { model } });
  const removedFiles = async () =>
    ((await server.request("GET", "/v0/removed-files")).body as { sha256: string[] }).sha256;

  it("moves a model to its revision's newest commit, keeping its id, aliases and settings", async () => {
    const first = fakeBytes("first weights");
    hub.addRepo({ id: "acme/moving-GGUF", files: [{ path: "m-Q4_K_M.gguf", content: first }] });
    const registered = registerResponseSchema.parse(
      (await register({ url: "acme/moving-GGUF:Q4_K_M" })).body,
    );
    const name = registered.name;
    await server.request("PATCH", `/v0/models/${encodeURIComponent(name)}`, {
      body: { settings: { parallel: 2 } },
    });

    const upToDate = await update("acme/moving-GGUF:Q4_K_M");
    expect(upToDate.status).toBe(200);
    expect(upToDate.body).toMatchObject({
      updated: false,
      from_commit: registered.commit,
      to_commit: registered.commit,
      message: `${name} is up to date: main is still at ${registered.commit.slice(0, 7)}.`,
    });

    // The publisher pushes new weights: main moves.
    const second = fakeBytes("second, better weights");
    hub.addRepo({ id: "acme/moving-GGUF", files: [{ path: "m-Q4_K_M.gguf", content: second }] });
    const moved = await update(name);
    expect(moved.status).toBe(200);
    const body = moved.body as { model: { commit: string; artifacts: { sha256: string }[] } } & Record<
      string,
      unknown
    >;
    expect(body).toMatchObject({ updated: true, from_commit: registered.commit });
    expect(body.to_commit).not.toBe(registered.commit);
    expect(body.model).toMatchObject({
      name,
      commit: body.to_commit,
      aliases: ["acme/moving-GGUF:Q4_K_M"],
      settings: expect.objectContaining({ parallel: 2 }),
    });
    expect(body.model.artifacts.map((artifact) => artifact.sha256)).toEqual([sha256Hex(second)]);
    expect(body.message).toMatch(/: nodes fetch its files there, and serve it again once they have them\.$/);
    // Its old file is for nodes to delete; its new one is not.
    expect(await removedFiles()).toContain(sha256Hex(first));
    expect(await removedFiles()).not.toContain(sha256Hex(second));

    // The file is gone at the newest commit: it stays as it was, and says what to do.
    hub.addRepo({ id: "acme/moving-GGUF", files: [{ path: "m-Q8_0.gguf", content: fakeBytes("other") }] });
    const gone = await update(name);
    expect(expectError(gone, 404, "hub.file_not_found")).toMatch(
      /^main of acme\/moving-GGUF moved to \w{7}, where .* cannot be what it was: .* It stays at \w{7}; register what the repo holds now as another model\.$/,
    );
    expect((await server.request("GET", `/v0/models/${encodeURIComponent(name)}`)).body.commit).toBe(
      body.to_commit,
    );
  });

  it("lists all the files of a model registered offline from what the cache held, once the hub answers", async () => {
    const held = fakeBytes("held gguf");
    const commit = "e".repeat(40);
    hub.addRepo({
      id: "someone/partly-GGUF",
      sha: commit,
      files: [
        { path: "p-Q4_K_M.gguf", content: held },
        { path: "p-Q8_0.gguf", content: fakeBytes("not held", 8192) },
      ],
    });
    const local = await startCore({ hubEndpoint: hub.url });
    try {
      layInCache(local.dataDir, "someone/partly-GGUF", commit, "p-Q4_K_M.gguf", held);
      hub.setFaults({ unreachable: true });
      const registered = await local.request("POST", "/v0/models/register", {
        body: { url: "someone/partly-GGUF" },
      });
      expect(registered.body.artifacts.map((a: { filename: string }) => a.filename)).toEqual([
        "p-Q4_K_M.gguf",
      ]);
      hub.clearFaults();
      const updated = await local.request("POST", "/v0/models/update", {
        body: { model: "someone/partly-GGUF" },
      });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({
        updated: true,
        from_commit: commit,
        to_commit: commit,
        message:
          "someone/partly-GGUF lists all its files at eeeeeee now (it was registered from what the cache held).",
      });
      expect(updated.body.model.artifacts.map((a: { filename: string }) => a.filename).sort()).toEqual([
        "p-Q4_K_M.gguf",
        "p-Q8_0.gguf",
      ]);
    } finally {
      await local.close();
    }
  });

  it("says a model registered at a commit has nothing to update, and refuses one not registered", async () => {
    const commit = registerResponseSchema.parse((await register({ url: "acme/tiny-GGUF" })).body).commit;
    await server.request("DELETE", `/v0/models/${encodeURIComponent("acme/tiny-GGUF")}`);
    const pinned = registerResponseSchema.parse(
      (await register({ url: `https://huggingface.co/acme/tiny-GGUF/tree/${commit}` })).body,
    );
    const answer = await update(pinned.name);
    expect(answer.body).toMatchObject({
      updated: false,
      message: expect.stringContaining("which never changes"),
    });
    expectError(await update("acme/nowhere-GGUF"), 404, "registry.not_found");
  });
});

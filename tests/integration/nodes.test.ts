import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchema, nodeListSchema, openAiModelListSchema, type Model } from "../../src-main/contract";
import { sha256Hex, startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { adminRequest, startServeProcess, type ServeProcess } from "../helpers/cliProcess";
import { childPids, isAlive } from "../helpers/processes";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

// Real `llmlb serve` processes with a real worker each, downloading from the fake hub.
const q4 = generateTinyGguf({ seed: 1 });
const q8 = generateTinyGguf({ seed: 2 });
const big = Buffer.concat([generateTinyGguf({ seed: 3 }), Buffer.alloc(6 * 1024 * 1024, 7)]);
const dropped = Buffer.concat([generateTinyGguf({ seed: 6 }), Buffer.alloc(6 * 1024 * 1024, 8)]);
const deletedLater = generateTinyGguf({ seed: 7 });

let hub: FakeHub;
let temp: { path: string; remove(): Promise<void> };
let cacheDir: string;
let env: NodeJS.ProcessEnv;
let serve: ServeProcess;

const api = <T>(method: string, url: string, body?: unknown) =>
  adminRequest<T>(serve.url, path.join(temp.path, "data"), method, url, body);

async function model(id: string): Promise<Model> {
  return modelSchema.parse((await api("GET", `/v0/models/${encodeURIComponent(id)}`)).body);
}

async function waitForState(id: string, state: string, timeoutMs = 30_000): Promise<Model> {
  return waitFor(
    `${id} to be ${state}`,
    async () => {
      const m = await model(id);
      return m.nodes.some((node) => node.state === state) ? m : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

function repoDir(repo: string): string {
  return path.join(cacheDir, `models--${repo.replace("/", "--")}`);
}

beforeAll(async () => {
  hub = await startFakeHub({
    repos: [
      {
        id: "acme/tiny-llama-GGUF",
        files: [
          { path: "tiny-llama-Q4_K_M.gguf", content: q4 },
          { path: "tiny-llama-Q8_0.gguf", content: q8 },
        ],
      },
      { id: "acme/corrupt-GGUF", files: [{ path: "c-Q4_K_M.gguf", content: q8 }] },
      { id: "acme/busy-GGUF", files: [{ path: "b-Q4_K_M.gguf", content: generateTinyGguf({ seed: 4 }) }] },
      { id: "acme/big-GGUF", files: [{ path: "big-Q4_K_M.gguf", content: big }] },
      { id: "acme/dropped-GGUF", files: [{ path: "d-Q4_K_M.gguf", content: dropped }] },
      { id: "acme/deleted-GGUF", files: [{ path: "del-Q4_K_M.gguf", content: deletedLater }] },
      {
        id: "acme/soon-gated-GGUF",
        files: [{ path: "s-Q4_K_M.gguf", content: generateTinyGguf({ seed: 5 }) }],
      },
    ],
  });
  temp = await makeTempDir();
  cacheDir = path.join(temp.path, "hub");
  env = {
    HF_ENDPOINT: hub.url,
    HF_HUB_CACHE: cacheDir,
    LLMLB_DATA_DIR: path.join(temp.path, "data"),
    LLMLB_LOG_LEVEL: "warn",
  };
  serve = await startServeProcess(["--port", "0", "--workers", "1"], env);
});
afterAll(async () => {
  await serve?.stop();
  await hub.close();
  await temp.remove();
});

describe("a registered model", () => {
  it("is downloaded by the worker into the Hugging Face cache and becomes ready", async () => {
    expect((await api("POST", "/v0/models/register", { url: "acme/tiny-llama-GGUF" })).status).toBe(201);
    const ready = await waitForState("acme/tiny-llama-GGUF", "ready");
    expect(ready.ready).toBe(true);
    expect(ready.nodes[0]).toMatchObject({ state: "ready", artifact: "tiny-llama-Q4_K_M.gguf" });
    const v1 = openAiModelListSchema.parse((await api("GET", "/v1/models")).body);
    expect(v1.data.find((m) => m.id === "acme/tiny-llama-GGUF")?.ready).toBe(true);

    const blob = path.join(repoDir("acme/tiny-llama-GGUF"), "blobs", sha256Hex(q4));
    expect(fs.readFileSync(blob).equals(q4)).toBe(true);
    const link = path.join(
      repoDir("acme/tiny-llama-GGUF"),
      "snapshots",
      ready.commit,
      "tiny-llama-Q4_K_M.gguf",
    );
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.realpathSync(link)).toBe(fs.realpathSync(blob));
    expect(fs.readFileSync(path.join(repoDir("acme/tiny-llama-GGUF"), "refs", "main"), "utf8").trim()).toBe(
      ready.commit,
    );
    // The Q8_0 file was not chosen, so it was not fetched.
    expect(fs.existsSync(path.join(repoDir("acme/tiny-llama-GGUF"), "blobs", sha256Hex(q8)))).toBe(false);

    const nodes = nodeListSchema.parse((await api("GET", "/v0/nodes")).body);
    expect(nodes.data).toHaveLength(1);
    expect(nodes.data[0]).toMatchObject({ status: "online", backend: "cpu" });
  });

  it("with a corrupted byte never becomes ready: an error that names the checksum, and nothing published", async () => {
    hub.setFaults({ flipByteAt: 100 });
    try {
      expect((await api("POST", "/v0/models/register", { url: "acme/corrupt-GGUF" })).status).toBe(201);
      const failed = await waitForState("acme/corrupt-GGUF", "error");
      const node = failed.nodes[0]!;
      expect(node.state === "error" && node.message).toMatch(/checksum|sha256/i);
      expect(failed.ready).toBe(false);
      expect(fs.existsSync(path.join(repoDir("acme/corrupt-GGUF"), "blobs", sha256Hex(q8)))).toBe(false);
      expect(fs.existsSync(path.join(repoDir("acme/corrupt-GGUF"), "snapshots"))).toBe(false);
    } finally {
      hub.clearFaults();
    }
  });

  it("rate-limited by the hub (429) is retried after the wait and becomes ready", async () => {
    hub.setFaults({ downloadStatus: 429, retryAfterSeconds: 1 });
    hub.resetStats();
    expect((await api("POST", "/v0/models/register", { url: "acme/busy-GGUF" })).status).toBe(201);
    await waitFor("a 429 to reach the worker", () => hub.requests.some((r) => r.status === 429), {
      timeoutMs: 15_000,
    });
    hub.clearFaults();
    await waitForState("acme/busy-GGUF", "ready");
  });

  it("whose files need a token the node does not have reports an error telling the user to set one", async () => {
    expect((await api("POST", "/v0/models/register", { url: "acme/soon-gated-GGUF" })).status).toBe(201);
    // Gated after registration: the node's download is refused.
    hub.addRepo({
      id: "acme/soon-gated-GGUF",
      gated: true,
      files: [{ path: "s-Q4_K_M.gguf", content: generateTinyGguf({ seed: 5 }) }],
    });
    const failed = await waitForState("acme/soon-gated-GGUF", "error");
    const node = failed.nodes[0]!;
    expect(node.state === "error" && node.message).toMatch(/Hugging Face token/);
  });

  it("that needed a token downloads as soon as one is set, by the same worker, at once", async () => {
    const processes = childPids(serve.child.pid!);
    expect((await api("PUT", "/v0/settings", { hf_token: hub.token })).status).toBe(200);
    // At once: well before the 15 s a failed model otherwise waits to be tried again.
    await waitForState("acme/soon-gated-GGUF", "ready", 10_000);
    expect(childPids(serve.child.pid!)).toEqual(processes);
    expect((await api("PUT", "/v0/settings", { hf_token: null })).status).toBe(200);
  });

  it("when deleted, has its files dropped from the cache by the node that fetched them", async () => {
    const blob = path.join(repoDir("acme/tiny-llama-GGUF"), "blobs", sha256Hex(q4));
    const foreign = path.join(repoDir("acme/tiny-llama-GGUF"), "blobs", "f".repeat(64));
    fs.writeFileSync(foreign, "fetched by another tool");
    const ref = path.join(repoDir("acme/tiny-llama-GGUF"), "refs", "main");
    expect(fs.existsSync(ref)).toBe(true);
    expect((await api("DELETE", "/v0/models/acme%2Ftiny-llama-GGUF")).status).toBe(204);
    const snapshots = path.join(repoDir("acme/tiny-llama-GGUF"), "snapshots");
    // The snapshot link goes first, then the blob, then the ref (the node tidies the repo once its files are gone):
    // no ref is left naming a snapshot that is gone, which huggingface_hub's scan would call corrupted.
    await waitFor(
      "the blob, the snapshot and the ref to be removed",
      () => !fs.existsSync(blob) && !fs.existsSync(snapshots) && !fs.existsSync(ref),
      { timeoutMs: 15_000 },
    );
    expect(fs.existsSync(foreign)).toBe(true);
  });
});

describe("a ready model whose files another program deletes from the cache", () => {
  const id = "acme/deleted-GGUF";
  // What huggingface_hub's delete_revisions leaves: no snapshot of the revision, no blob.
  const deleteRevision = (commit: string) => {
    fs.rmSync(path.join(repoDir(id), "snapshots", commit), { recursive: true, force: true });
    fs.rmSync(path.join(repoDir(id), "blobs", sha256Hex(deletedLater)), { force: true });
  };
  const chat = () =>
    fetch(`${serve.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: id, messages: [{ role: "user", content: "Hi" }], max_tokens: 4 }),
    });
  const blob = () => path.join(repoDir(id), "blobs", sha256Hex(deletedLater));

  it("is noticed at the next request, which is answered once the node has downloaded it again", async () => {
    expect((await api("POST", "/v0/models/register", { url: id })).status).toBe(201);
    const { commit } = await waitForState(id, "ready");
    expect((await chat()).status).toBe(200);

    deleteRevision(commit);
    const answer = await chat();
    const text = await answer.text();
    // Answered once the file is back, or told that it is downloading again; never a 502.
    if (answer.status !== 200) {
      expect(answer.status, text).toBe(503);
      expect(text).toMatch(/download/i);
    }
    await waitForState(id, "ready");
    expect(fs.readFileSync(blob()).equals(deletedLater)).toBe(true);
    expect((await chat()).status).toBe(200);
  });

  it("is noticed by the node's sync without any request, and downloaded again", async () => {
    const { commit } = await waitForState(id, "ready");
    deleteRevision(commit);
    await waitFor("the file downloaded again", () => fs.existsSync(blob()), { timeoutMs: 20_000 });
    expect(fs.readFileSync(blob()).equals(deletedLater)).toBe(true);
    await waitForState(id, "ready");
    expect((await chat()).status).toBe(200);
  });
});

describe("a model deleted while it downloads", () => {
  it("stops downloading and leaves no partial file in the cache", async () => {
    hub.setFaults({ throttleBytesPerSecond: 1024 * 1024 });
    hub.resetStats();
    try {
      expect((await api("POST", "/v0/models/register", { url: "acme/dropped-GGUF" })).status).toBe(201);
      const blobs = path.join(repoDir("acme/dropped-GGUF"), "blobs");
      await waitFor(
        "a partial file with some bytes",
        async () => {
          const node = (await model("acme/dropped-GGUF")).nodes[0];
          return node?.state === "downloading" && node.bytes_done > 0;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      expect(fs.readdirSync(blobs).some((name) => name.endsWith(".incomplete"))).toBe(true);

      expect((await api("DELETE", "/v0/models/acme%2Fdropped-GGUF")).status).toBe(204);
      // The partial file, its sidecar and its lock, then the repo's folder, empty.
      await waitFor("the repo's folder to be removed", () => !fs.existsSync(repoDir("acme/dropped-GGUF")), {
        timeoutMs: 15_000,
      });
      expect(hub.bytesServed()).toBeLessThan(dropped.length);
    } finally {
      hub.clearFaults();
    }
  });
});

describe("a worker killed mid-download", () => {
  it("is restarted and resumes from its partial file", async () => {
    hub.setFaults({ throttleBytesPerSecond: 2 * 1024 * 1024 });
    hub.resetStats();
    try {
      expect((await api("POST", "/v0/models/register", { url: "acme/big-GGUF" })).status).toBe(201);
      await waitFor(
        "a quarter of the download",
        async () => {
          const node = (await model("acme/big-GGUF")).nodes[0];
          return node?.state === "downloading" && node.bytes_done > big.length / 4;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const [worker] = childPids(serve.child.pid!);
      expect(worker).toBeDefined();
      process.kill(worker!, "SIGKILL");
      await waitFor("a new worker", () => childPids(serve.child.pid!).some((pid) => pid !== worker), {
        timeoutMs: 15_000,
      });
      hub.clearFaults();
      await waitForState("acme/big-GGUF", "ready", 60_000);
      expect(hub.bytesServed()).toBeLessThan(1.5 * big.length);
    } finally {
      hub.clearFaults();
    }
  });
});

describe("its own worker, once the node token is replaced", () => {
  it("joins again after a restart, and is not removed while it runs, even by force", async () => {
    const nodes = async () => nodeListSchema.parse((await api("GET", "/v0/nodes")).body).data;
    const [own] = await nodes();
    expect(own).toMatchObject({ status: "online", local: true });
    expect((await api("POST", "/v0/nodes/join/token")).status).toBe(200);

    const refused = await api<{ error: { message: string } }>(
      "DELETE",
      `/v0/nodes/${encodeURIComponent(own!.name)}?force=true`,
    );
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe(
      `Node ${own!.name} is one of this llmlb's own workers, and runs: it would join again at once. The workers llmlb starts are chosen with --workers.`,
    );

    // Killed, it is started again, and registers with this llmlb's own secret, not the node token.
    const [worker] = childPids(serve.child.pid!);
    process.kill(worker!, "SIGKILL");
    await waitFor(
      "the restarted worker online",
      async () =>
        (await nodes()).some(
          (node) =>
            node.name === own!.name &&
            node.status === "online" &&
            Date.parse(node.registered_at) > Date.parse(own!.registered_at),
        ),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  });
});

describe("restarting the control plane on the same cache", () => {
  it("finds the model ready without downloading it again", async () => {
    await serve.stop();
    hub.resetStats();
    serve = await startServeProcess(["--port", "0", "--workers", "1"], env);
    await waitForState("acme/big-GGUF", "ready");
    expect(hub.bytesServed()).toBe(0);
  });
});

describe("the control plane killed with SIGKILL", () => {
  it("leaves no worker behind", async () => {
    await waitFor("a worker", () => childPids(serve.child.pid!).length > 0);
    const workers = childPids(serve.child.pid!);
    serve.child.kill("SIGKILL");
    await waitFor("every worker to exit", () => workers.every((pid) => !isAlive(pid)), { timeoutMs: 15_000 });
  });
});

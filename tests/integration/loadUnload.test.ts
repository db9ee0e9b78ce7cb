import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Model, NodeList } from "../../src-main/contract";
import { runCli } from "../helpers/cliProcess";
import { startFakeOpenAiServer, type FakeOpenAiServer } from "../helpers/fakeOpenAiServer";
import { fakeBytes } from "../helpers/hubRepos";
import { serveTinyModel, tinyModel, type TinyModelServe } from "../helpers/tinyModelServe";
import { waitFor } from "../helpers/waitFor";

const brokenModel = "acme/broken-GGUF";
let served: TinyModelServe;
let endpoint: FakeOpenAiServer;
let workers: string[];

beforeAll(async () => {
  served = await serveTinyModel({
    workers: 2,
    repos: [{ id: brokenModel, files: [{ path: "broken-Q4_K_M.gguf", content: fakeBytes("not a gguf") }] }],
  });
  endpoint = await startFakeOpenAiServer({ name: "other", models: ["other-model"] });
  expect((await served.admin("POST", "/v0/endpoints", { name: "other", url: endpoint.url })).status).toBe(
    201,
  );
  workers = (await nodes()).data.filter((node) => node.kind === "worker").map((node) => node.name);
  expect(workers).toHaveLength(2);
}, 120_000);

afterAll(async () => {
  await served?.close();
  await endpoint?.close();
});

async function nodes(): Promise<NodeList> {
  return (await served.admin<NodeList>("GET", "/v0/nodes")).body;
}

/** The workers that report `model` in memory (loaded, not loading), as their heartbeats say. */
async function holding(model: string): Promise<string[]> {
  return (await nodes()).data
    .filter((node) => node.loaded.some((entry) => entry.model === model && !entry.loading_since))
    .map((node) => node.name)
    .sort();
}

async function chat(): Promise<number> {
  const response = await fetch(`${served.serve.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: tinyModel, messages: [{ role: "user", content: "Hi" }], max_tokens: 2 }),
  });
  await response.text();
  return response.status;
}

describe("llmlb model load and unload", () => {
  it("loads nothing on a drained worker, which takes no requests, unless it is named", async () => {
    const [first, second] = workers as [string, string];
    expect((await served.admin("PUT", `/v0/nodes/${first}/draining`, { draining: true })).status).toBe(200);
    try {
      const load = await served.admin("POST", "/v0/models/load", { model: tinyModel });
      expect(load.body.nodes).toEqual([{ node_name: second, outcome: "loaded" }]);
      const named = await served.admin("POST", "/v0/models/load", { model: tinyModel, node: first });
      expect(named.body.nodes).toEqual([{ node_name: first, outcome: "loaded" }]);
    } finally {
      await served.admin("PUT", `/v0/nodes/${first}/draining`, { draining: false });
      await served.admin("POST", "/v0/models/unload", { model: tinyModel });
    }
  });

  it("loads a ready model on every worker before any request, and says so for each", async () => {
    expect(await holding(tinyModel)).toEqual([]);
    const result = await runCli(["model", "load", tinyModel], served.env);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    for (const worker of workers) expect(result.stdout).toContain(`${tinyModel} on ${worker}: loaded`);
    // Listed so as soon as the command has said so, not at the workers' next heartbeat.
    expect(await holding(tinyModel)).toEqual([...workers].sort());
  });

  it("keeps it loaded when another id of its file is set anew or removed: that load is not the other's", async () => {
    const model = (await served.admin<Model>("GET", `/v0/models/${tinyModel}`)).body;
    const fileId = `${tinyModel}/${model.artifacts.find((artifact) => artifact.format === "gguf")!.filename}`;
    expect((await served.admin("POST", "/v0/models/register", { url: fileId })).status).toBe(201);
    const statesOf = async (id: string) =>
      (await nodes()).data.filter((node) =>
        node.models.some((state) => state.model === id && state.state === "ready"),
      );
    await waitFor("the file's id ready on both workers", async () => (await statesOf(fileId)).length === 2);
    expect(
      (await served.admin("PATCH", `/v0/models/${encodeURIComponent(fileId)}`, { settings: { parallel: 2 } }))
        .status,
    ).toBe(200);
    expect((await served.admin("DELETE", `/v0/models/${encodeURIComponent(fileId)}`)).status).toBe(204);
    await waitFor("the workers to let the file's id go", async () =>
      (await nodes()).data.every((node) => node.models.every((state) => state.model !== fileId)),
    );
    expect(await holding(tinyModel)).toEqual([...workers].sort());
  });

  it("unloads it on one worker, which frees it there only", async () => {
    const [first, second] = workers as [string, string];
    const result = await runCli(["model", "unload", tinyModel, "--node", first], served.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Unloaded ${tinyModel} on ${first}.\n`);
    expect(await holding(tinyModel)).toEqual([second]);
  });

  it("unloads it everywhere; asked again, says it was not loaded; a request then loads it again", async () => {
    const result = await runCli(["model", "unload", tinyModel], served.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Unloaded ${tinyModel} on `));
    await waitFor("no worker to report it loaded", async () => (await holding(tinyModel)).length === 0);
    const again = await runCli(["model", "unload", tinyModel], served.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`${tinyModel} was not loaded on any online node.\n`);
    expect(await chat()).toBe(200);
    await waitFor("a worker to report it loaded again", async () => (await holding(tinyModel)).length === 1);
  });

  it("with --ttl, keeps it loaded that long idle, then lets it go, whatever its setting", async () => {
    const [first] = workers as [string, string];
    await served.admin("POST", "/v0/models/unload", { model: tinyModel });
    await waitFor("no worker to report it loaded", async () => (await holding(tinyModel)).length === 0);
    const result = await runCli(["model", "load", tinyModel, "--node", first, "--ttl", "2"], served.env);
    expect(result).toMatchObject({ code: 0, stdout: `${tinyModel} on ${first}: loaded\n` });
    expect(await holding(tinyModel)).toEqual([first]);
    // Its setting would keep it 10 minutes.
    await waitFor("the idle model to be let go of", async () => (await holding(tinyModel)).length === 0, {
      timeoutMs: 20_000,
    });
    const never = await runCli(["model", "load", tinyModel, "--ttl", "0"], served.env);
    expect(never).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("Must be a whole number of seconds from 1 to"),
    });
  });

  it("lets a loaded model go by its idle time set since, not the one it was loaded with", async () => {
    const [first] = workers as [string, string];
    const load = await served.admin("POST", "/v0/models/load", { model: tinyModel, node: first });
    expect(load.body.nodes).toEqual([{ node_name: first, outcome: "loaded" }]);
    // Loaded to be kept the default 10 minutes idle, which its node says and `llmlb status` shows (as
    // Ollama's ps says UNTIL).
    const idleUntil = async () => {
      const entry = (await nodes()).data
        .find((node) => node.name === first)!
        .loaded.find((loaded) => loaded.model === tinyModel);
      return entry?.idle_until === undefined ? undefined : Date.parse(entry.idle_until) - Date.now();
    };
    await waitFor("its node to say when it unloads", async () => (await idleUntil()) !== undefined);
    expect(await idleUntil()).toBeGreaterThan(590_000);
    expect(await idleUntil()).toBeLessThanOrEqual(600_000);
    expect((await runCli(["status"], served.env)).stdout).toMatch(
      new RegExp(
        `${first}: ${tinyModel} \\(0/\\d+ sequences busy; unloads in 10 min unless a request comes\\)`,
      ),
    );
    // Then set to 2 s.
    const path = `/v0/models/${encodeURIComponent(tinyModel)}`;
    expect((await served.admin("PATCH", path, { settings: { idle_ttl_seconds: 2 } })).status).toBe(200);
    try {
      await waitFor("its node to say it unloads sooner", async () => ((await idleUntil()) ?? 0) < 2_000);
      await waitFor("the idle model to be let go of", async () => (await holding(tinyModel)).length === 0, {
        timeoutMs: 20_000,
      });
    } finally {
      await served.admin("PATCH", path, { settings: { idle_ttl_seconds: null } });
    }
  });

  it("says on a whole answer how long it waited for its model to load, which is not the node's speed", async () => {
    await served.admin("POST", "/v0/models/unload", { model: tinyModel });
    await waitFor("no worker to report it loaded", async () => (await holding(tinyModel)).length === 0);
    const ask = () =>
      fetch(`${served.serve.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: tinyModel,
          messages: [{ role: "user", content: "Hi" }],
          max_tokens: 2,
        }),
      });
    const cold = await ask();
    await cold.text();
    expect(Number(cold.headers.get("x-llmlb-model-wait-ms"))).toBeGreaterThan(0);
    const loaded = await holding(tinyModel);
    // Again on the worker that loaded it: no wait, no header.
    await served.admin("PUT", `/v0/nodes/${workers.find((name) => !loaded.includes(name))}/draining`, {
      draining: true,
    });
    try {
      const warm = await ask();
      await warm.text();
      expect(warm.headers.get("x-llmlb-model-wait-ms")).toBeNull();
    } finally {
      for (const name of workers)
        await served.admin("PUT", `/v0/nodes/${name}/draining`, { draining: false });
    }
  });

  it("fails, saying so for each worker, for a model no worker has ready", async () => {
    await served.admin("POST", "/v0/models/register", { url: brokenModel });
    const result = await runCli(["model", "load", brokenModel], served.env);
    expect(result.code).toBe(1);
    for (const worker of workers)
      expect(result.stdout).toContain(`${brokenModel} on ${worker}: not ready there`);
    expect(result.stderr).toContain(`error: No worker loaded ${brokenModel} now: each said why above.`);
  });

  it("refuses an endpoint's model, a model not registered and a node not known, saying why", async () => {
    const before = await holding(tinyModel);
    const external = await served.admin("POST", "/v0/models/load", { model: "other-model" });
    expect(external.status).toBe(409);
    expect(external.body.error.message).toContain("served by an endpoint");
    const unknown = await served.admin("POST", "/v0/models/unload", { model: "acme/nothing" });
    expect(unknown.status).toBe(404);
    const noNode = await served.admin("POST", "/v0/models/load", { model: tinyModel, node: "nowhere" });
    expect(noNode.status).toBe(404);
    expect(noNode.body.error.message).toContain("nowhere");
    const endpointNode = await served.admin("POST", "/v0/models/load", { model: tinyModel, node: "other" });
    expect(endpointNode.status).toBe(409);
    expect(endpointNode.body.error.message).toBe(
      "other is an endpoint, which loads and unloads its models itself.",
    );
    const bad = await served.admin("POST", "/v0/models/unload", { model: tinyModel, extra: 1 });
    expect(bad.status).toBe(400);
    expect(await holding(tinyModel)).toEqual(before);
  });
});

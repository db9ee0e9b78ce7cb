import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultModelSettings, modelListSchema, modelSchema } from "../../src-main/contract";
import { startFakeNode, type FakeNode } from "../helpers/fakeNode";
import { startFakeOpenAiServer } from "../helpers/fakeOpenAiServer";
import { startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";
import { waitFor } from "../helpers/waitFor";

let server: TestServerWithHub;
let gpu0: FakeNode;
const model = "acme/tiny-GGUF/tiny-Q8_0.gguf";
const path = `/v0/models/${encodeURIComponent(model)}`;

beforeAll(async () => {
  server = await startCoreWithHub({
    core: { nodeTimings: { heartbeatIntervalMs: 100, offlineAfterMs: 500 } },
  });
  expect((await server.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(201);
  gpu0 = await startFakeNode(server, { name: "gpu0", ready: [model] });
});
afterAll(async () => {
  await gpu0.close();
  await server.close();
});

describe("PATCH /v0/models/<id>: per-model settings", () => {
  it("starts at the defaults, where the node decides", async () => {
    const shown = modelSchema.parse((await server.request("GET", path)).body);
    expect(shown.settings).toEqual(defaultModelSettings);
    expect(shown.aliases).toEqual([]);
  });

  it("changes only the settings named, keeps them, and puts one back with null", async () => {
    const changed = await server.request("PATCH", path, {
      body: { settings: { context_size: 256, context_overflow: "truncate_oldest", parallel: 2 } },
    });
    expect(changed.status).toBe(200);
    expect(modelSchema.parse(changed.body).settings).toEqual({
      ...defaultModelSettings,
      context_size: 256,
      context_overflow: "truncate_oldest",
      parallel: 2,
    });
    await server.request("PATCH", path, { body: { settings: { idle_ttl_seconds: 30, parallel: null } } });
    const listed = modelListSchema.parse((await server.request("GET", "/v0/models")).body);
    expect(listed.data.find((entry) => entry.name === model)!.settings).toEqual({
      ...defaultModelSettings,
      context_size: 256,
      context_overflow: "truncate_oldest",
      idle_ttl_seconds: 30,
    });
    await server.request("PATCH", path, {
      body: { settings: { context_size: null, context_overflow: null, idle_ttl_seconds: null } },
    });
    expect((await server.request("GET", path)).body.settings).toEqual(defaultModelSettings);
  });

  it("pins a model to named worker nodes, and refuses a name no node has", async () => {
    // Named twice, kept once.
    const pinned = await server.request("PATCH", path, { body: { settings: { nodes: ["gpu0", "gpu0"] } } });
    expect(pinned.body.settings.nodes).toEqual(["gpu0"]);
    const unknown = await server.request("PATCH", path, { body: { settings: { nodes: ["gpu7"] } } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toBe("No node is named gpu7. Nodes: gpu0.");
    expect(unknown.body.error.param).toBe("settings.nodes");
    // The failed change changed nothing.
    expect((await server.request("GET", path)).body.settings.nodes).toEqual(["gpu0"]);
    await server.request("PATCH", path, { body: { settings: { nodes: null } } });
    expect((await server.request("GET", path)).body.settings.nodes).toEqual([]);
  });

  it("registers a model pinned from the start, so no other node begins to download it; a pin to no node registers nothing", async () => {
    const other = "acme/tiny-GGUF/tiny-Q4_K_M.gguf";
    const unknown = await server.request("POST", "/v0/models/register", {
      body: { url: other, settings: { nodes: ["gpu7"] } },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({
      param: "settings.nodes",
      message: "No node is named gpu7. Nodes: gpu0.",
    });
    expect((await server.request("GET", `/v0/models/${encodeURIComponent(other)}`)).status).toBe(404);

    const pinned = await server.request("POST", "/v0/models/register", {
      body: { url: other, settings: { nodes: ["gpu0"], context_size: 512 } },
    });
    expect(pinned.status).toBe(201);
    expect(pinned.body.settings).toMatchObject({ nodes: ["gpu0"], context_size: 512 });
    // What a node syncs: the model with its pin, from the first listing on.
    const manifest = await server.request("GET", "/v0/models");
    expect(manifest.body.data.find((entry: { name: string }) => entry.name === other).settings.nodes).toEqual(
      ["gpu0"],
    );
    await server.request("DELETE", `/v0/models/${encodeURIComponent(other)}`);
  });

  it("is ready only where its pin allows: pinned to a node without it, it is not ready anywhere", async () => {
    const gpu2 = await startFakeNode(server, { name: "gpu2", ready: [] });
    try {
      expect((await server.request("GET", path)).body.ready).toBe(true);
      // gpu0 still has it loaded (until its next sync drops it); only gpu2 may serve it, and has it not.
      await server.request("PATCH", path, { body: { settings: { nodes: ["gpu2"] } } });
      expect((await server.request("GET", path)).body.ready).toBe(false);
      const listed = await server.request("GET", "/v1/models");
      expect(listed.body.data.find((entry: { id: string }) => entry.id === model)).toMatchObject({
        ready: false,
      });
      expect((await server.request("GET", "/v0/status")).body.models.ready).toBe(0);
    } finally {
      await gpu2.close();
      await server.request("PATCH", path, { body: { settings: { nodes: null } } });
    }
    expect((await server.request("GET", path)).body.ready).toBe(true);
  });

  it("answers a model pinned to nodes that are all offline with a 503 naming them and the way out", async () => {
    const gpu1 = await startFakeNode(server, { name: "gpu1", ready: [model] });
    await server.request("PATCH", path, { body: { settings: { nodes: ["gpu1"] } } });
    // As a real node does once it has synced: gpu0 no longer offers a model pinned elsewhere.
    await gpu0.report([]);
    gpu1.stopHeartbeats();
    try {
      await waitFor("gpu1 offline", async () =>
        (await server.request("GET", "/v0/nodes")).body.data.some(
          (node: { name: string; status: string }) => node.name === "gpu1" && node.status === "offline",
        ),
      );
      const response = await server.request("POST", "/v1/chat/completions", {
        body: { model, messages: [{ role: "user", content: "hi" }] },
      });
      expect(response.status).toBe(503);
      expect(response.body.error.message).toBe(
        `Model ${model} is pinned to gpu1, and it is not online. Start it again, or let other nodes serve it (llmlb model set ${model} --nodes any).`,
      );
    } finally {
      await gpu1.close();
      await server.request("PATCH", path, { body: { settings: { nodes: null } } });
      await gpu0.report([{ model, artifact: "m.gguf", state: "ready" }]);
    }
  });

  it("answers a model pinned to an endpoint that does not serve it with a 503 at once, not to be retried", async () => {
    const vllm = await startFakeOpenAiServer({ name: "vllm", models: ["org/elsewhere"] });
    try {
      expect(
        (await server.request("POST", "/v0/endpoints", { body: { name: "vllm", url: vllm.url } })).status,
      ).toBe(201);
      await server.request("PATCH", path, { body: { settings: { nodes: ["vllm"] } } });
      const response = await server.request("POST", "/v1/chat/completions", {
        body: { model, messages: [{ role: "user", content: "hi" }] },
      });
      expect(response.status).toBe(503);
      expect(response.headers["x-should-retry"]).toBe("false");
      expect(response.body.error).toMatchObject({
        code: "model_unavailable",
        message: `Model ${model} is pinned to vllm, an endpoint that does not serve it (an endpoint serves only the models it lists). Pin it to nodes that serve it, or let any node serve it (llmlb model set ${model} --nodes any).`,
      });
    } finally {
      await server.request("PATCH", path, { body: { settings: { nodes: null } } });
      await server.request("DELETE", "/v0/endpoints/vllm");
      await vllm.close();
    }
  });

  it("answers to org/repo:QUANT when registered by its file's path, as registering by the tag would name it", async () => {
    // Registered by path in beforeAll: no alias was made for it.
    expect((await server.request("GET", path)).body.aliases).toEqual([]);
    const answered = await server.request("POST", "/v1/chat/completions", {
      body: { model: "acme/tiny-GGUF:q8_0", messages: [{ role: "user", content: "hi" }] },
    });
    expect(answered.status).toBe(200);
    // Sent on under the model's id, as a request by alias is.
    expect(gpu0.received.at(-1)!.body.model).toBe(model);
    expect(
      (await server.request("GET", `/v0/models/${encodeURIComponent("acme/tiny-GGUF:Q8_0")}`)).body.name,
    ).toBe(model);
    // Registering it by the tag says it is there, which the tag now shows too.
    const again = await server.request("POST", "/v0/models/register", {
      body: { url: "acme/tiny-GGUF:Q8_0" },
    });
    expect(again.status).toBe(409);
  });

  it.each([
    [{ context_size: 10 }, "settings.context_size: must be a whole number of tokens from 128 to 1,048,576"],
    [{ parallel: 2.5 }, "settings.parallel: must be a whole number of requests from 1 to 64"],
    [{ idle_ttl_seconds: "soon" }, "settings.idle_ttl_seconds: must be a whole number of seconds from 1"],
  ])("says in one sentence what a number setting takes, for %j", async (settings, says) => {
    const response = await server.request("PATCH", path, { body: { settings } });
    expect(response.status).toBe(400);
    expect(response.body.error.message).toContain(says);
  });

  it.each([
    [{ settings: { context_size: 10 } }, "settings.context_size"],
    [{ settings: { context_size: 4096.5 } }, "settings.context_size"],
    [{ settings: { parallel: 0 } }, "settings.parallel"],
    [{ settings: { context_overflow: "drop" } }, "settings.context_overflow"],
    [{ settings: { colour: "red" } }, "colour"],
    [{ settings: {} }, "settings"],
    [{}, "settings"],
  ])("answers 400 naming the field for %j, and changes nothing", async (body, param) => {
    const response = await server.request("PATCH", path, { body });
    expect(response.status).toBe(400);
    expect(response.body.error.param).toBe(param);
    expect((await server.request("GET", path)).body.settings).toEqual(defaultModelSettings);
  });

  it("answers 404 for a model that is not registered", async () => {
    const response = await server.request("PATCH", "/v0/models/acme/nope", {
      body: { settings: { parallel: 2 } },
    });
    expect(response.status).toBe(404);
  });
});

describe("aliases", () => {
  it("an endpoint's model named like an alias later is not listed as the endpoint's: the alias takes its requests", async () => {
    expect((await server.request("POST", "/v0/aliases", { body: { alias: "small", model } })).status).toBe(
      201,
    );
    // An endpoint added (or whose list grew) since, listing a model named like the alias.
    const vllm = await startFakeOpenAiServer({ name: "vllm", models: ["org/other", "small"] });
    try {
      expect(
        (await server.request("POST", "/v0/endpoints", { body: { name: "vllm", url: vllm.url } })).status,
      ).toBe(201);
      const ids = (await server.request("GET", "/v1/models")).body.data.map(
        (entry: { id: string }) => entry.id,
      );
      expect(ids).toContain("org/other");
      expect(ids).not.toContain("small");
      const listed = modelListSchema.parse((await server.request("GET", "/v0/models")).body);
      expect(listed.data.map((entry) => entry.name)).not.toContain("small");
    } finally {
      await server.request("DELETE", "/v0/endpoints/vllm");
      await server.request("DELETE", "/v0/aliases/small");
      await vllm.close();
    }
  });

  it("names a model by an alias in the management API, listings, search and /v1", async () => {
    const added = await server.request("POST", "/v0/aliases", { body: { alias: "tiny", model } });
    expect(added.status).toBe(201);
    expect(added.body).toEqual({ alias: "tiny", model });
    try {
      expect((await server.request("GET", path)).body.aliases).toEqual(["tiny"]);
      expect((await server.request("GET", "/v0/models/tiny")).body.name).toBe(model);
      expect((await server.request("GET", "/v0/aliases")).body.data).toEqual([{ alias: "tiny", model }]);
      const found = modelListSchema.parse((await server.request("GET", "/v0/models?search=tin")).body);
      expect(found.data.map((entry) => entry.name)).toContain(model);
      expect((await server.request("GET", "/v1/models/tiny")).body.id).toBe(model);

      // A chat for the alias reaches the node as a request for the model, and the answer names it.
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
      await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }] });
      expect(gpu0.received.at(-1)!.body.model).toBe(model);
      expect(gpu0.received.at(-1)!.body.messages).toEqual([{ role: "user", content: "hi" }]);
    } finally {
      expect((await server.request("DELETE", "/v0/aliases/tiny")).body).toEqual({ alias: "tiny", model });
    }
    expect((await server.request("GET", "/v0/models/tiny")).status).toBe(404);
    expect((await server.request("DELETE", "/v0/aliases/tiny")).status).toBe(404);
  });

  it("refuses an alias that is taken, is a model's id, or is not a name, with 409 and 400", async () => {
    expect(
      (await server.request("POST", "/v0/aliases", { body: { alias: "acme/tiny:q8", model } })).status,
    ).toBe(201);
    const other = "acme/tiny-GGUF/tiny-Q4_K_M.gguf";
    expect((await server.request("POST", "/v0/models/register", { body: { url: other } })).status).toBe(201);
    try {
      // Asked again for the same model, it is already so (a script run twice): no error.
      const again = await server.request("POST", "/v0/aliases", { body: { alias: "acme/tiny:q8", model } });
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ alias: "acme/tiny:q8", model });
      const taken = await server.request("POST", "/v0/aliases", {
        body: { alias: "acme/tiny:q8", model: other },
      });
      expect(taken.status).toBe(409);
      expect(taken.body.error.message).toContain(`already an alias of ${model}`);
      const id = await server.request("POST", "/v0/aliases", { body: { alias: model, model } });
      expect(id.status).toBe(409);
      const bad = await server.request("POST", "/v0/aliases", { body: { alias: "has space", model } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.param).toBe("alias");
      const nothing = await server.request("POST", "/v0/aliases", {
        body: { alias: "x", model: "acme/nope" },
      });
      expect(nothing.status).toBe(404);
      // Deleting by an alias would be a surprise: it says which of the two to remove.
      const byAlias = await server.request("DELETE", "/v0/models/acme/tiny:q8");
      expect(byAlias.status).toBe(404);
      expect(byAlias.body.error.message).toContain("llmlb model unalias acme/tiny:q8");
      expect((await server.request("GET", path)).status).toBe(200);
    } finally {
      await server.request("DELETE", "/v0/aliases/acme/tiny:q8");
      await server.request("DELETE", `/v0/models/${encodeURIComponent(other)}`);
    }
  });

  it("gives a model registered as org/repo:TAG that name, which no other model may then take", async () => {
    const registered = await server.request("POST", "/v0/models/register", {
      body: { url: "acme/split-GGUF:Q8_0" },
    });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({
      name: "acme/split-GGUF/big-Q8_0.gguf",
      aliases: ["acme/split-GGUF:Q8_0"],
    });
    expect((await server.request("GET", "/v0/models/acme/split-GGUF:Q8_0")).body.name).toBe(
      "acme/split-GGUF/big-Q8_0.gguf",
    );
    // Removed by the name it was added by, as `ollama rm` takes it; its aliases go with it.
    expect((await server.request("DELETE", "/v0/models/acme/split-GGUF:Q8_0")).status).toBe(204);
    expect((await server.request("GET", "/v0/models/acme/split-GGUF/big-Q8_0.gguf")).status).toBe(404);
    expect((await server.request("GET", "/v0/aliases")).body.data).toEqual([]);
  });

  it("removes a model registered by its file's path by org/repo:QUANT too, the name it answers to", async () => {
    const other = "acme/tiny-GGUF/tiny-Q4_K_M.gguf";
    expect((await server.request("POST", "/v0/models/register", { body: { url: other } })).status).toBe(201);
    expect((await server.request("DELETE", "/v0/models/acme/tiny-GGUF:q4_k_m")).status).toBe(204);
    expect((await server.request("GET", `/v0/models/${encodeURIComponent(other)}`)).status).toBe(404);
    // The other quantization of the repo stays.
    expect((await server.request("GET", path)).status).toBe(200);
  });

  it("removes by a tag only the model the tag names: an alias made by hand of that form is refused", async () => {
    const other = "acme/tiny-GGUF/tiny-Q4_K_M.gguf";
    expect((await server.request("POST", "/v0/models/register", { body: { url: other } })).status).toBe(201);
    // The Q4_K_M tag, pointed by hand at the Q8_0 model.
    expect(
      (await server.request("POST", "/v0/aliases", { body: { alias: "acme/tiny-GGUF:Q4_K_M", model } }))
        .status,
    ).toBe(201);
    try {
      const refused = await server.request("DELETE", "/v0/models/acme/tiny-GGUF:Q4_K_M");
      expect(refused.status).toBe(404);
      expect(refused.body.error.message).toContain("llmlb model unalias acme/tiny-GGUF:Q4_K_M");
      expect((await server.request("GET", path)).status).toBe(200);
      expect((await server.request("GET", `/v0/models/${encodeURIComponent(other)}`)).status).toBe(200);
    } finally {
      await server.request("DELETE", "/v0/aliases/acme/tiny-GGUF:Q4_K_M");
      await server.request("DELETE", `/v0/models/${encodeURIComponent(other)}`);
    }
  });
});

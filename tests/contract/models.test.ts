import crypto from "node:crypto";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  healthSchema,
  manifestSchema,
  modelListSchema,
  modelSchema,
  openAiModelListSchema,
} from "../../src-main/contract";
import type { FakeHub } from "../fixtures/fakeHub";
import { startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";

let hub: FakeHub;
let server: TestServerWithHub;
const ids = ["acme/tiny-GGUF", "acme/tiny-GGUF/tiny-Q8_0.gguf", "acme/split-GGUF", "acme/weights-only"];

beforeAll(async () => {
  server = await startCoreWithHub();
  hub = server.hub;
  for (const url of ids) {
    const response = await server.request("POST", "/v0/models/register", { body: { url } });
    expect(response.status).toBe(201);
  }
});
afterAll(async () => {
  await server?.close();
});

describe("GET /v0/models", () => {
  it("lists every registered model, newest first, with the total", async () => {
    const response = await server.request("GET", "/v0/models");
    expect(response.status).toBe(200);
    const list = modelListSchema.parse(response.body);
    expect(list.total).toBe(4);
    expect(list.data.map((m) => m.name)).toEqual([...ids].reverse());
  });

  it("pages with limit and offset and keeps the total", async () => {
    const page = modelListSchema.parse((await server.request("GET", "/v0/models?limit=2&offset=1")).body);
    expect(page).toMatchObject({ total: 4, limit: 2, offset: 1 });
    expect(page.data.map((m) => m.name)).toEqual([ids[2], ids[1]]);
  });

  it("searches ids and names, treating % and _ literally", async () => {
    const found = modelListSchema.parse((await server.request("GET", "/v0/models?search=tiny")).body);
    expect(found.data.map((m) => m.name).sort()).toEqual([ids[0], ids[1]].sort());
    expect(found.total).toBe(2);
    const literal = modelListSchema.parse((await server.request("GET", "/v0/models?search=%25")).body);
    expect(literal.total).toBe(0);
  });
});

describe("GET /v0/models/<id>", () => {
  it("returns a model whose id contains '/', percent-encoded or not", async () => {
    const encoded = await server.request("GET", `/v0/models/${encodeURIComponent(ids[1]!)}`);
    expect(encoded.status).toBe(200);
    expect(modelSchema.parse(encoded.body).name).toBe(ids[1]);
    const raw = await server.request("GET", `/v0/models/${ids[1]}`);
    expect(raw.body.name).toBe(ids[1]);
  });

  it("finds a model of an org named registry, sent unencoded", async () => {
    hub.addRepo({ id: "registry/m-GGUF", files: [{ path: "m-Q4_K_M.gguf", content: Buffer.from("m") }] });
    expect(
      (await server.request("POST", "/v0/models/register", { body: { url: "registry/m-GGUF" } })).status,
    ).toBe(201);
    try {
      const raw = await server.request("GET", "/v0/models/registry/m-GGUF");
      expect(raw.status).toBe(200);
      expect(raw.body.name).toBe("registry/m-GGUF");
      const manifest = await server.request("GET", "/v0/models/registry/registry/m-GGUF/manifest.json");
      expect(manifest.body.model).toBe("registry/m-GGUF");
    } finally {
      await server.request("DELETE", "/v0/models/registry%2Fm-GGUF");
    }
  });

  it("answers 404 for an unknown id", async () => {
    const response = await server.request("GET", "/v0/models/acme%2Fnothing");
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("registry.not_found");
  });
});

describe("GET /v0/models/registry/<id>/manifest.json", () => {
  it("lists each artifact with the hub's download URL at the commit, which serves exactly those bytes", async () => {
    const response = await server.request(
      "GET",
      `/v0/models/registry/${encodeURIComponent(ids[0]!)}/manifest.json`,
    );
    expect(response.status).toBe(200);
    const manifest = manifestSchema.parse(response.body);
    expect(manifest).toMatchObject({
      model: ids[0],
      repo: "acme/tiny-GGUF",
      revision: "main",
      filename: null,
    });
    const q4 = manifest.artifacts.find((a) => a.filename === "tiny-Q4_K_M.gguf")!;
    expect(q4.url).toBe(`${hub.url}/acme/tiny-GGUF/resolve/${manifest.commit}/tiny-Q4_K_M.gguf`);
    const bytes = Buffer.from(await (await fetch(q4.url)).arrayBuffer());
    expect(bytes.length).toBe(q4.size_bytes);
    expect(crypto.createHash("sha256").update(bytes).digest("hex")).toBe(q4.sha256);
  });

  it("holds only the registered file for a file registration, and 404s for unknown models", async () => {
    const manifest = manifestSchema.parse(
      (await server.request("GET", `/v0/models/registry/${encodeURIComponent(ids[1]!)}/manifest.json`)).body,
    );
    expect(manifest.artifacts.map((a) => a.filename)).toEqual(["tiny-Q8_0.gguf"]);
    expect((await server.request("GET", "/v0/models/registry/acme%2Fnone/manifest.json")).status).toBe(404);
  });
});

describe("GET /v1/models", () => {
  it("lists every registered model in OpenAI's shape, not ready while no node has it", async () => {
    const response = await server.request("GET", "/v1/models", { anonymous: true });
    expect(response.status).toBe(200);
    const list = openAiModelListSchema.parse(response.body);
    expect(list.data.map((m) => m.id).sort()).toEqual([...ids].sort());
    for (const model of list.data) {
      expect(model).toMatchObject({ object: "model", owned_by: "acme", ready: false });
      expect(Math.abs(model.created - Date.now() / 1000)).toBeLessThan(120);
    }
  });
});

describe("GET /v1/models/<id>", () => {
  it("retrieves one model as the OpenAI SDK asks for it, and 404s an unknown one", async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
    for (const id of ["acme/tiny-GGUF", "acme/tiny-GGUF/tiny-Q8_0.gguf"]) {
      expect(await client.models.retrieve(id)).toMatchObject({ id, object: "model", owned_by: "acme" });
    }
    const raw = await server.request("GET", "/v1/models/acme/split-GGUF", { anonymous: true });
    expect(raw.body).toMatchObject({ id: "acme/split-GGUF", ready: false });
    const missing = await client.models.retrieve("acme/nope").catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
  });
});

describe("DELETE /v0/models/<id>", () => {
  it("removes the model from the registry and /v1/models at once, then 404s", async () => {
    const id = ids[3]!;
    expect((await server.request("DELETE", `/v0/models/${encodeURIComponent(id)}`)).status).toBe(204);
    const v1 = openAiModelListSchema.parse((await server.request("GET", "/v1/models")).body);
    expect(v1.data.map((m) => m.id)).not.toContain(id);
    expect((await server.request("GET", `/v0/models/${encodeURIComponent(id)}`)).status).toBe(404);
    const again = await server.request("DELETE", `/v0/models/${encodeURIComponent(id)}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("registry.not_found");
  });
});

describe("GET /v0/health", () => {
  it("answers without a token", async () => {
    const response = await server.request("GET", "/v0/health", { anonymous: true });
    expect(response.status).toBe(200);
    expect(healthSchema.parse(response.body).status).toBe("ok");
  });
});

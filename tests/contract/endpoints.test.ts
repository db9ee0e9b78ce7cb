import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  anthropicErrorBodySchema,
  endpointListSchema,
  endpointSchema,
  modelListSchema,
  nodeListSchema,
  type RequestRecord,
} from "../../src-main/contract";
import { createLogger } from "../../src-main/shared/logger";
import { chatAnswer } from "../helpers/fakeNode";
import { startFakeOpenAiServer, type FakeOpenAiServer } from "../helpers/fakeOpenAiServer";
import { startCore, type TestServer } from "../helpers/startCore";
import { waitFor } from "../helpers/waitFor";

let server: TestServer;
let vllm: FakeOpenAiServer;
const key = "sk-very-secret-key-0001";
/** Everything the core logs, at debug level. */
let logs = "";

async function endpointNames(): Promise<string[]> {
  const list = endpointListSchema.parse((await server.request("GET", "/v0/endpoints")).body);
  return list.data.map((endpoint) => endpoint.name);
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = http.createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  await once(probe, "close");
  return port;
}

beforeAll(async () => {
  server = await startCore({
    // No model is registered here: the hub is never asked.
    hubEndpoint: "http://127.0.0.1:9",
    // No health check runs during these tests: what is seen is what `add` stored.
    core: {
      endpointTimings: { healthIntervalMs: 60_000, probeTimeoutMs: 500 },
      log: createLogger({
        level: "debug",
        destination: new PassThrough().on("data", (chunk: Buffer) => (logs += chunk.toString())),
      }),
    },
  });
  vllm = await startFakeOpenAiServer({ name: "vllm", models: ["meta/llama-3-8b", "qwen-7b"], apiKey: key });
});
afterEach(async () => {
  for (const name of await endpointNames()) await server.request("DELETE", `/v0/endpoints/${name}`);
});
afterAll(async () => {
  await vllm.close();
  await server.close();
});

describe("POST /v0/endpoints", () => {
  it("adds a server with its models, normalizes its URL, and never shows the key", async () => {
    const added = await server.request("POST", "/v0/endpoints", {
      body: { name: "vllm", url: `${vllm.url}/`, api_key: key },
    });
    expect(added.status).toBe(201);
    expect(endpointSchema.parse(added.body)).toMatchObject({
      name: "vllm",
      url: `${vllm.url}/v1`,
      has_api_key: true,
      status: "online",
      last_error: null,
      models: ["meta/llama-3-8b", "qwen-7b"],
    });
    expect(added.body.id).toMatch(/^ep_/);

    const list = await server.request("GET", "/v0/endpoints");
    expect(endpointListSchema.parse(list.body).data).toEqual([added.body]);

    const nodes = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body);
    expect(nodes.data).toEqual([
      expect.objectContaining({
        id: added.body.id,
        name: "vllm",
        kind: "endpoint",
        backend: "external",
        status: "online",
        devices: [],
        memory: { total_bytes: 0, free_bytes: 0 },
        loaded: [],
        models: [
          { model: "meta/llama-3-8b", artifact: null, state: "ready" },
          { model: "qwen-7b", artifact: null, state: "ready" },
        ],
      }),
    ]);

    for (const path of ["/v0/endpoints", "/v0/nodes", "/v1/models", "/v0/models", "/metrics"]) {
      expect((await server.request("GET", path)).text, path).not.toContain(key);
    }
    expect(added.text).not.toContain(key);
    expect(logs).toContain("endpoint added");
    expect(logs).not.toContain(key);
  });

  it("lists the models only it serves with the registered ones, where people look for models", async () => {
    const added = await server.request("POST", "/v0/endpoints", {
      body: { name: "vllm", url: vllm.url, api_key: key },
    });
    expect(added.status).toBe(201);
    const listed = modelListSchema.parse((await server.request("GET", "/v0/models")).body);
    expect(listed.total).toBe(2);
    expect(listed.data.map((m) => m.name)).toEqual(["meta/llama-3-8b", "qwen-7b"]);
    expect(listed.data[0]).toMatchObject({
      source: "endpoint",
      ready: true,
      artifacts: [],
      nodes: [expect.objectContaining({ node_name: "vllm", node_status: "online", state: "ready" })],
    });
    expect((await server.request("GET", "/v0/models?search=qwen")).body.data.map((m: any) => m.name)).toEqual(
      ["qwen-7b"],
    );
    const one = await server.request("GET", "/v0/models/qwen-7b");
    expect(one.status).toBe(200);
    expect(one.body.source).toBe("endpoint");
    // It goes with its endpoint, not on its own.
    const removed = await server.request("DELETE", "/v0/models/qwen-7b");
    expect(removed.status).toBe(409);
    expect(removed.body.error.message).toMatch(/served by endpoint vllm.*llmlb endpoint rm vllm/);
    const status = await server.request("GET", "/v0/status");
    expect(status.body.models).toEqual({ total: 2, ready: 2 });
  });

  it("accepts a URL already ending in /v1, and one without a key for a server that needs none", async () => {
    const open = await startFakeOpenAiServer({ name: "open", models: ["m"] });
    try {
      const added = await server.request("POST", "/v0/endpoints", {
        body: { name: "open", url: `${open.url}/v1/` },
      });
      expect(added.status).toBe(201);
      expect(added.body).toMatchObject({ url: `${open.url}/v1`, has_api_key: false, models: ["m"] });
    } finally {
      await open.close();
    }
  });

  it.each([
    ["no body fields", {}, "name"],
    ["an empty name", { name: "", url: "http://127.0.0.1:1" }, "name"],
    ["a name with spaces", { name: "my server", url: "http://127.0.0.1:1" }, "name"],
    ["a name with a slash", { name: "a/b", url: "http://127.0.0.1:1" }, "name"],
    ["not a URL", { name: "x", url: "localhost 8000" }, "url"],
    ["an ftp URL", { name: "x", url: "ftp://127.0.0.1/v1" }, "url"],
    ["credentials in the URL", { name: "x", url: "http://user:pw@127.0.0.1:1/v1" }, "url"],
    ["a query", { name: "x", url: "http://127.0.0.1:1/v1?key=abc" }, "url"],
    ["a fragment", { name: "x", url: "http://127.0.0.1:1/v1#top" }, "url"],
    ["an empty api_key", { name: "x", url: "http://127.0.0.1:1", api_key: "" }, "api_key"],
    ["an unknown field", { name: "x", url: "http://127.0.0.1:1", token: "t" }, "token"],
  ])("refuses %s with a 400 naming the field, storing nothing", async (_what, body, param) => {
    const response = await server.request("POST", "/v0/endpoints", { body });
    expect(response.status).toBe(400);
    expect(response.body.error.param).toBe(param);
    expect(await endpointNames()).toEqual([]);
  });

  it("refuses a name an endpoint or a node already has, or a URL an endpoint has, with a 409, keeping the first", async () => {
    const first = await server.request("POST", "/v0/endpoints", {
      body: { name: "vllm", url: vllm.url, api_key: key },
    });
    expect(first.status).toBe(201);
    const again = await server.request("POST", "/v0/endpoints", {
      body: { name: "vllm", url: "http://127.0.0.1:1" },
    });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: "endpoint.duplicate", param: "name" });
    // The same server under another name, its URL spelled another way.
    const sameUrl = await server.request("POST", "/v0/endpoints", {
      body: { name: "vllm-again", url: `${vllm.url}/v1/`, api_key: key },
    });
    expect(sameUrl.status).toBe(409);
    expect(sameUrl.body.error).toMatchObject({ code: "endpoint.duplicate", param: "url" });
    expect(sameUrl.body.error.message).toBe(`Endpoint vllm already has the URL ${vllm.url}/v1.`);
    expect((await server.request("GET", "/v0/endpoints")).body.data).toEqual([first.body]);

    const node = await server.request("POST", "/v0/nodes/register", {
      body: {
        name: "gpu0",
        url: "http://127.0.0.1:9",
        backend: "cpu",
        devices: [],
        memory: { total_bytes: 1, free_bytes: 1 },
      },
      headers: { authorization: `Bearer ${server.nodeToken}` },
    });
    expect(node.status).toBe(201);
    const clash = await server.request("POST", "/v0/endpoints", {
      body: { name: "gpu0", url: vllm.url, api_key: key },
    });
    expect(clash.status).toBe(409);
    expect(clash.body.error.message).toBe("An endpoint or node named gpu0 already exists.");
  });

  it("refuses a server that cannot be reached, saying why, and stores nothing", async () => {
    const port = await closedPort();
    const response = await server.request("POST", "/v0/endpoints", {
      body: { name: "down", url: `http://127.0.0.1:${port}` },
    });
    expect(response.status).toBe(422);
    expect(response.body.error).toMatchObject({
      code: "endpoint.unreachable",
      message: `Cannot reach http://127.0.0.1:${port}/v1: connection refused.`,
    });
    expect(await endpointNames()).toEqual([]);
  });

  it("gives up on a server that does not answer in time", async () => {
    const silent = http.createServer(() => {});
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    try {
      const port = (silent.address() as AddressInfo).port;
      const response = await server.request("POST", "/v0/endpoints", {
        body: { name: "silent", url: `http://127.0.0.1:${port}` },
      });
      expect(response.status).toBe(422);
      expect(response.body.error.code).toBe("endpoint.unreachable");
      expect(response.body.error.message).toMatch(/no answer within 0\.5 s/);
      expect(await endpointNames()).toEqual([]);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it("says the server refused the API key (or needs one), and stores nothing", async () => {
    const wrong = await server.request("POST", "/v0/endpoints", {
      body: { name: "vllm", url: vllm.url, api_key: "sk-wrong" },
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error).toMatchObject({
      code: "endpoint.unauthorized",
      param: "api_key",
      message: `${vllm.url}/v1 refused the API key (HTTP 401).`,
    });
    expect(wrong.text).not.toContain("sk-wrong");
    expect(logs).not.toContain("sk-wrong");

    const none = await server.request("POST", "/v0/endpoints", { body: { name: "vllm", url: vllm.url } });
    expect(none.status).toBe(422);
    expect(none.body.error.message).toBe(
      `${vllm.url}/v1 needs an API key (HTTP 401): give it as api_key (\`--api-key\` on the command line).`,
    );
    expect(await endpointNames()).toEqual([]);
  });

  it("refuses a server that does not answer like OpenAI's API", async () => {
    const html = await startFakeOpenAiServer({
      name: "html",
      models: [],
      modelsHandler: (response) =>
        response.writeHead(200, { "content-type": "text/html" }).end("<h1>hi</h1>"),
    });
    try {
      const notJson = await server.request("POST", "/v0/endpoints", {
        body: { name: "html", url: html.url },
      });
      expect(notJson.status).toBe(422);
      expect(notJson.body.error.code).toBe("endpoint.invalid_response");
      expect(notJson.body.error.message).toMatch(/did not answer with an OpenAI model list/);

      // A path where nothing OpenAI-like lives: /elsewhere/v1/models is a 404 there.
      const wrongPath = await server.request("POST", "/v0/endpoints", {
        body: { name: "html", url: `${html.url}/elsewhere` },
      });
      expect(wrongPath.status).toBe(422);
      expect(wrongPath.body.error).toMatchObject({
        code: "endpoint.invalid_response",
        message: `${html.url}/elsewhere/v1/models answered HTTP 404: is ${html.url}/elsewhere/v1 the base URL of an OpenAI-compatible server?`,
      });
      expect(await endpointNames()).toEqual([]);
    } finally {
      await html.close();
    }
  });
});

describe("an endpoint whose model list holds entries that are no model ids", () => {
  it("keeps the others: the endpoint is added and serves them, and the log names what was left out", async () => {
    const odd = await startFakeOpenAiServer({
      name: "odd",
      models: [],
      modelsHandler: (response) =>
        response.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            object: "list",
            data: [
              { id: "good-1" },
              { id: "" },
              { name: "no id" },
              "text",
              { id: "x".repeat(1301) },
              { id: "good-2" },
            ],
          }),
        ),
    });
    try {
      const added = await server.request("POST", "/v0/endpoints", { body: { name: "odd", url: odd.url } });
      expect(added.status).toBe(201);
      expect(endpointSchema.parse(added.body)).toMatchObject({
        status: "online",
        models: ["good-1", "good-2"],
      });
      expect(logs).toContain("left out entries of an endpoint's model list that are no model ids");
    } finally {
      await odd.close();
    }
  });
});

describe("another llmlb as an endpoint", () => {
  it("is refused when it is this very llmlb, which would send requests to itself", async () => {
    const self = await server.request("POST", "/v0/endpoints", { body: { name: "me", url: server.url } });
    expect(self.status).toBe(422);
    expect(self.body.error.code).toBe("endpoint.is_self");
    expect(self.body.error.message).toMatch(/is this llmlb itself/);
    expect(await endpointNames()).toEqual([]);
  });

  it("contributes only the models it has ready", async () => {
    const other = await startFakeOpenAiServer({
      name: "other",
      models: [],
      modelsHandler: (response) =>
        response.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            object: "list",
            data: [
              { id: "org/ready", object: "model", ready: true },
              { id: "org/downloading", object: "model", ready: false },
              { id: "org/plain", object: "model" },
              { id: "org/odd", object: "model", ready: null },
            ],
          }),
        ),
    });
    try {
      const added = await server.request("POST", "/v0/endpoints", {
        body: { name: "other", url: other.url },
      });
      expect(added.status).toBe(201);
      expect(endpointSchema.parse(added.body).models).toEqual(["org/ready", "org/plain", "org/odd"]);
    } finally {
      await other.close();
    }
  });

  it("passes an endpoint's refusal on to its client, and keeps of it only its code: its message may quote the prompt", async () => {
    const quoting = await startFakeOpenAiServer({
      name: "quoting",
      models: ["org/strict"],
      handler: (_request, response, body) =>
        void response.writeHead(400, { "content-type": "application/json" }).end(
          JSON.stringify({
            object: "error",
            message: `1 validation error: input_value='${body.messages[0].content}'`,
            type: "BadRequestError",
            code: "invalid_value",
          }),
        ),
    });
    try {
      expect(
        (await server.request("POST", "/v0/endpoints", { body: { name: "quoting", url: quoting.url } }))
          .status,
      ).toBe(201);
      const asked = await server.request("POST", "/v1/chat/completions", {
        body: { model: "org/strict", messages: [{ role: "user", content: "my card is 4111-1111" }] },
      });
      expect(asked.status).toBe(400);
      expect(JSON.stringify(asked.body)).toContain("4111-1111");
      const logged = (await server.request("GET", "/v0/requests")).body as { data: RequestRecord[] };
      const record = logged.data.find((entry) => entry.id === asked.headers["x-request-id"])!;
      expect(record.error).toEqual({
        code: "invalid_value",
        message:
          "quoting answered 400; its message went to the client, and is not kept here as it may quote the request.",
      });
      expect(JSON.stringify(logged)).not.toContain("4111-1111");
      expect(logs).not.toContain("4111-1111");
    } finally {
      await quoting.close();
    }
  });

  it("words an endpoint's refusal that is not JSON (a proxy's HTML page) as an error clients read, naming it", async () => {
    const html = await startFakeOpenAiServer({
      name: "html",
      models: ["org/behind-proxy"],
      handler: (request, response) => {
        if (request.url === "/v1/messages")
          return void response
            .writeHead(429, { "content-type": "text/plain", "retry-after": "7" })
            .end("Too many requests, slow down");
        response
          .writeHead(500, { "content-type": "text/html" })
          .end(
            "<html><head><style>body{color:red}</style></head><body><h1>Internal Server Error</h1>\n<p>upstream crashed</p></body></html>",
          );
      },
    });
    try {
      expect(
        (await server.request("POST", "/v0/endpoints", { body: { name: "html", url: html.url } })).status,
      ).toBe(201);
      const asked = await server.request("POST", "/v1/chat/completions", {
        body: { model: "org/behind-proxy", messages: [{ role: "user", content: "Hi" }] },
      });
      expect(asked.status).toBe(500);
      expect(asked.headers["content-type"]).toMatch(/^application\/json/);
      expect(asked.body).toEqual({
        error: {
          message:
            "The endpoint html answered 500 (text/html, not an API error): Internal Server Error upstream crashed",
          type: "server_error",
          code: null,
          param: null,
        },
      });
      // On Anthropic's route, in Anthropic's shape; a rate limit's Retry-After goes with it.
      const messages = await server.request("POST", "/v1/messages", {
        body: { model: "org/behind-proxy", max_tokens: 5, messages: [{ role: "user", content: "Hi" }] },
      });
      expect(messages.status).toBe(429);
      expect(messages.headers["retry-after"]).toBe("7");
      expect(anthropicErrorBodySchema.parse(messages.body).error).toEqual({
        type: "rate_limit_error",
        message:
          "The endpoint html answered 429 (text/plain, not an API error): Too many requests, slow down",
      });
    } finally {
      await html.close();
    }
  });

  it("words a page of any size at once, from its beginning, and passes on an API's error sent as text as it is", async () => {
    const odd = await startFakeOpenAiServer({
      name: "odd",
      models: ["org/odd"],
      handler: (_request, response, body) => {
        if (body.max_tokens === 1)
          // A page of 600 KB that never closes its styles: read from its beginning, never whole.
          return void response
            .writeHead(400, { "content-type": "text/html" })
            .end(`<html><body><h1>Bad &amp; wrong</h1>${"<style ".repeat(100_000)}`);
        response.writeHead(400, { "content-type": "text/plain" }).end(
          JSON.stringify({
            error: {
              message: "max_tokens is too large",
              type: "invalid_request_error",
              code: "too_large",
              param: "max_tokens",
            },
          }),
        );
      },
    });
    try {
      expect(
        (await server.request("POST", "/v0/endpoints", { body: { name: "odd", url: odd.url } })).status,
      ).toBe(201);
      const started = Date.now();
      const page = await server.request("POST", "/v1/chat/completions", {
        body: { model: "org/odd", max_tokens: 1, messages: [{ role: "user", content: "Hi" }] },
      });
      expect(page.status).toBe(400);
      expect(page.body.error.message).toBe(
        "The endpoint odd answered 400 (text/html, not an API error): Bad & wrong",
      );
      expect(Date.now() - started).toBeLessThan(2_000);
      const json = await server.request("POST", "/v1/chat/completions", {
        body: { model: "org/odd", max_tokens: 2, messages: [{ role: "user", content: "Hi" }] },
      });
      expect(json.status).toBe(400);
      expect(json.headers["content-type"]).toMatch(/^application\/json/);
      expect(json.body.error).toMatchObject({
        message: "max_tokens is too large",
        code: "too_large",
        param: "max_tokens",
      });
      // Still a node that answers: its refusals are its clients', not its failures.
      const nodes = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body).data;
      expect(nodes.find((node) => node.name === "odd")?.health.state).toBe("ok");
    } finally {
      await odd.close();
    }
  });

  it("cannot be faked by a client to put names of its own in the metrics", async () => {
    const models = await server.request("GET", "/v1/models", { anonymous: true });
    const instance = String(models.headers["llmlb-instance"]);
    expect(instance).toMatch(/^[0-9a-f-]{36}$/);
    const faked = await server.request("POST", "/v1/chat/completions", {
      anonymous: true,
      headers: { "llmlb-via": instance },
      body: { model: "junk-made-up-0001", messages: [] },
    });
    expect(faked.status).toBe(404);
    expect((await server.request("GET", "/metrics", { anonymous: true })).text).not.toContain("junk-made-up");
  });

  it("that routes back here: the circle ends at once, not in a request that never ends", async () => {
    // a → b → a: each lists the other's models, and c (failing) is the only real server of m.
    const b = await startCore({ hubEndpoint: "http://127.0.0.1:9" });
    const failing = await startFakeOpenAiServer({
      name: "c",
      models: ["m"],
      handler: (_request, response) => void response.writeHead(503).end("down"),
    });
    try {
      const add = (on: TestServer, name: string, url: string) =>
        on.request("POST", "/v0/endpoints", { body: { name, url } });
      expect((await add(server, "c", failing.url)).status).toBe(201);
      expect((await add(b, "a", server.url)).status).toBe(201);
      expect((await add(server, "b", b.url)).status).toBe(201);

      const answer = await server.request("POST", "/v1/chat/completions", {
        anonymous: true,
        body: { model: "m", messages: [{ role: "user", content: "hi" }] },
      });
      // Answered at once, by c's own 503 or by the circle's end, and c asked once.
      expect([502, 503, 508]).toContain(answer.status);
      expect(failing.received).toHaveLength(1);
    } finally {
      await failing.close();
      await b.close();
    }
  });
});

describe("aliases", () => {
  it("cannot take the name of a model an endpoint serves, whose requests it would capture", async () => {
    expect(
      (await server.request("POST", "/v0/endpoints", { body: { name: "vllm", url: vllm.url, api_key: key } }))
        .status,
    ).toBe(201);
    const taken = await server.request("POST", "/v0/aliases", { body: { alias: "qwen-7b", model: "any" } });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toMatchObject({
      code: "registry.duplicate",
      param: "alias",
      message: "qwen-7b is a model vllm serves; an alias needs a name of its own.",
    });
    expect((await server.request("GET", "/v0/aliases")).body.data).toEqual([]);
  });
});

describe("two llmlbs that are each other's endpoints", () => {
  it("list only what a real server behind them serves: a model gone from its server is gone from both", async () => {
    // a serves m through c; b adds a; a adds b. b's m is a's own, and a must not count it as b's.
    const b = await startCore({ hubEndpoint: "http://127.0.0.1:9" });
    const c = await startFakeOpenAiServer({ name: "c", models: ["m"] });
    try {
      const add = (on: TestServer, name: string, url: string) =>
        on.request("POST", "/v0/endpoints", { body: { name, url } });
      expect((await add(server, "c", c.url)).status).toBe(201);
      const bHasA = await add(b, "a", server.url);
      expect(endpointSchema.parse(bHasA.body).models).toEqual(["m"]);
      const aHasB = await add(server, "b", b.url);
      expect(endpointSchema.parse(aHasB.body).models).toEqual([]);

      expect((await server.request("DELETE", "/v0/endpoints/c")).status).toBe(204);
      const models = await server.request("GET", "/v1/models", { anonymous: true });
      expect(models.body.data.map((model: { id: string }) => model.id)).not.toContain("m");
      const answer = await server.request("POST", "/v1/chat/completions", {
        anonymous: true,
        body: { model: "m", messages: [{ role: "user", content: "hi" }] },
      });
      expect(answer.status).toBe(404);
      expect(c.received).toHaveLength(0);
    } finally {
      await c.close();
      await b.close();
    }
  });

  it("still lists a model both serve of their own to each other", async () => {
    const b = await startCore({ hubEndpoint: "http://127.0.0.1:9" });
    const c = await startFakeOpenAiServer({ name: "c", models: ["m"] });
    const d = await startFakeOpenAiServer({ name: "d", models: ["m"] });
    try {
      const add = (on: TestServer, name: string, url: string) =>
        on.request("POST", "/v0/endpoints", { body: { name, url } });
      expect((await add(server, "c", c.url)).status).toBe(201);
      expect((await add(b, "d", d.url)).status).toBe(201);
      expect(endpointSchema.parse((await add(b, "a", server.url)).body).models).toEqual(["m"]);
      expect(endpointSchema.parse((await add(server, "b", b.url)).body).models).toEqual(["m"]);

      // A request one of them sends the other is never sent back to it: answered where it went, with
      // no 508 on the way.
      for (let i = 0; i < 8; i++) {
        const asked = await b.request("POST", "/v1/chat/completions", {
          anonymous: true,
          body: { model: "m", messages: [{ role: "user", content: "hi" }] },
        });
        expect(asked.status).toBe(200);
      }
      expect(c.received.length + d.received.length).toBe(8);
      for (const on of [server, b]) {
        const kept = (await on.request("GET", "/v0/requests")).body as { data: RequestRecord[] };
        expect(kept.data.filter((record) => record.status === 508)).toEqual([]);
      }
    } finally {
      await d.close();
      await c.close();
      await b.close();
    }
  });
});

describe("an endpoint that answers 429 (its rate limit, or its full queue)", () => {
  it("has its requests tried on another endpoint serving the model, and is passed over meanwhile", async () => {
    const limited = await startFakeOpenAiServer({
      name: "limited",
      models: ["org/shared"],
      handler: (_request, response) =>
        void response.writeHead(429, { "content-type": "application/json", "retry-after": "7" }).end(
          JSON.stringify({
            error: { message: "Rate limit reached", type: "rate_limit", code: "rate_limit" },
          }),
        ),
    });
    const spare = await startFakeOpenAiServer({ name: "spare", models: ["org/shared"] });
    try {
      for (const [name, url] of [
        ["limited", limited.url],
        ["spare", spare.url],
      ])
        expect((await server.request("POST", "/v0/endpoints", { body: { name, url } })).status).toBe(201);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const asked = await server.request("POST", "/v1/chat/completions", {
          body: { model: "org/shared", messages: [{ role: "user", content: "Hi" }] },
        });
        statuses.push(asked.status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
      // Tried once, then passed over for its Retry-After while the other answers; busy, not broken.
      expect(limited.received).toHaveLength(1);
      expect(spare.received).toHaveLength(6);
      const nodes = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body).data;
      expect(nodes.find((node) => node.name === "limited")?.health.state).toBe("ok");

      // The model's only endpoint: its 429 is the answer, Retry-After and all.
      await server.request("DELETE", "/v0/endpoints/spare");
      const alone = await server.request("POST", "/v1/chat/completions", {
        body: { model: "org/shared", messages: [{ role: "user", content: "Hi" }] },
      });
      expect(alone.status).toBe(429);
      expect(alone.headers["retry-after"]).toBe("7");
      expect(alone.body.error.message).toBe("Rate limit reached");
    } finally {
      await limited.close();
      await spare.close();
    }
  });
});

describe("an endpoint removed while requests for its model wait in llmlb's queue", () => {
  it("answers them at once that the model is gone, while the one it runs finishes", async () => {
    const held: (() => void)[] = [];
    const slow = await startFakeOpenAiServer({
      name: "slow",
      models: ["org/slow-model"],
      handler: (_request, response) =>
        void held.push(() =>
          response
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify(chatAnswer("slow"))),
        ),
    });
    try {
      expect(
        (
          await server.request("POST", "/v0/endpoints", {
            body: { name: "slow", url: slow.url, parallel: 1 },
          })
        ).status,
      ).toBe(201);
      const ask = () =>
        server.request("POST", "/v1/chat/completions", {
          body: { model: "org/slow-model", messages: [{ role: "user", content: "Hi" }] },
        });
      const running = ask();
      await waitFor("the first at the endpoint", () => held.length === 1);
      const queued = [ask(), ask()];
      await waitFor("two waiting in llmlb's queue", async () =>
        ((await server.request("GET", "/metrics")).text as string).includes(
          'llmlb_queue_depth{model="org/slow-model",state="waiting"} 2',
        ),
      );
      expect((await server.request("DELETE", "/v0/endpoints/slow")).status).toBe(204);
      for (const answer of await Promise.all(queued)) {
        expect(answer.status).toBe(404);
        expect(answer.body.error.message).toBe(
          "The model `org/slow-model` is not served here any more: it was removed while this request waited, or the endpoint that served it no longer lists it.",
        );
      }
      expect(held).toHaveLength(1);
      held[0]!();
      expect((await running).status).toBe(200);
    } finally {
      await slow.close();
    }
  });
});

describe("an endpoint that is the model's last node, answering 502, 503 or 504", () => {
  it("gives its answer to the client, its words and Retry-After with it, rather than llmlb's own", async () => {
    const busy = await startFakeOpenAiServer({
      name: "busy",
      models: ["org/busy"],
      handler: (_request, response, body) => {
        if (body.max_tokens === 1)
          return void response
            .writeHead(503, { "content-type": "application/json", "retry-after": "30" })
            .end(
              JSON.stringify({
                error: {
                  message: "The engine is overloaded; try again in 30 s",
                  type: "overloaded",
                  code: null,
                },
              }),
            );
        response
          .writeHead(502, { "content-type": "text/plain" })
          .end("upstream connect error or disconnect/reset before headers");
      },
    });
    try {
      expect(
        (await server.request("POST", "/v0/endpoints", { body: { name: "busy", url: busy.url } })).status,
      ).toBe(201);
      const overloaded = await server.request("POST", "/v1/chat/completions", {
        body: { model: "org/busy", max_tokens: 1, messages: [{ role: "user", content: "Hi" }] },
      });
      expect(overloaded.status).toBe(503);
      expect(overloaded.headers["retry-after"]).toBe("30");
      expect(overloaded.body.error.message).toBe("The engine is overloaded; try again in 30 s");
      const proxy = await server.request("POST", "/v1/chat/completions", {
        body: { model: "org/busy", max_tokens: 2, messages: [{ role: "user", content: "Hi" }] },
      });
      expect(proxy.status).toBe(502);
      expect(proxy.body.error.message).toBe(
        "The endpoint busy answered 502 (text/plain, not an API error): upstream connect error or disconnect/reset before headers",
      );
    } finally {
      await busy.close();
    }
  });
});

describe("a route an endpoint does not serve", () => {
  it("is a 404 that names the route and the endpoint, and the endpoint stays up for the routes it has", async () => {
    // An OpenAI-only server: chat completions, but no Anthropic Messages.
    const openAiOnly = await startFakeOpenAiServer({
      name: "openai-only",
      models: ["org/only-there"],
      handler: (request, response) => {
        if (request.url === "/v1/messages") {
          return void response
            .writeHead(404, { "content-type": "application/json" })
            .end(JSON.stringify({ error: { message: "Not Found", type: "invalid_request_error" } }));
        }
        response
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify(chatAnswer("openai-only")));
      },
    });
    try {
      expect(
        (
          await server.request("POST", "/v0/endpoints", {
            body: { name: "openai-only", url: openAiOnly.url },
          })
        ).status,
      ).toBe(201);
      const messages = await server.request("POST", "/v1/messages", {
        body: { model: "org/only-there", max_tokens: 4, messages: [{ role: "user", content: "Hi" }] },
      });
      expect(messages.status).toBe(404);
      expect(anthropicErrorBodySchema.parse(messages.body).error).toEqual({
        type: "not_found_error",
        message:
          "POST /v1/messages is not served for model org/only-there here: openai-only answered 404 for it (an OpenAI-compatible server, or a worker of an older llmlb, may lack this route; its other routes are unaffected).",
      });

      const chat = await server.request("POST", "/v1/chat/completions", {
        body: { model: "org/only-there", messages: [{ role: "user", content: "Hi" }] },
      });
      expect(chat.status).toBe(200);
      const nodes = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body).data;
      expect(nodes.find((node) => node.name === "openai-only")?.status).toBe("online");
    } finally {
      await openAiOnly.close();
    }
  });

  it("passes on what the endpoint said of a model it no longer has (Ollama's, vLLM's words)", async () => {
    const gone = await startFakeOpenAiServer({
      name: "forgetful",
      models: ["org/unloaded"],
      handler: (_request, response) =>
        void response.writeHead(404, { "content-type": "application/json" }).end(
          JSON.stringify({
            error: { message: 'model "org/unloaded" not found, try pulling it first', type: "api_error" },
          }),
        ),
    });
    try {
      expect(
        (await server.request("POST", "/v0/endpoints", { body: { name: "forgetful", url: gone.url } }))
          .status,
      ).toBe(201);
      const chat = await server.request("POST", "/v1/chat/completions", {
        body: { model: "org/unloaded", messages: [{ role: "user", content: "Hi" }] },
      });
      expect(chat.status).toBe(404);
      expect(chat.body.error.message).toBe(
        'POST /v1/chat/completions is not served for model org/unloaded here: forgetful ("model "org/unloaded" not found, try pulling it first") answered 404 for it (a server that no longer has the model, or lacks this route; its other routes are unaffected).',
      );
      // The client's only: what an endpoint says may quote the request, and the log keeps none of it.
      const kept = (await server.request("GET", "/v0/requests")).body as { data: RequestRecord[] };
      const record = kept.data.find((entry) => entry.id === chat.headers["x-request-id"])!;
      expect(record.error?.message).toContain("forgetful answered 404 for it");
      expect(record.error?.message).not.toContain("try pulling it");
    } finally {
      await gone.close();
    }
  });
});

describe("DELETE /v0/endpoints/<id or name>", () => {
  it("removes by name or by id, and answers 404 for one that does not exist", async () => {
    const open = await startFakeOpenAiServer({ name: "open", models: ["m"] });
    const another = await startFakeOpenAiServer({ name: "another", models: ["m"] });
    try {
      const a = await server.request("POST", "/v0/endpoints", { body: { name: "a", url: open.url } });
      const b = await server.request("POST", "/v0/endpoints", { body: { name: "b", url: another.url } });
      expect([a.status, b.status]).toEqual([201, 201]);

      expect((await server.request("DELETE", "/v0/endpoints/a")).status).toBe(204);
      expect((await server.request("DELETE", `/v0/endpoints/${b.body.id}`)).status).toBe(204);
      expect(await endpointNames()).toEqual([]);
      const nodes = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body);
      expect(nodes.data.filter((node) => node.kind === "endpoint")).toEqual([]);

      const missing = await server.request("DELETE", "/v0/endpoints/a");
      expect(missing.status).toBe(404);
      expect(missing.body.error).toMatchObject({
        code: "endpoint.not_found",
        message: "There is no endpoint named or with id a.",
      });
    } finally {
      await open.close();
      await another.close();
    }
  });
});

describe("parallel: how many requests llmlb sends an endpoint at once", () => {
  async function add(body: Record<string, unknown>) {
    return server.request("POST", "/v0/endpoints", {
      body: { name: "vllm", url: vllm.url, api_key: key, ...body },
    });
  }
  async function nodeOf(name: string) {
    const nodes = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body);
    return nodes.data.find((node) => node.name === name);
  }

  it("is 4 when not given, and shows in the endpoint and its node", async () => {
    const added = await add({});
    expect(added.status).toBe(201);
    expect(endpointSchema.parse(added.body).parallel).toBe(4);
    expect(endpointListSchema.parse((await server.request("GET", "/v0/endpoints")).body).data).toEqual([
      expect.objectContaining({ name: "vllm", parallel: 4 }),
    ]);
    expect(await nodeOf("vllm")).toMatchObject({ kind: "endpoint", parallel: 4 });
  });

  it("is set on add, and changed later by name or by id", async () => {
    const added = await add({ parallel: 32 });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ name: "vllm", parallel: 32 });
    expect(await nodeOf("vllm")).toMatchObject({ parallel: 32 });

    const byName = await server.request("PATCH", "/v0/endpoints/vllm", { body: { parallel: 1024 } });
    expect(byName.status).toBe(200);
    expect(endpointSchema.parse(byName.body)).toMatchObject({
      id: added.body.id,
      name: "vllm",
      parallel: 1024,
    });
    const byId = await server.request("PATCH", `/v0/endpoints/${added.body.id}`, { body: { parallel: 1 } });
    expect(byId.status).toBe(200);
    expect(byId.body.parallel).toBe(1);
    expect(endpointListSchema.parse((await server.request("GET", "/v0/endpoints")).body).data).toEqual([
      expect.objectContaining({
        name: "vllm",
        parallel: 1,
        has_api_key: true,
        models: ["meta/llama-3-8b", "qwen-7b"],
      }),
    ]);
    expect(await nodeOf("vllm")).toMatchObject({ parallel: 1 });
    // Workers say theirs per loaded model: the field is an endpoint's.
    expect(byId.text).not.toContain(key);
  });

  const says = "parallel: must be a whole number of requests from 1 to 1,024";
  it.each([[0], [1025], [2.5], ["8"], [null], [-1]])(
    "refuses %j on add and on change, naming the field and the range",
    async (parallel) => {
      const refused = await add({ parallel });
      expect(refused.status).toBe(400);
      expect(refused.body.error.param).toBe("parallel");
      expect(refused.body.error.message).toContain(says);
      expect(await endpointNames()).toEqual([]);

      expect((await add({ parallel: 8 })).status).toBe(201);
      const patched = await server.request("PATCH", "/v0/endpoints/vllm", { body: { parallel } });
      expect(patched.status).toBe(400);
      expect(patched.body.error).toMatchObject({ param: "parallel" });
      expect(patched.body.error.message).toContain(says);
      expect((await server.request("GET", "/v0/endpoints")).body.data[0].parallel).toBe(8);
    },
  );

  it.each([
    [{}, null],
    [{ parallel: 8, name: "renamed" }, "name"],
  ])("refuses a change that names nothing it can change: %j", async (body, param) => {
    expect((await add({})).status).toBe(201);
    const patched = await server.request("PATCH", "/v0/endpoints/vllm", { body });
    expect(patched.status).toBe(400);
    expect(patched.body.error.param).toBe(param);
    expect(await endpointNames()).toEqual(["vllm"]);
    expect((await server.request("GET", "/v0/endpoints")).body.data[0].parallel).toBe(4);
  });

  it("answers 404 for an endpoint that does not exist", async () => {
    const missing = await server.request("PATCH", "/v0/endpoints/nope", { body: { parallel: 8 } });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({
      code: "endpoint.not_found",
      message: "There is no endpoint named or with id nope.",
    });
  });
});

describe("a new API key or URL for an endpoint (a key rotated, a server moved)", () => {
  let moved: FakeOpenAiServer;
  beforeAll(async () => {
    moved = await startFakeOpenAiServer({ name: "moved", models: ["org/old-model"] });
  });
  afterAll(async () => {
    await moved.close();
  });
  const endpoint = async () =>
    endpointSchema.parse((await server.request("GET", "/v0/endpoints")).body.data[0]);

  it("is asked of the server first, kept once it answers, and routed to from the next request", async () => {
    expect(
      (await server.request("POST", "/v0/endpoints", { body: { name: "ext", url: moved.url } })).status,
    ).toBe(201);
    const changed = await server.request("PATCH", "/v0/endpoints/ext", {
      body: { url: `${vllm.url}/v1/`, api_key: key },
    });
    expect(changed.status).toBe(200);
    expect(endpointSchema.parse(changed.body)).toMatchObject({
      name: "ext",
      url: `${vllm.url}/v1`,
      has_api_key: true,
      status: "online",
      models: ["meta/llama-3-8b", "qwen-7b"],
    });
    expect(changed.text).not.toContain(key);
    expect(logs).not.toContain(key);
    const listed = modelListSchema.parse((await server.request("GET", "/v0/models")).body);
    expect(listed.data.map((model) => model.name).sort()).toEqual(["meta/llama-3-8b", "qwen-7b"]);
    const asked = await server.request("POST", "/v1/chat/completions", {
      body: { model: "qwen-7b", messages: [{ role: "user", content: "Hi" }] },
    });
    expect(asked.status).toBe(200);
    expect(vllm.received.at(-1)).toMatchObject({ authorization: `Bearer ${key}` });
  });

  it("is refused as the server refuses it, naming the field, and the endpoint stays as it was", async () => {
    expect(
      (await server.request("POST", "/v0/endpoints", { body: { name: "ext", url: vllm.url, api_key: key } }))
        .status,
    ).toBe(201);
    const before = await endpoint();
    const wrong = await server.request("PATCH", "/v0/endpoints/ext", { body: { api_key: "sk-wrong" } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error).toMatchObject({ code: "endpoint.unauthorized", param: "api_key" });
    expect(wrong.text).not.toContain("sk-wrong");
    // None at all (null): the server needs one.
    const none = await server.request("PATCH", "/v0/endpoints/ext", { body: { api_key: null } });
    expect(none.status).toBe(422);
    expect(none.body.error.message).toContain("needs an API key");
    const down = await server.request("PATCH", "/v0/endpoints/ext", {
      body: { url: `http://127.0.0.1:${await closedPort()}`, api_key: key },
    });
    expect(down.status).toBe(422);
    expect(down.body.error.code).toBe("endpoint.unreachable");
    expect(await endpoint()).toEqual(before);
    const asked = await server.request("POST", "/v1/chat/completions", {
      body: { model: "qwen-7b", messages: [{ role: "user", content: "Hi" }] },
    });
    expect(asked.status).toBe(200);
  });

  it("never sends the stored key to another server: a new origin comes with its own key, or none", async () => {
    expect(
      (await server.request("POST", "/v0/endpoints", { body: { name: "ext", url: vllm.url, api_key: key } }))
        .status,
    ).toBe(201);
    const before = moved.received.length;
    const keyless = await server.request("PATCH", "/v0/endpoints/ext", { body: { url: moved.url } });
    expect(keyless.status).toBe(400);
    expect(keyless.body.error).toMatchObject({ code: "input.invalid", param: "api_key" });
    expect(keyless.body.error.message).toContain("is another server than");
    expect(keyless.text).not.toContain(key);
    expect(moved.received.length).toBe(before);
    expect((await endpoint()).url).toBe(`${vllm.url}/v1`);
    // Said so: none.
    const none = await server.request("PATCH", "/v0/endpoints/ext", {
      body: { url: moved.url, api_key: null },
    });
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({ url: `${moved.url}/v1`, has_api_key: false });
  });

  it("refuses the URL another endpoint has: the same server twice", async () => {
    for (const [name, url] of [
      ["ext", moved.url],
      ["other", vllm.url],
    ])
      expect(
        (await server.request("POST", "/v0/endpoints", { body: { name, url, api_key: key } })).status,
      ).toBe(201);
    const twice = await server.request("PATCH", "/v0/endpoints/ext", {
      body: { url: vllm.url, api_key: key },
    });
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe("endpoint.duplicate");
    expect((await endpoint()).url).toBe(`${moved.url}/v1`);
  });
});

describe("access", () => {
  it("needs the admin token for every endpoint route", async () => {
    const body = { name: "x", url: vllm.url, api_key: key };
    for (const [method, path] of [
      ["GET", "/v0/endpoints"],
      ["POST", "/v0/endpoints"],
      ["DELETE", "/v0/endpoints/x"],
      ["PATCH", "/v0/endpoints/x"],
    ] as const) {
      const response = await server.request(method, path, {
        anonymous: true,
        ...(method === "POST" ? { body } : method === "PATCH" ? { body: { parallel: 8 } } : {}),
      });
      expect(response.status, `${method} ${path}`).toBe(401);
      const withNodeToken = await server.request(method, path, {
        headers: { authorization: `Bearer ${server.nodeToken}` },
        ...(method === "POST" ? { body } : method === "PATCH" ? { body: { parallel: 8 } } : {}),
      });
      expect(withNodeToken.status, `${method} ${path} with the node token`).toBe(401);
    }
    expect(await endpointNames()).toEqual([]);
  });
});

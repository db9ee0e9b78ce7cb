import { PassThrough } from "node:stream";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  endpointListSchema,
  nodeListSchema,
  openAiModelListSchema,
  statusSchema,
} from "../../src-main/contract";
import { createLogger } from "../../src-main/shared/logger";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { chatAnswer, startFakeNode, type FakeNode } from "../helpers/fakeNode";
import {
  startFakeOpenAiServer,
  type FakeOpenAiServer,
  type FakeOpenAiServerOptions,
} from "../helpers/fakeOpenAiServer";
import { testRepos } from "../helpers/hubRepos";
import { startCore, type TestServer } from "../helpers/startCore";
import { waitFor } from "../helpers/waitFor";

let hub: FakeHub;
let server: TestServer;
let client: OpenAI;
let logs = "";
let started: { close(): Promise<void> }[] = [];
const registered = "acme/tiny-GGUF";
const idleTimeoutMs = 3000;

async function fakeServer(options: FakeOpenAiServerOptions): Promise<FakeOpenAiServer> {
  const fake = await startFakeOpenAiServer(options);
  started.push(fake);
  return fake;
}

async function fakeNode(name: string, ready: string[]): Promise<FakeNode> {
  const node = await startFakeNode(server, { name, ready });
  started.push(node);
  return node;
}

async function addEndpoint(name: string, url: string, apiKey?: string) {
  const response = await server.request("POST", "/v0/endpoints", {
    body: { name, url, ...(apiKey ? { api_key: apiKey } : {}) },
  });
  expect(response.status, response.text).toBe(201);
  return response.body as { id: string; name: string; last_checked_at: string };
}

async function endpointStatus(name: string) {
  const list = endpointListSchema.parse((await server.request("GET", "/v0/endpoints")).body);
  return list.data.find((endpoint) => endpoint.name === name);
}

async function openAiModels() {
  return openAiModelListSchema.parse((await server.request("GET", "/v1/models")).body).data;
}

const ask = (model: string) =>
  client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] });

beforeAll(async () => {
  hub = await startFakeHub({ repos: testRepos() });
  server = await startCore({
    hubEndpoint: hub.url,
    core: {
      endpointTimings: { healthIntervalMs: 100, probeTimeoutMs: 1000 },
      // Longer than a health check takes to find a hung server offline, so the two are told apart.
      balancer: { endpointIdleTimeoutMs: idleTimeoutMs },
      nodeTimings: { heartbeatIntervalMs: 100, offlineAfterMs: 500 },
      log: createLogger({
        level: "debug",
        destination: new PassThrough().on("data", (chunk: Buffer) => (logs += chunk.toString())),
      }),
    },
  });
  expect((await server.request("POST", "/v0/models/register", { body: { url: registered } })).status).toBe(
    201,
  );
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterEach(async () => {
  const list = endpointListSchema.parse((await server.request("GET", "/v0/endpoints")).body);
  for (const endpoint of list.data) await server.request("DELETE", `/v0/endpoints/${endpoint.id}`);
  await Promise.all(started.map((item) => item.close()));
  started = [];
  // Fake workers stay registered, offline: wait for that before the next test routes anything.
  await waitFor("no worker online", async () => {
    const nodes = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body);
    return nodes.data.every((node) => node.status === "offline");
  });
});
afterAll(async () => {
  await server.close();
  await hub.close();
});

describe("an endpoint serves the /v1 API", () => {
  it("answers chat, streamed and not, through the endpoint, with its API key", async () => {
    const vllm = await fakeServer({ name: "vllm", models: ["meta/llama-3-8b"], apiKey: "sk-vllm-secret" });
    const added = await addEndpoint("vllm", vllm.url, "sk-vllm-secret");

    const answer = await ask("meta/llama-3-8b");
    expect(answer.choices[0]?.message.content).toBe("from vllm");

    const stream = await client.chat.completions.create({
      model: "meta/llama-3-8b",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("vllm-0 vllm-1 vllm-2 ");

    expect(vllm.received.map((r) => [r.path, r.authorization])).toEqual([
      ["/v1/chat/completions", "Bearer sk-vllm-secret"],
      ["/v1/chat/completions", "Bearer sk-vllm-secret"],
    ]);
    expect(vllm.received[0]?.body).toMatchObject({ model: "meta/llama-3-8b", messages: [{ content: "hi" }] });
    // Health checks send the key too: the server answers 401 without it, which would be offline.
    const checked = await waitFor("a later health check", async () => {
      const endpoint = await endpointStatus("vllm");
      return endpoint!.last_checked_at! > added.last_checked_at ? endpoint : undefined;
    });
    expect(checked).toMatchObject({ status: "online", last_error: null });
    expect(logs).not.toContain("sk-vllm-secret");
  });

  it("reaches a server under a path prefix, and sends no Authorization to one without a key", async () => {
    const proxied = await fakeServer({ name: "proxied", models: ["mistral"], prefix: "/openai" });
    await addEndpoint("proxied", `${proxied.url}/v1/`);
    expect((await ask("mistral")).choices[0]?.message.content).toBe("from proxied");
    expect(proxied.received).toEqual([
      { path: "/v1/chat/completions", body: expect.anything(), authorization: undefined },
    ]);
  });

  it("lists an endpoint's models in /v1/models, ready and owned by the endpoint; a registered model it serves is ready", async () => {
    expect((await openAiModels()).find((m) => m.id === registered)?.ready).toBe(false);
    const ollama = await fakeServer({ name: "ollama", models: ["llama3.2:1b", registered] });
    await addEndpoint("ollama", ollama.url);

    const models = await openAiModels();
    expect(models.find((m) => m.id === "llama3.2:1b")).toMatchObject({ ready: true, owned_by: "ollama" });
    expect(models.find((m) => m.id === registered)).toMatchObject({ ready: true, owned_by: "acme" });

    const model = (await server.request("GET", `/v0/models/${encodeURIComponent(registered)}`)).body;
    expect(model.ready).toBe(true);
    expect(model.nodes).toContainEqual(
      expect.objectContaining({ node_name: "ollama", node_status: "online", state: "ready" }),
    );
    expect((await ask(registered)).choices[0]?.message.content).toBe("from ollama");

    // Removed: its own models are gone, and asking for them is a 404 as for any unknown model.
    await server.request("DELETE", "/v0/endpoints/ollama");
    const after = await openAiModels();
    expect(after.map((m) => m.id)).not.toContain("llama3.2:1b");
    expect(after.find((m) => m.id === registered)?.ready).toBe(false);
    const error = await ask("llama3.2:1b").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("follows the server's model list as it changes", async () => {
    const changing = await fakeServer({ name: "changing", models: ["one"] });
    await addEndpoint("changing", changing.url);
    changing.setModels(["two"]);
    await waitFor("the new model listed", async () => {
      const ids = (await openAiModels()).map((m) => m.id);
      return ids.includes("two") && !ids.includes("one");
    });
    expect((await ask("two")).choices[0]?.message.content).toBe("from changing");
  });
});

describe("health", () => {
  it("marks an endpoint offline when its server stops, explains requests' 503, and routes again once it is back", async () => {
    const flaky = await fakeServer({ name: "flaky", models: ["phi-3"] });
    await addEndpoint("flaky", flaky.url);
    await flaky.stop();

    const offline = await waitFor("the endpoint offline", async () => {
      const endpoint = await endpointStatus("flaky");
      return endpoint?.status === "offline" ? endpoint : undefined;
    });
    expect(offline.last_error).toBe(`Cannot reach ${flaky.url}/v1: connection refused.`);
    expect(offline.models).toEqual(["phi-3"]);
    const node = nodeListSchema
      .parse((await server.request("GET", "/v0/nodes")).body)
      .data.find((n) => n.name === "flaky");
    expect(node).toMatchObject({ kind: "endpoint", status: "offline" });
    expect((await openAiModels()).find((m) => m.id === "phi-3")).toMatchObject({ ready: false });

    const refused = await server.request("POST", "/v1/chat/completions", {
      body: { model: "phi-3", messages: [{ role: "user", content: "x" }] },
    });
    expect(refused.status).toBe(503);
    expect(refused.headers["retry-after"]).toBe("1");
    expect(refused.body.error).toMatchObject({ code: "model.not_ready", param: "model" });
    expect(refused.body.error.message).toBe(
      `Model phi-3 is served only by an endpoint that is offline (flaky: Cannot reach ${flaky.url}/v1: connection refused). Retry later.`,
    );

    await flaky.start();
    await waitFor("the endpoint online", async () => (await endpointStatus("flaky"))?.status === "online");
    expect((await ask("phi-3")).choices[0]?.message.content).toBe("from flaky");
    expect((await openAiModels()).find((m) => m.id === "phi-3")).toMatchObject({ ready: true });
  });
});

describe("a server that stops answering", () => {
  it("calls off a request it holds once its health check finds it offline, and says why", async () => {
    let hung = false;
    const hanging = await fakeServer({
      name: "hanging",
      models: ["held"],
      // As a machine that went to sleep or off the network: nothing answers, nothing is refused.
      handler: () => {},
      modelsHandler: (response) => {
        if (!hung)
          response
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ object: "list", data: [{ id: "held", object: "model" }] }));
      },
    });
    await addEndpoint("hanging", hanging.url);
    hung = true;
    const started = Date.now();
    const answer = await server.request("POST", "/v1/chat/completions", {
      body: { model: "held", messages: [{ role: "user", content: "x" }] },
    });
    expect(Date.now() - started).toBeLessThan(idleTimeoutMs);
    expect(answer.status).toBe(503);
    expect(answer.body.error.message).toBe(
      `Model held is served only by an endpoint that is offline (hanging: Cannot reach ${hanging.url}/v1: no answer within 1 s). Retry later.`,
    );
    expect(hanging.received).toHaveLength(1);
  });

  it("lets an answer it is still streaming finish when its health check fails (a busy server, not a dead one)", async () => {
    let slow = false;
    const busy = await fakeServer({
      name: "busy",
      models: ["streamed"],
      handler: (_request, response) => {
        response.writeHead(200, { "content-type": "text/event-stream" });
        let sent = 0;
        const chunk = (content: string, finish: string | null) =>
          `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 0, model: "streamed", choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
        // A token every 200 ms for 2.4 s: longer than its model list takes to be found too slow.
        const timer = setInterval(() => {
          sent++;
          if (sent < 12) return void response.write(chunk(`t${sent} `, null));
          clearInterval(timer);
          response.end(`${chunk("end", "stop")}data: [DONE]\n\n`);
        }, 200);
      },
      modelsHandler: (response) => {
        if (!slow)
          response
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ object: "list", data: [{ id: "streamed", object: "model" }] }));
      },
    });
    await addEndpoint("busy", busy.url);
    const stream = await client.chat.completions.create({
      model: "streamed",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    slow = true;
    let text = "";
    for await (const part of stream) text += part.choices[0]?.delta.content ?? "";
    expect(text).toBe("t1 t2 t3 t4 t5 t6 t7 t8 t9 t10 t11 end");
    expect((await endpointStatus("busy"))?.status).toBe("offline");
  });

  it("gives up on an answer that does not begin within the idle timeout, and names the endpoint and why", async () => {
    const silent = await fakeServer({ name: "silent", models: ["slow"], handler: () => {} });
    await addEndpoint("silent", silent.url);
    const answer = await server.request("POST", "/v1/chat/completions", {
      body: { model: "slow", messages: [{ role: "user", content: "x" }] },
    });
    expect(answer.status).toBe(502);
    expect(answer.body.error.message).toBe(
      `Every node that has model slow failed this request (silent: no answer within ${idleTimeoutMs / 1000} s); retry shortly.`,
    );
    // Its model list still answers: it stays online, for the next request to try.
    expect((await endpointStatus("silent"))?.status).toBe("online");
  });

  it("ends a streamed answer that falls silent midway with an error event", async () => {
    const stalling = await fakeServer({
      name: "stalling",
      models: ["stall"],
      handler: (_request, response) => {
        response.writeHead(200, { "content-type": "text/event-stream" });
        response.write(
          `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 0, model: "stall", choices: [{ index: 0, delta: { content: "half" }, finish_reason: null }] })}\n\n`,
        );
      },
    });
    await addEndpoint("stalling", stalling.url);
    const stream = await client.chat.completions.create({
      model: "stall",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    let text = "";
    const read = async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    };
    await expect(read()).rejects.toThrow(
      /^The node serving this request \(stalling\) stopped midway: .+\. Retry the request\.$/,
    );
    expect(text).toBe("half");
  });
});

describe("balancing", () => {
  it("spreads requests over two endpoints serving the same model", async () => {
    const a = await fakeServer({ name: "a", models: ["shared"] });
    const b = await fakeServer({ name: "b", models: ["shared"] });
    await addEndpoint("a", a.url);
    await addEndpoint("b", b.url);
    for (let batch = 0; batch < 10; batch++) await Promise.all([ask("shared"), ask("shared")]);
    expect(a.received.length + b.received.length).toBe(20);
    expect(a.received.length).toBeGreaterThanOrEqual(5);
    expect(b.received.length).toBeGreaterThanOrEqual(5);
  });

  it("fails over from an endpoint that fails before the first byte to a worker with the model", async () => {
    const broken = await fakeServer({
      name: "broken",
      models: [registered],
      handler: (_request, response) => response.writeHead(502).end("bad gateway"),
    });
    await addEndpoint("broken", broken.url);
    await fakeNode("worker", [registered]);
    for (let i = 0; i < 6; i++)
      expect((await ask(registered)).choices[0]?.message.content).toBe("from worker");
    expect(broken.received.length).toBeGreaterThanOrEqual(1);
  });

  it("sends a model pinned to some nodes only to them, workers and endpoints alike", async () => {
    const pin = (nodes: string[]) =>
      server.request("PATCH", `/v0/models/${encodeURIComponent(registered)}`, {
        body: { settings: { nodes } },
      });
    const vllm = await fakeServer({ name: "vllm-pinned", models: [registered] });
    await addEndpoint("vllm-pinned", vllm.url);
    await fakeNode("worker", [registered]);
    try {
      expect((await pin(["worker"])).status).toBe(200);
      for (let i = 0; i < 6; i++)
        expect((await ask(registered)).choices[0]?.message.content).toBe("from worker");
      expect(vllm.received).toHaveLength(0);

      expect((await pin(["vllm-pinned"])).status).toBe(200);
      for (let i = 0; i < 6; i++)
        expect((await ask(registered)).choices[0]?.message.content).toBe("from vllm-pinned");
    } finally {
      expect((await pin([])).status).toBe(200);
    }
  });

  it("fails over from an endpoint whose connection drops to another endpoint", async () => {
    const dropping = await fakeServer({
      name: "dropping",
      models: ["m2"],
      handler: (request) => request.socket.destroy(),
    });
    const steady = await fakeServer({ name: "steady", models: ["m2"] });
    await addEndpoint("dropping", dropping.url);
    await addEndpoint("steady", steady.url);
    for (let i = 0; i < 4; i++) expect((await ask("m2")).choices[0]?.message.content).toBe("from steady");
    expect(dropping.received.length).toBeGreaterThanOrEqual(1);
  });
});

describe("parallel: requests llmlb sends an endpoint at once", () => {
  /** What llmlb's admission queue holds for a model: running on nodes, and waiting for a slot. */
  async function queueOf(model: string) {
    const status = statusSchema.parse((await server.request("GET", "/v0/status")).body);
    return status.queues.find((queue) => queue.model === model) ?? { in_flight: 0, waiting: 0 };
  }

  it("lets exactly that many reach the server while the rest wait in llmlb, and a change applies to the next requests", async () => {
    const model = "meta/llama-3-8b";
    /** Requests the server holds open, each answered when released. */
    const held: (() => void)[] = [];
    const vllm = await fakeServer({
      name: "vllm",
      models: [model],
      handler: (_request, response) =>
        void held.push(() =>
          response
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify(chatAnswer("vllm"))),
        ),
    });
    const added = await server.request("POST", "/v0/endpoints", {
      body: { name: "vllm", url: vllm.url, parallel: 2 },
    });
    expect(added.status, added.text).toBe(201);

    /** Sends `count` requests at once; once `atServer` reached it and the rest queue here, checks, then answers all. */
    async function burst(count: number, atServer: number) {
      const asks = Array.from({ length: count }, () => ask(model));
      await waitFor(`${atServer} at the server and ${count - atServer} waiting in llmlb`, async () => {
        const queue = await queueOf(model);
        return held.length === atServer && queue.in_flight === atServer && queue.waiting === count - atServer;
      });
      // Those waiting cannot reach the server until one there is answered.
      expect(held).toHaveLength(atServer);
      expect(vllm.received).toHaveLength(atServer);
      // Answering one lets exactly one more through.
      held.shift()!();
      await waitFor("the next request at the server", () => vllm.received.length === atServer + 1);
      await waitFor("one fewer waiting", async () => (await queueOf(model)).waiting === count - atServer - 1);
      expect(held).toHaveLength(atServer);
      // Answer everything, as it comes.
      while (vllm.received.length < count || held.length > 0) {
        held.splice(0).forEach((release) => release());
        await waitFor(
          "more requests or all answered",
          () => held.length > 0 || vllm.received.length === count,
        );
      }
      const answers = await Promise.all(asks);
      expect(answers.map((answer) => answer.choices[0]?.message.content)).toEqual(
        Array.from({ length: count }, () => "from vllm"),
      );
      vllm.received.length = 0;
    }

    await burst(5, 2);

    const changed = await server.request("PATCH", "/v0/endpoints/vllm", { body: { parallel: 8 } });
    expect(changed.status, changed.text).toBe(200);
    await burst(11, 8);
  });
});

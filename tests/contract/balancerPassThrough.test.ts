import crypto from "node:crypto";
import http from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chatAnswer, startFakeNode, type FakeNode, type FakeNodeHandler } from "../helpers/fakeNode";
import { startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";
import { waitFor } from "../helpers/waitFor";

let server: TestServerWithHub;
let nodes: FakeNode[] = [];
const model = "acme/tiny-GGUF";

async function node(name: string, handler: FakeNodeHandler) {
  const started = await startFakeNode(server, { name, ready: [model], handler });
  nodes.push(started);
  return started;
}

beforeAll(async () => {
  server = await startCoreWithHub({
    core: { nodeTimings: { heartbeatIntervalMs: 100, offlineAfterMs: 500 } },
  });
  expect((await server.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(201);
});
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
  await waitFor("no node routable", () => server.core.nodes.routesFor(model).length === 0, {
    timeoutMs: 15_000,
    intervalMs: 100,
  });
});
afterAll(async () => {
  await server.close();
});

const json = (response: http.ServerResponse, body: unknown) =>
  void response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));

describe("what the balancer passes on", () => {
  it("forwards the body byte for byte, as the client wrote it", async () => {
    const seen: { length?: string; body?: unknown }[] = [];
    await node("echo", (request, response, body) => {
      seen.push({ length: request.headers["content-length"], body });
      json(response, chatAnswer("echo"));
    });
    // Spacing and a number spelled 1e0: serializing the parsed body again would change both.
    const raw = `{ "model" : "${model}",\n  "messages": [ {"role":"user","content":"héllo"} ], "temperature": 1e0 }`;
    const response = await server.request("POST", "/v1/chat/completions", {
      rawBody: raw,
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(200);
    expect(seen).toEqual([{ length: String(Buffer.byteLength(raw)), body: JSON.parse(raw) as unknown }]);
  });

  it("gives every answer its own x-request-id over the node's, and passes on no cookie or CORS header of a node", async () => {
    await node(
      "with-id",
      (_request, response) =>
        void response
          .writeHead(200, {
            "content-type": "application/json",
            "x-request-id": "the-node-s-own",
            // Not a node's to set on llmlb's origin.
            "set-cookie": "llmlb_admin=from-the-node; Path=/v0",
            "access-control-allow-origin": "*",
          })
          .end(JSON.stringify(chatAnswer("ok"))),
    );
    const answered = await server.request("POST", "/v1/chat/completions", {
      body: { model, messages: [{ role: "user", content: "hi" }] },
    });
    const refused = await server.request("POST", "/v1/chat/completions", {
      body: { model: "acme/unknown", messages: [{ role: "user", content: "hi" }] },
    });
    expect(answered.headers["set-cookie"]).toBeUndefined();
    expect(answered.headers["access-control-allow-origin"]).toBeUndefined();
    const listed = await server.request("GET", "/v1/models");
    const ids = [answered, refused, listed].map((response) => response.headers["x-request-id"]);
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(3);
  });

  it("judges bodies as before: malformed, empty and prototype-poisoning JSON are 400s in OpenAI's shape", async () => {
    const send = (rawBody: string) =>
      server.request("POST", "/v1/chat/completions", {
        rawBody,
        headers: { "content-type": "application/json" },
      });
    const malformed = await send(`{"model": "${model}",`);
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatchObject({
      code: "request.invalid",
      message: "The body is not valid JSON.",
    });
    const empty = await send("");
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toBe("The JSON body is empty.");
    const poisoned = await send(`{"model": "${model}", "__proto__": {"polluted": true}}`);
    expect(poisoned.status).toBe(400);
  });

  it("gives a client that reads slowly a large answer whole", async () => {
    // Bigger than the sockets' buffers, so the relay has to wait for the client to read.
    const answer = JSON.stringify({ ...chatAnswer("big"), padding: "x".repeat(16 * 1024 * 1024) });
    // Sent as it is: parsing and writing 16 MB of JSON would block this process (and the fake node's
    // heartbeats with it) for longer than the control plane waits before it calls the node gone.
    await node("big", (_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(answer);
    });
    const received = await new Promise<Buffer>((resolve, reject) => {
      const request = http.request(
        `${server.url}/v1/chat/completions`,
        { method: "POST", headers: { "content-type": "application/json" } },
        (response) => {
          const chunks: Buffer[] = [];
          response.pause();
          setTimeout(() => {
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("end", () => resolve(Buffer.concat(chunks)));
            response.resume();
          }, 300);
        },
      );
      request.on("error", reject);
      request.end(JSON.stringify({ model, messages: [] }));
    });
    const digest = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");
    expect(received.length).toBe(Buffer.byteLength(answer));
    expect(digest(received)).toBe(digest(answer));
  });

  it("measures node speed from the usage of JSON answers", async () => {
    await node("measured", (_request, response) =>
      setTimeout(() => json(response, chatAnswer("measured", 50)), 20),
    );
    for (let i = 0; i < 3; i++) {
      expect(
        (await server.request("POST", "/v1/chat/completions", { body: { model, messages: [] } })).status,
      ).toBe(200);
    }
    const metrics = (await server.request("GET", "/metrics", { anonymous: true })).text;
    const speed = /^llmlb_tokens_per_second\{node="measured",model="acme\/tiny-GGUF"\} ([\d.e+]+)$/m.exec(
      metrics,
    );
    // 50 tokens in a little over 20 ms.
    expect(Number(speed?.[1])).toBeGreaterThan(100);
    expect(Number(speed?.[1])).toBeLessThan(2600);
  });
});

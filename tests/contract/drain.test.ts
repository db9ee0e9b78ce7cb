import { once } from "node:events";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeNode, type FakeNode } from "../helpers/fakeNode";
import { startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";

const model = "acme/tiny-GGUF";
let server: TestServerWithHub;
let node: FakeNode;
/** Lets the slow stream's last events go. */
let finishStream!: () => void;
const streamFinishes = new Promise<void>((resolve) => (finishStream = resolve));
/** Resolves once the node has begun the slow stream. */
let streamBegan!: () => void;
const began = new Promise<void>((resolve) => (streamBegan = resolve));

beforeAll(async () => {
  server = await startCoreWithHub({
    config: { drainTimeoutSeconds: 20 },
    core: {
      // A node silent for 400 ms is offline: a drain longer than that must not count its silence.
      nodeTimings: { heartbeatIntervalMs: 100, offlineAfterMs: 400 },
      balancer: { slotsPerNode: 1, admission: { queueSize: 4, queueTimeoutMs: 20_000 } },
    },
  });
  expect((await server.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(201);
  // One slot, held by a stream that goes on for as long as the test wants.
  node = await startFakeNode(server, {
    name: "streaming",
    ready: [model],
    handler: (_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      const event = (content: string) =>
        `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content } }] })}\n\n`;
      response.write(event("first "));
      streamBegan();
      void streamFinishes.then(() => response.end(`${event("last")}data: [DONE]\n\n`));
    },
  });
});
afterAll(async () => {
  finishStream();
  await node?.close();
  await server?.close();
});

const chat = (stream: boolean) =>
  fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "hi" }] }),
  });

describe("stopping llmlb (Ctrl-C, SIGTERM, llmlb quit)", () => {
  it("lets a running stream finish however long past its nodes' heartbeat cutoff, and tells a queued request at once", async () => {
    const streaming = await chat(true);
    expect(streaming.status).toBe(200);
    await began;
    // Queued behind it: the node's one slot is taken.
    const queued = chat(false);
    await expect.poll(() => server.core.status().queues[0]?.waiting ?? 0).toBe(1);

    const stopped = server.core.dispose();
    const refused = await queued;
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("serving.stopping");

    // Well past the 400 ms after which a silent node is offline: the heartbeats find the server closed.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    finishStream();
    const body = await streaming.text();
    expect(body).toContain('"content":"last"');
    expect(body.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(body).not.toContain('"error"');
    await stopped;
  });
});

describe("stopping llmlb past its drain timeout", () => {
  it("tells a stream still running that llmlb stopped, and an answer not begun that it is stopping", async () => {
    const short = await startCoreWithHub({ core: { drainTimeoutMs: 500 } });
    const endless = await startFakeNode(short, {
      name: "endless",
      ready: [model],
      // A stream that never ends, and an answer that never comes.
      handler: (_request, response, body) => {
        if (!(body as { stream?: boolean }).stream) return;
        response.writeHead(200, { "content-type": "text/event-stream" });
        response.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "on " } }] })}\n\n`);
      },
    });
    try {
      expect((await short.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(201);
      const ask = (stream: boolean) =>
        fetch(`${short.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "hi" }] }),
        });
      const streaming = await ask(true);
      const waiting = ask(false);
      await expect.poll(() => endless.received.length).toBe(2);
      await short.core.dispose();
      const body = await streaming.text();
      // Said as llmlb stopping, which a client retries later, not as a node that crashed.
      expect(body).toMatch(/"error":\{.*llmlb stopped before this answer ended: its drain timeout/);
      expect(body).toMatch(/"code":"serving\.stopping"/);
      const refused = await waiting;
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("serving.stopping");
    } finally {
      await endless.close();
      await short.close();
    }
  });
});

describe("stopping llmlb with connections that run nothing", () => {
  it("does not wait for a connection opened and never used, nor a keep-alive one gone idle", async () => {
    const own = await startCoreWithHub({ config: { drainTimeoutSeconds: 20 } });
    const { port } = new URL(own.url);
    // A client that connected and has sent nothing yet (as one may at the moment llmlb stops).
    const silent = net.connect(Number(port), "127.0.0.1");
    await once(silent, "connect");
    // And one whose request was answered, kept alive for the next.
    expect((await own.request("GET", "/v0/health")).status).toBe(200);
    try {
      const started = Date.now();
      await own.core.dispose();
      // Well inside the 20 s drain: nothing was running.
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      silent.destroy();
      await own.close();
    }
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type http from "node:http";
import { chatAnswer, startFakeNode, type FakeNode } from "../helpers/fakeNode";
import { startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";
import { waitFor } from "../helpers/waitFor";

// Requests that wait in llmlb's queue are routed on the nodes as they are when a slot frees, not as
// they were when they came: a node drained, paused, restarted or added meanwhile is seen.
let server: TestServerWithHub;
let nodes: FakeNode[] = [];
const model = "acme/tiny-GGUF";

/** A node that holds every answer until the test lets it go; `sequences`: what it reports it runs. */
async function heldNode(name: string, sequences?: number, port?: number) {
  const held: (() => void)[] = [];
  const node = await startFakeNode(server, {
    name,
    ready: [model],
    ...(port !== undefined && { port }),
    ...(sequences !== undefined && {
      holding: { loaded: [{ model, sequences, busy: 0 }], max_loaded_models: 1 },
    }),
    handler: (_request, response: http.ServerResponse, body: { stream?: boolean }) => {
      if (body.stream) {
        // Begun at once (its head and a first chunk), ended when let go.
        response.writeHead(200, { "content-type": "text/event-stream" });
        response.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "a" } }] })}\n\n`);
        return held.push(() => response.end("data: [DONE]\n\n"));
      }
      held.push(() =>
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(chatAnswer(name))),
      );
    },
  });
  nodes.push(node);
  return { node, held, answerAll: () => held.splice(0).forEach((answer) => answer()) };
}

const chat = (extra: { stream?: boolean } = {}) =>
  server.request("POST", "/v1/chat/completions", {
    body: { model, messages: [{ role: "user", content: "x" }], ...extra },
  });

const drain = (name: string, draining: boolean) =>
  server.request("PUT", `/v0/nodes/${name}/draining`, { body: { draining } });

const metrics = async () => (await server.request("GET", "/metrics")).body as string;
/** How many of the model's requests wait in llmlb's queue, as /metrics says. */
const waiting = async () =>
  /llmlb_queue_depth\{model="acme\/tiny-GGUF",state="waiting"\} (\d+)/.exec(await metrics())?.[1];
/** What follows at once, or not at all. */
const quick = { timeoutMs: 5_000 };

beforeAll(async () => {
  server = await startCoreWithHub({
    core: {
      // One request at a time per node, unless a model's `parallel` says otherwise.
      balancer: { slotsPerNode: 1, admission: { queueSize: 8, queueTimeoutMs: 10_000 }, nodeWaitMs: 5_000 },
      nodeTimings: { heartbeatIntervalMs: 100, offlineAfterMs: 1_000 },
    },
  });
  expect((await server.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(201);
});
afterEach(async () => {
  await server.request("PUT", "/v0/serving", { body: { paused: false } });
  // A drain is kept for the node's name, as across restarts: the next test starts undrained.
  for (const name of ["queue-a", "queue-b"]) await drain(name, false);
  await Promise.all(nodes.map((node) => node.close()));
  nodes = [];
  await waitFor(
    "no node online",
    async () =>
      ((await server.request("GET", "/v0/nodes")).body as { data: { status: string }[] }).data.every(
        (node) => node.status === "offline",
      ),
    { timeoutMs: 15_000, intervalMs: 100 },
  );
});
afterAll(async () => {
  await server.close();
});

describe("a request that waited in the queue", () => {
  it("is not sent to a node drained while it waited", async () => {
    const a = await heldNode("queue-a");
    const b = await heldNode("queue-b");
    const answers = [chat(), chat(), chat()];
    await waitFor("one running on each node", () => a.held.length === 1 && b.held.length === 1);
    await waitFor("the third queued", async () => (await waiting()) === "1");
    expect((await drain("queue-a", true)).status).toBe(200);
    // queue-a's request ends: its slot is gone with the drain, so the queued one waits for queue-b's.
    a.answerAll();
    await waitFor("queue-a's answer out", async () => /state="running"\} 1\b/.test(await metrics()), quick);
    expect(await waiting()).toBe("1");
    b.answerAll();
    await waitFor("the queued one at queue-b", () => b.held.length === 1, quick);
    b.answerAll();
    expect((await Promise.all(answers)).map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(a.node.received).toHaveLength(1);
    expect(b.node.received).toHaveLength(2);
  });

  it("takes a slot that opens while it waits (a node back in rotation) without another request coming", async () => {
    const a = await heldNode("queue-a");
    const b = await heldNode("queue-b");
    expect((await drain("queue-a", true)).status).toBe(200);
    const answers = [chat(), chat()];
    await waitFor("one running at queue-b", () => b.held.length === 1);
    await waitFor("the other queued", async () => (await waiting()) === "1");
    expect((await drain("queue-a", false)).status).toBe(200);
    // queue-b still holds its answer: the queued request goes to queue-a, now free.
    await waitFor("the queued one at queue-a", () => a.held.length === 1, quick);
    a.answerAll();
    b.answerAll();
    expect((await Promise.all(answers)).map((answer) => answer.status)).toEqual([200, 200]);
  });

  it("is answered 503 serving.paused when serving is paused, while the running one finishes", async () => {
    const a = await heldNode("queue-a");
    const answers = [chat(), chat()];
    await waitFor("one running", () => a.held.length === 1);
    await waitFor("the other queued", async () => (await waiting()) === "1");
    expect((await server.request("PUT", "/v0/serving", { body: { paused: true } })).status).toBe(200);
    const queued = await answers[1]!;
    expect(queued.status).toBe(503);
    expect(queued.body.error.code).toBe("serving.paused");
    expect(queued.headers["retry-after"]).toBe("5");
    a.answerAll();
    expect((await answers[0]!).status).toBe(200);
    expect(a.node.received).toHaveLength(1);
  });

  it("waiting for a node, is answered 503 serving.paused when serving is paused, and never sent", async () => {
    const preparing = await startFakeNode(server, { name: "queue-a", ready: [] });
    nodes.push(preparing);
    await preparing.report([{ model, artifact: "m.gguf", state: "verifying" }]);
    const answer = chat();
    await waitFor("it waits for the node", async () => (await waiting()) === "1", quick);
    expect((await server.request("PUT", "/v0/serving", { body: { paused: true } })).status).toBe(200);
    const paused = await answer;
    expect(paused.status).toBe(503);
    expect(paused.body.error.code).toBe("serving.paused");
    expect(preparing.received).toHaveLength(0);
  });

  it("waits for its only worker, dead under it, to come back at a new address, rather than failing", async () => {
    const first = await heldNode("queue-w");
    const answers = [chat({ stream: true }), chat()];
    await waitFor("the stream begun", () => first.held.length === 1);
    await waitFor("the other queued", async () => (await waiting()) === "1");
    // Its process dies: the stream breaks off, and the queued request is let in while the control
    // plane still lists the node (its heartbeats have not been missed yet), at its old address.
    await first.node.close();
    const cut = await answers[0]!;
    expect(cut.status).toBe(200);
    expect(String(cut.body)).toContain("node.crashed");
    await waitFor("queue-w offline", async () =>
      ((await server.request("GET", "/v0/nodes")).body as { data: { status: string }[] }).data.every(
        (node) => node.status === "offline",
      ),
    );
    const again = await heldNode("queue-w");
    await waitFor("the queued one at the worker back", () => again.held.length === 1, quick);
    again.answerAll();
    expect((await answers[1]!).status).toBe(200);
  });
});

describe("a request waiting for a model removed meanwhile", () => {
  it("is answered at once that it is not served any more, while the running one finishes", async () => {
    const a = await heldNode("queue-a");
    const answers = [chat(), chat()];
    await waitFor("one running", () => a.held.length === 1, quick);
    await waitFor("one queued", async () => (await waiting()) === "1", quick);
    try {
      expect((await server.request("DELETE", `/v0/models/${encodeURIComponent(model)}`)).status).toBe(204);
      const queued = await answers[1]!;
      expect(queued.status).toBe(404);
      expect(queued.body.error.message).toMatch(
        /is not served here any more: it was removed while this request waited/,
      );
      a.answerAll();
      expect((await answers[0]!).status).toBe(200);
    } finally {
      a.answerAll();
      expect((await server.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(
        201,
      );
    }
  });
});

describe("a request whose worker could not take it", () => {
  it("waits for its only worker, dead before it came, to start again at the same address (a fixed port)", async () => {
    const first = await heldNode("queue-w");
    const port = Number(new URL(first.node.url).port);
    // Its process dies; the control plane lists it until its heartbeats are missed.
    await first.node.close();
    const answer = chat();
    await waitFor("the request waiting for its worker back", async () => (await waiting()) === "1", quick);
    // Started again on its fixed port, it registers anew before it was ever listed offline: the same
    // node at the same address, which has said nothing of its models yet, then says it has it.
    const again = await heldNode("queue-w", undefined, port);
    await waitFor("the request at the worker back", () => again.held.length === 1, quick);
    again.answerAll();
    expect((await answer).status).toBe(200);
  });

  it("is not sent again to a worker that dropped it after it arrived (it may be what ended the worker)", async () => {
    const received: string[] = [];
    const dies = await startFakeNode(server, {
      name: "queue-w",
      ready: [model],
      handler: (request) => {
        received.push("first");
        request.socket.destroy();
      },
    });
    nodes.push(dies);
    const started = Date.now();
    const answer = await chat();
    // At once, as it was: a worker that died of a request is not handed it again when it is back.
    expect(answer.status).toBe(502);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(received).toEqual(["first"]);
  });

  it("that no connection reaches while it heartbeats (a firewall) fails at once, not after a wait for a restart", async () => {
    const registered = await server.request("POST", "/v0/nodes/register", {
      body: {
        name: "walled",
        url: "http://127.0.0.1:1",
        backend: "cpu",
        devices: [],
        memory: { total_bytes: 16e9, free_bytes: 8e9 },
      },
      headers: { authorization: `Bearer ${server.nodeToken}` },
    });
    const { node_id: id, node_token: token } = registered.body as { node_id: string; node_token: string };
    const beat = () =>
      server.request("POST", `/v0/nodes/${id}/heartbeat`, {
        body: {
          memory: { total_bytes: 16e9, free_bytes: 8e9 },
          models: [{ model, artifact: "m.gguf", state: "ready" }],
          loaded: [],
        },
        headers: { authorization: `Bearer ${token}` },
      });
    await beat();
    const beating = setInterval(() => void beat().catch(() => {}), 100);
    try {
      const started = Date.now();
      const answer = await chat();
      expect(answer.status).toBe(502);
      expect(answer.body.error.message).toMatch(/walled: unreachable: .*ECONNREFUSED/);
      // It heartbeats while refusing connections: no restart is coming, and the 5 s wait is not waited.
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      clearInterval(beating);
    }
  });
});

describe("admission's capacity", () => {
  it("stays as it was while no node is up for the model, rather than letting the whole queue out", async () => {
    expect(
      (await server.request("PATCH", `/v0/models/${model}`, { body: { settings: { parallel: 3 } } })).status,
    ).toBe(200);
    try {
      // queue-a runs one at a time, as it reports; until it reported, 3 would be taken of it.
      const a = await heldNode("queue-a", 1);
      const answers = [chat(), chat(), chat()];
      await waitFor("one running", () => a.held.length === 1, quick);
      await waitFor("two queued", async () => (await waiting()) === "2", quick);
      expect((await drain("queue-a", true)).status).toBe(200);
      const b = await heldNode("queue-b", 1);
      // The queue kept its one slot (queue-a's, still running): nothing went to queue-b at once.
      expect(b.held).toHaveLength(0);
      expect(await waiting()).toBe("2");
      a.answerAll();
      await waitFor("the next at queue-b", () => b.held.length === 1, quick);
      expect(await waiting()).toBe("1");
      b.answerAll();
      await waitFor("the last at queue-b", () => b.held.length === 1, quick);
      b.answerAll();
      expect((await Promise.all(answers)).map((answer) => answer.status)).toEqual([200, 200, 200]);
    } finally {
      await server.request("PATCH", `/v0/models/${model}`, { body: { settings: { parallel: null } } });
    }
  });

  it("counts a model's parallel setting for nodes that have not loaded it yet", async () => {
    expect(
      (await server.request("PATCH", `/v0/models/${model}`, { body: { settings: { parallel: 3 } } })).status,
    ).toBe(200);
    try {
      const a = await heldNode("queue-a");
      const answers = Array.from({ length: 4 }, () => chat());
      // 3 run at once there, not slotsPerNode's 1; the fourth waits in llmlb's queue.
      await waitFor("three running", () => a.held.length === 3, quick);
      await waitFor("the fourth queued", async () => (await waiting()) === "1");
      a.answerAll();
      await waitFor("the fourth running", () => a.held.length === 1);
      a.answerAll();
      expect((await Promise.all(answers)).map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    } finally {
      await server.request("PATCH", `/v0/models/${model}`, { body: { settings: { parallel: null } } });
    }
  });
});

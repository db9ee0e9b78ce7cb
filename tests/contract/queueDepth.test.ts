import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeNode, type FakeNode } from "../helpers/fakeNode";
import { startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";

const model = "acme/tiny-GGUF";
let server: TestServerWithHub;
let node: FakeNode;

beforeAll(async () => {
  server = await startCoreWithHub({ core: { balancer: { nodeWaitMs: 20_000 } } });
  expect((await server.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(201);
  // Its node checks the file before it serves it: a request for it waits for that.
  node = await startFakeNode(server, { name: "checking", ready: [] });
  await node.report([{ model, artifact: "m.gguf", state: "verifying" }]);
});
afterAll(async () => {
  await node?.close();
  await server?.close();
});

describe("the queue's depth (llmlb status, /v0/status, /metrics)", () => {
  it("counts a request waiting for a node to take its model up as waiting, not as running anywhere", async () => {
    const answered = fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    });
    await expect
      .poll(() => server.core.status().queues.find((queue) => queue.model === model))
      .toEqual({ model, in_flight: 0, waiting: 1 });
    const metrics = (await server.request("GET", "/metrics", { anonymous: true })).text;
    expect(metrics).toContain(`llmlb_queue_depth{model="${model}",state="waiting"} 1`);
    expect(metrics).toContain(`llmlb_queue_depth{model="${model}",state="running"} 0`);

    await node.report([{ model, artifact: "m.gguf", state: "ready" }]);
    expect((await answered).status).toBe(200);
    expect(server.core.status().queues.find((queue) => queue.model === model)).toBeUndefined();
  });
});

import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RequestList } from "../../src-main/contract";
import { chatAnswer, startFakeNode, type FakeNode } from "../helpers/fakeNode";
import { startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";
import { waitFor } from "../helpers/waitFor";

const model = "acme/tiny-GGUF";
let server: TestServerWithHub;
let node: FakeNode;

beforeAll(async () => {
  server = await startCoreWithHub({
    core: { balancer: { slotsPerNode: 1, clientStallMs: 500, admission: { queueTimeoutMs: 20_000 } } },
  });
  expect((await server.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(201);
  // One slot; a stream's answer of 32 MB, far more than the sockets between hold.
  node = await startFakeNode(server, {
    name: "generous",
    ready: [model],
    handler: (_request, response, body) => {
      if (!(body as { stream?: boolean }).stream)
        return void response
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify(chatAnswer("generous")));
      response.writeHead(200, { "content-type": "text/event-stream" });
      const event = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "x".repeat(1 << 20) } }] })}\n\n`;
      for (let i = 0; i < 32; i++) response.write(event);
      response.end("data: [DONE]\n\n");
    },
  });
});
afterAll(async () => {
  await node?.close();
  await server?.close();
});

describe("a client that stops reading its answer", () => {
  it("is let go of once it has read nothing for a while, and its slot serves the next request", async () => {
    // It reads the head, then nothing more: a stopped `less`, a hung UI.
    const stalled = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const request = http.request(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
      });
      request.on("response", (response) => {
        response.pause();
        resolve(response);
      });
      request.on("error", reject);
      request.end(JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "hi" }] }));
    });
    const id = String(stalled.headers["x-request-id"]);

    // The one slot: the next request waits for it, and gets it once the stalled client is let go.
    const next = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(next.status).toBe(200);
    // Its request ended as a client that left; its connection, closed (it would see so, were it to read).
    const record = await waitFor("the stalled request's record", async () =>
      (await server.request<RequestList>("GET", "/v0/requests")).body.data.find(
        (request) => request.id === id,
      ),
    );
    expect(record.status).toBe(499);
    stalled.socket.destroy();
  });
});

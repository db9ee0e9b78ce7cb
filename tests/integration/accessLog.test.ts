import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletion, NodeList } from "../../src-main/contract";
import { serveTinyModel, tinyModel, type TinyModelServe } from "../helpers/tinyModelServe";
import { waitFor } from "../helpers/waitFor";

let served: TinyModelServe;

beforeAll(async () => {
  served = await serveTinyModel({ workers: 1, logLevel: "info" });
}, 120_000);

afterAll(async () => {
  await served?.close();
});

/** The access log's line for the request answered with this `x-request-id`, once written. */
function lineFor(requestId: string): Promise<Record<string, unknown>> {
  return waitFor(`the log line of request ${requestId}`, () =>
    served.serve
      .logs()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.msg === "inference request" && entry.reqId === requestId),
  );
}

function chat(body: object): Promise<Response> {
  return fetch(`${served.serve.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "Hi" }], max_tokens: 4, ...body }),
  });
}

describe("the access log", () => {
  it("says of each inference request which model, which node, the status, the time and the tokens", async () => {
    const worker = (await served.admin<NodeList>("GET", "/v0/nodes")).body.data[0]!.name;
    const answer = await chat({ model: tinyModel });
    const completion = (await answer.json()) as ChatCompletion;
    const line = await lineFor(answer.headers.get("x-request-id")!);
    expect(line).toMatchObject({
      level: 30,
      client: "127.0.0.1",
      model: tinyModel,
      path: "/v1/chat/completions",
      status: 200,
      node: worker,
      completion_tokens: completion.usage.completion_tokens,
    });
    expect(line.ms).toBeGreaterThanOrEqual(line.first_byte_ms as number);

    const streamed = await chat({ model: tinyModel, stream: true });
    await streamed.text();
    const streamedLine = await lineFor(streamed.headers.get("x-request-id")!);
    expect(streamedLine).toMatchObject({ status: 200, node: worker });
    expect(streamedLine.stream_events).toBeGreaterThan(0);
  });

  it("says so of a request for a model not registered, and of one refused as it was read, which no node saw", async () => {
    const answer = await chat({ model: "acme/nothing-GGUF" });
    expect(answer.status).toBe(404);
    const line = await lineFor(answer.headers.get("x-request-id")!);
    expect(line).toMatchObject({ model: "unknown", status: 404 });
    expect(line.node).toBeUndefined();

    const malformed = await fetch(`${served.serve.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(malformed.status).toBe(400);
    expect(await lineFor(malformed.headers.get("x-request-id")!)).toMatchObject({
      model: "unknown",
      path: "/v1/chat/completions",
      status: 400,
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletion, NodeList, RequestList, RequestRecord } from "../../src-main/contract";
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

/** A log line's own fields (pino's, the request's id) left out: what the request's record holds too. */
function withoutLogFields(line: Record<string, unknown>): Record<string, unknown> {
  const {
    level: _level,
    time: _time,
    pid: _pid,
    hostname: _hostname,
    app: _app,
    reqId: _reqId,
    msg: _msg,
    module: _module,
    ...record
  } = line;
  return record;
}

/** The Requests page's record of the request answered with this `x-request-id`. */
async function recordOf(requestId: string): Promise<RequestRecord> {
  await lineFor(requestId);
  const listed = (await served.admin<RequestList>("GET", "/v0/requests")).body.data;
  return listed.find((record) => record.id === requestId)!;
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

    // The dashboard's Requests page lists them too, newest first, as the log says them.
    const listed = (await served.admin<RequestList>("GET", "/v0/requests")).body.data;
    const [newest, before] = listed;
    expect(newest).toMatchObject({
      ...withoutLogFields(streamedLine),
      id: streamed.headers.get("x-request-id"),
    });
    expect(before).toMatchObject({ ...withoutLogFields(line), id: answer.headers.get("x-request-id") });
    expect(Date.parse(newest!.at)).toBeGreaterThanOrEqual(Date.parse(before!.at));
  });

  it("says so of a request for a model not registered, and of one refused as it was read, which no node saw", async () => {
    const answer = await chat({ model: "acme/nothing-GGUF" });
    expect(answer.status).toBe(404);
    const line = await lineFor(answer.headers.get("x-request-id")!);
    expect(line).toMatchObject({ model: "unknown", status: 404, requested_model: "acme/nothing-GGUF" });
    expect(line.node).toBeUndefined();
    const refusal = ((await answer.json()) as { error: { message: string; code: string } }).error;
    expect(line.error).toEqual({ code: refusal.code, message: refusal.message });

    const malformed = await fetch(`${served.serve.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(malformed.status).toBe(400);
    const malformedError = ((await malformed.json()) as { error: { message: string; code: string } }).error;
    expect(await lineFor(malformed.headers.get("x-request-id")!)).toMatchObject({
      model: "unknown",
      path: "/v1/chat/completions",
      status: 400,
      error: { code: malformedError.code, message: malformedError.message },
    });
  });

  it("writes one line of a bounded length for a refused request, however long the name its client sent, and echoes the name cut", async () => {
    const answer = await chat({ model: "m".repeat(1_000_000) });
    expect(answer.status).toBe(404);
    // Nor is the name echoed whole to the client.
    const told = ((await answer.json()) as { error: { message: string } }).error.message;
    expect(told).toMatch(/^The model `m{199}…` does not exist\./);
    const id = answer.headers.get("x-request-id")!;
    await lineFor(id);
    const lines = served.serve
      .logs()
      .split("\n")
      .filter((line) => line.includes(`"reqId":"${id}"`));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(3000);
  });

  it("writes a 5xx's line as a warning, which LLMLB_LOG_LEVEL=warn keeps", async () => {
    expect((await served.admin("PUT", "/v0/serving", { paused: true })).status).toBe(200);
    try {
      const answer = await chat({ model: tinyModel });
      expect(answer.status).toBe(503);
      expect(await lineFor(answer.headers.get("x-request-id")!)).toMatchObject({ level: 40, status: 503 });
    } finally {
      await served.admin("PUT", "/v0/serving", { paused: false });
    }
  });

  it("says why a node refused a request, as its client was told, and the node's log has it under the same id", async () => {
    const answer = await chat({ model: tinyModel, max_tokens: 0 });
    expect(answer.status).toBe(400);
    const told = ((await answer.json()) as { error: { message: string; code: string | null } }).error;
    const id = answer.headers.get("x-request-id")!;
    const record = await recordOf(id);
    expect(record).toMatchObject({ status: 400, error: { message: told.message } });
    expect(record.node).toBeDefined();
    // The worker's own line for it, under the id the client got.
    await waitFor("the node's line for it", () =>
      served.serve
        .logs()
        .split("\n")
        .some((line) => line.includes(`"reqId":"${id}"`) && line.includes(`"node":"${record.node}"`)),
    );
  });

  it("marks a stream, and takes its tokens from the usage it carries", async () => {
    const counted = await chat({ model: tinyModel, stream: true, stream_options: { include_usage: true } });
    const events = (await counted.text()).split("\n").filter((line) => line.startsWith("data: {"));
    const usage = JSON.parse(events.at(-1)!.slice(6)).usage as { completion_tokens: number };
    expect(await recordOf(counted.headers.get("x-request-id")!)).toMatchObject({
      stream: true,
      completion_tokens: usage.completion_tokens,
    });
    expect((await recordOf(counted.headers.get("x-request-id")!)).stream_events).toBeUndefined();

    const uncounted = await chat({ model: tinyModel, stream: true });
    await uncounted.text();
    const record = await recordOf(uncounted.headers.get("x-request-id")!);
    expect(record).toMatchObject({ stream: true });
    expect(record.stream_events).toBeGreaterThan(0);
    expect(record.completion_tokens).toBeUndefined();
  });
});

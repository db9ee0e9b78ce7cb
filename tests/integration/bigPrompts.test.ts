import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workerPids } from "../helpers/processes";
import { serveTinyModel, tinyModel, type TinyModelServe } from "../helpers/tinyModelServe";
import { waitFor } from "../helpers/waitFor";

// Requests of tens of megabytes (the inference routes take up to 64 MB) through `llmlb serve` with one
// CPU worker. The tokenizer holds a worker's only thread while it works, about a fifth of a second per
// megabyte here; a worker silent for 6 s is taken for lost, its requests called off, and ended.
let server: TinyModelServe;

beforeAll(async () => {
  server = await serveTinyModel({ workers: 1 });
}, 90_000);
afterAll(async () => {
  await server?.close();
});

const megabytes = 40;
const phrase = "lorem ipsum dolor sit amet ";
const textOf = (bytes: number) => phrase.repeat(Math.floor(bytes / phrase.length));

function post(route: string, body: object) {
  return fetch(`${server.serve.url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

const countTokens = async (text: string) => {
  const response = await post("/v1/messages/count_tokens", {
    model: tinyModel,
    messages: [{ role: "user", content: text }],
  });
  return { status: response.status, body: (await response.json()) as { input_tokens: number } };
};

async function inFlight(): Promise<number> {
  const { body } = await server.admin<{ queues: { model: string; in_flight: number }[] }>(
    "GET",
    "/v0/status",
  );
  return body.queues.find((queue) => queue.model === tinyModel)?.in_flight ?? 0;
}

/** The worker's process: the same one after a request if nothing ended it. */
const workers = () => workerPids(server.serve.child.pid!);

describe("a request of tens of megabytes", () => {
  it("counts the tokens of a 40 MB conversation, and the worker answers others meanwhile", async () => {
    const before = workers();
    // The counts of one megabyte and of two tell what forty must come to: the template's tokens around
    // the message, and a megabyte's.
    const small = textOf(1024 * 1024);
    const one = await countTokens(small);
    const two = await countTokens(small.repeat(2));
    expect([one.status, two.status]).toEqual([200, 200]);
    const perMegabyte = two.body.input_tokens - one.body.input_tokens;

    const counting = countTokens(small.repeat(megabytes));
    await waitFor("the count running at the worker", async () => (await inFlight()) > 0);
    const chat = await post("/v1/chat/completions", {
      model: tinyModel,
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 4,
    });
    expect(chat.status).toBe(200);

    const counted = await counting;
    expect(counted.status).toBe(200);
    expect(counted.body.input_tokens).toBe(one.body.input_tokens + (megabytes - 1) * perMegabyte);
    // Nothing was called off: the same worker, never taken for lost.
    expect(workers()).toEqual(before);
    expect(server.serve.logs()).not.toMatch(/missed their heartbeats/);
  }, 120_000);

  it("refuses 40 MB of tools by their size, at once, and stays online", async () => {
    const before = workers();
    const properties = Object.fromEntries(
      Array.from({ length: (megabytes * 1024 * 1024) / 64 }, (_, index) => [
        `field_${index}`,
        { type: "string", description: "a field of the record, as written" },
      ]),
    );
    const response = await post("/v1/chat/completions", {
      model: tinyModel,
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 4,
      tools: [{ type: "function", function: { name: "save", parameters: { type: "object", properties } } }],
    });
    expect(response.status).toBe(400);
    // Refused by its size, before a grammar or a prompt is made of it.
    expect(await response.json()).toMatchObject({
      error: {
        param: "tools[0].function.parameters",
        message:
          "tools[0].function.parameters: holds more than 10,000 schemas (properties, items and alternatives at any depth); it may hold at most that many.",
      },
    });
    expect(workers()).toEqual(before);
    expect(server.serve.logs()).not.toMatch(/missed their heartbeats/);
  }, 120_000);

  it("refuses a conversation of a million messages up front, and stays online", async () => {
    const before = workers();
    const messages = Array.from({ length: 1_000_000 }, (_, index) => ({
      role: index % 2 === 0 ? "user" : "assistant",
      content: "a",
    }));
    const response = await post("/v1/chat/completions", { model: tinyModel, messages, max_tokens: 4 });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { param: "messages", message: "messages: must have at most 100000 items" },
    });
    expect(workers()).toEqual(before);
    expect(server.serve.logs()).not.toMatch(/missed their heartbeats/);
  }, 120_000);
});

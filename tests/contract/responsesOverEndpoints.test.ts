import type http from "node:http";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { responseObjectSchema } from "../../src-main/contract";
import { startFakeOpenAiServer, type FakeOpenAiServer } from "../helpers/fakeOpenAiServer";
import { startCore, type TestServer } from "../helpers/startCore";

// The Responses API is llmlb's own, over each node's chat completions: an OpenAI-compatible server
// that has never heard of /v1/responses serves it through llmlb, streaming and conversations included.
const model = "org/chat-only";
let server: TestServer;
let endpoint: FakeOpenAiServer;
let client: OpenAI;
/** How the endpoint answers the next chat completion. */
let answer: (response: http.ServerResponse, body: any) => void;
/** How far ahead of now the core's clock runs. */
let later = 0;

const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    created: 0,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;
const usage = (completion: number) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    created: 0,
    model,
    choices: [],
    usage: { prompt_tokens: 11, completion_tokens: completion, total_tokens: 11 + completion },
  })}\n\n`;

/** A whole chat completion that says "Ahoy.". */
const ahoy = (response: http.ServerResponse) =>
  response.writeHead(200, { "content-type": "application/json" }).end(
    JSON.stringify({
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 0,
      model,
      choices: [
        { index: 0, message: { role: "assistant", content: "Ahoy." }, logprobs: null, finish_reason: "stop" },
      ],
      usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
    }),
  );

beforeAll(async () => {
  server = await startCore({
    hubEndpoint: "http://127.0.0.1:9",
    core: { clock: { now: () => Date.now() + later } },
  });
  endpoint = await startFakeOpenAiServer({
    name: "chat-only",
    models: [model],
    handler: (request, response, body) => {
      if (request.url !== "/v1/chat/completions") return void response.writeHead(404).end();
      answer(response, body);
    },
  });
  const added = await server.request("POST", "/v0/endpoints", {
    body: { name: "chat-only", url: endpoint.url },
  });
  expect(added.status).toBe(201);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
});
afterAll(async () => {
  await endpoint?.close();
  await server?.close();
});

describe("the Responses API over an endpoint that serves only chat completions", () => {
  it("answers from a chat completion, and continues the conversation with previous_response_id", async () => {
    answer = ahoy;
    const first = await client.responses.create({ model, instructions: "Be a sailor.", input: "Hello" });
    responseObjectSchema.parse(first);
    expect(first).toMatchObject({ status: "completed", output_text: "Ahoy." });
    expect(first.usage).toMatchObject({ input_tokens: 9, output_tokens: 2, total_tokens: 11 });
    expect(endpoint.received.at(-1)).toMatchObject({
      path: "/v1/chat/completions",
      body: {
        model,
        messages: [
          { role: "system", content: "Be a sailor." },
          { role: "user", content: "Hello" },
        ],
      },
    });

    // LM Studio's ttl goes on with it, as a chat completion's does.
    await client.responses.create({
      model,
      previous_response_id: first.id,
      input: "Where to?",
      ttl: 60,
    } as never);
    expect(endpoint.received.at(-1)!.body.ttl).toBe(60);
    // Instructions are not carried over, as OpenAI's are not; the conversation is.
    expect(endpoint.received.at(-1)!.body.messages).toEqual([
      { role: "user", content: "Hello" },
      { role: "assistant", content: "Ahoy." },
      { role: "user", content: "Where to?" },
    ]);
    // Counted as what the client called, not as the chat completions it ran as.
    const metrics = (await server.request("GET", "/metrics", { anonymous: true })).text;
    expect(metrics).toMatch(
      new RegExp(`^llmlb_requests_total\\{model="${model}",route="/v1/responses",status="200"\\} 2$`, "m"),
    );
    expect(metrics).not.toContain('route="/v1/chat/completions"');
  });

  it("deleting a turn in the middle of a conversation leaves the turns after it whole", async () => {
    answer = ahoy;
    const first = await client.responses.create({ model, input: "One" });
    const second = await client.responses.create({ model, previous_response_id: first.id, input: "Two" });
    const third = await client.responses.create({ model, previous_response_id: second.id, input: "Three" });
    await client.responses.delete(second.id);
    await expect(client.responses.retrieve(second.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);

    const items = await client.responses.inputItems.list(third.id, { order: "asc" });
    expect(items.data.map((item) => (item.type === "message" ? item.role : item.type))).toEqual([
      "user",
      "assistant",
      "user",
      "assistant",
      "user",
    ]);
    await client.responses.create({ model, previous_response_id: third.id, input: "Four" });
    expect(endpoint.received.at(-1)!.body.messages).toEqual([
      { role: "user", content: "One" },
      { role: "assistant", content: "Ahoy." },
      { role: "user", content: "Two" },
      { role: "assistant", content: "Ahoy." },
      { role: "user", content: "Three" },
      { role: "assistant", content: "Ahoy." },
      { role: "user", content: "Four" },
    ]);
  });

  it("streams a tool call that comes in pieces, as OpenAI's servers send it, as one function_call", async () => {
    answer = (response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(chunk({ role: "assistant", content: "Checking. " }));
      response.write(
        chunk({
          tool_calls: [
            { index: 0, id: "call_abc", type: "function", function: { name: "get_weather", arguments: "" } },
          ],
        }),
      );
      for (const piece of ['{"ci', 'ty": "Os', 'lo"}'])
        response.write(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
      response.write(chunk({}, "tool_calls"));
      response.write(usage(7));
      response.end("data: [DONE]\n\n");
    };
    const stream = client.responses.stream({
      model,
      input: "Weather in Oslo?",
      tools: [{ type: "function", name: "get_weather", parameters: { type: "object" }, strict: false }],
    });
    const deltas: string[] = [];
    const types: string[] = [];
    stream.on("response.function_call_arguments.delta", (event) => deltas.push(event.delta));
    stream.on("event", (event) => types.push(event.type));
    const final = await stream.finalResponse();
    expect(endpoint.received.at(-1)!.body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(deltas).toEqual(['{"ci', 'ty": "Os', 'lo"}']);
    // Each item is done before the next is added, as OpenAI streams them.
    expect(types.filter((type) => /output_item|done$|added$/.test(type))).toEqual([
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.done",
      "response.output_item.done",
    ]);
    expect(final.status).toBe("completed");
    expect(final.output_text).toBe("Checking. ");
    expect(final.output[1]).toMatchObject({
      type: "function_call",
      call_id: "call_abc",
      name: "get_weather",
      arguments: '{"city": "Oslo"}',
      status: "completed",
    });
    expect(final.usage?.output_tokens).toBe(7);
    // Kept as streamed (the SDK adds `parsed` fields of its own to what it assembled).
    expect((await client.responses.retrieve(final.id)).output).toEqual(
      responseObjectSchema.parse(final).output,
    );
  });

  it("an empty answer is an empty message, streamed or not, and the conversation keeps its turn", async () => {
    answer = (response, body) => {
      if (!body.stream)
        return void response.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            id: "chatcmpl-1",
            object: "chat.completion",
            created: 0,
            model,
            choices: [{ index: 0, message: { role: "assistant", content: "" }, finish_reason: "stop" }],
            usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 },
          }),
        );
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(chunk({ role: "assistant", content: "" }));
      response.write(chunk({}, "stop"));
      response.write(usage(1));
      response.end("data: [DONE]\n\n");
    };
    const whole = await client.responses.create({ model, input: "Say nothing." });
    expect(whole.output).toEqual([
      expect.objectContaining({
        type: "message",
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: "", annotations: [] }],
      }),
    ]);

    const stream = client.responses.stream({ model, input: "Say nothing.", previous_response_id: whole.id });
    const types: string[] = [];
    stream.on("event", (event) => types.push(event.type));
    const final = await stream.finalResponse();
    expect(types.filter((type) => /output_item|done$|added$/.test(type))).toEqual([
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
    ]);
    expect(final.output).toEqual([expect.objectContaining({ type: "message", status: "completed" })]);
    expect(final.output_text).toBe("");
    // The empty turn stays in the conversation: user and assistant still take turns.
    expect(endpoint.received.at(-1)!.body.messages).toEqual([
      { role: "user", content: "Say nothing." },
      { role: "assistant", content: "" },
      { role: "user", content: "Say nothing." },
    ]);
  });

  it("ends a stream whose node fails mid-answer with error and response.failed, and keeps nothing", async () => {
    answer = (response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(chunk({ role: "assistant", content: "Half an ans" }), () => response.destroy());
    };
    const streamed = await fetch(`${server.url}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, input: "Hello", stream: true }),
    });
    expect(streamed.status).toBe(200);
    const events = (await streamed.text())
      .split("\n\n")
      .filter((block) => block.startsWith("event: "))
      .map(
        (block) => JSON.parse(block.slice(block.indexOf("data: ") + 6)) as { type: string; response?: any },
      );
    expect(events.map((event) => event.type).slice(-3)).toEqual([
      "response.output_text.delta",
      "error",
      "response.failed",
    ]);
    const failed = responseObjectSchema.parse(events.at(-1)!.response);
    expect(failed.status).toBe("failed");
    expect(failed.error).toEqual({
      code: "node.crashed",
      message: expect.stringMatching(
        /^The node serving this request \(.+\) stopped midway: .+\. Retry the request\.$/,
      ),
    });
    await expect(client.responses.retrieve(failed.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("keeps a response for 30 days, then forgets it", async () => {
    answer = ahoy;
    const kept = await client.responses.create({ model, input: "Hello" });
    try {
      later = 29 * 86_400_000;
      expect((await client.responses.retrieve(kept.id)).output_text).toBe("Ahoy.");
      later = 31 * 86_400_000;
      await expect(client.responses.retrieve(kept.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      await expect(
        client.responses.create({ model, previous_response_id: kept.id, input: "Again" }),
      ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    } finally {
      later = 0;
    }
  });

  it("passes a node's own 400 on in OpenAI's error shape", async () => {
    answer = (response) =>
      response.writeHead(400, { "content-type": "application/json" }).end(
        JSON.stringify({
          error: {
            message: "Too long.",
            type: "invalid_request_error",
            code: "context_length_exceeded",
            param: null,
          },
        }),
      );
    const error = await client.responses.create({ model, input: "Hello" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("context_length_exceeded");
  });
});

import OpenAI, { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  responseInputItemsListSchema,
  responseObjectSchema,
  responseStreamEventSchema,
} from "../../src-main/contract";
import { serveTinyModel, tinyModel, toolModel, type TinyModelServe } from "../helpers/tinyModelServe";
import { waitFor } from "../helpers/waitFor";

// OpenAI's Responses API through `llmlb serve` (balancer, one CPU worker, the tiny model), driven by the
// official OpenAI Node SDK as the Agents SDK and Codex-style tools call it, with an API key.
const apiKey = "sk-llmlb-responses-test";
let server: TinyModelServe;
let client: OpenAI;

beforeAll(async () => {
  server = await serveTinyModel({ workers: 1, args: ["--api-key", apiKey], withToolModel: true });
  client = new OpenAI({ baseURL: `${server.serve.url}/v1`, apiKey, maxRetries: 0 });
}, 90_000);
afterAll(async () => {
  await server?.close();
});

const weatherTool: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "get_weather",
  description: "The weather in a city",
  // Strings bounded: the tiny model, its weights random, would never close one itself.
  parameters: {
    type: "object",
    properties: { city: { type: "string", maxLength: 10 } },
    required: ["city"],
    additionalProperties: false,
  },
  strict: true,
};

/** A city and its population, as JSON: strings bounded, for the random model would not close one. */
const cityFormat = {
  type: "json_schema" as const,
  name: "city",
  strict: true,
  schema: {
    type: "object",
    properties: { name: { type: "string", maxLength: 8 }, population: { type: "integer" } },
    required: ["name", "population"],
    additionalProperties: false,
  },
};

describe("POST /v1/responses", () => {
  it("answers instructions and an input in the Responses shape, stored and read back with GET", async () => {
    const response = await client.responses.create({
      model: tinyModel,
      instructions: "You are brief.",
      input: "Tell me about lighthouses.",
      max_output_tokens: 8,
      temperature: 0,
    });
    responseObjectSchema.parse(response);
    expect(response.id).toMatch(/^resp_/);
    expect(response).toMatchObject({
      object: "response",
      model: tinyModel,
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
      instructions: "You are brief.",
      store: true,
    });
    expect(response.output).toHaveLength(1);
    expect(response.output[0]).toMatchObject({ type: "message", role: "assistant" });
    expect(response.output_text.length).toBeGreaterThan(0);
    expect(response.usage!.output_tokens).toBe(8);
    expect(response.usage!.total_tokens).toBe(response.usage!.input_tokens + 8);

    const again = await client.responses.retrieve(response.id);
    expect(again.output).toEqual(response.output);
    const listed = await fetch(`${server.serve.url}/v1/responses/${response.id}/input_items`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    const items = responseInputItemsListSchema.parse(await listed.json());
    expect(items).toMatchObject({ has_more: false, first_id: items.data[0]!.id, last_id: items.data[0]!.id });
    expect(items.data).toEqual([
      expect.objectContaining({
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "Tell me about lighthouses." }],
      }),
    ]);
  });

  it("streams the Responses events in order, which add up to the same answer as without streaming", async () => {
    const ask = { model: tinyModel, input: "Hello", max_output_tokens: 10, temperature: 0 };
    const plain = await client.responses.create(ask);
    const stream = client.responses.stream(ask);
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    stream.on("event", (event) => events.push(event));
    const final = await stream.finalResponse();
    for (const event of events) responseStreamEventSchema.parse(event);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const types = events.map((event) => event.type);
    expect(types.slice(0, 4)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
    ]);
    expect(types.slice(-4)).toEqual([
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.incomplete",
    ]);
    const deltas = events.filter((event) => event.type === "response.output_text.delta");
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((event) => event.delta).join("")).toBe(plain.output_text);
    expect(final.output_text).toBe(plain.output_text);
    expect(final.usage).toEqual(plain.usage);
    expect(final.id).not.toBe(plain.id);
    // A streamed response is stored as well.
    expect((await client.responses.retrieve(final.id)).output_text).toBe(plain.output_text);
  });

  it("asked by an alias, names the model's id in every event, the first ones too", async () => {
    expect(
      (await server.admin("POST", "/v0/aliases", { alias: "tiny-alias", model: tinyModel })).status,
    ).toBe(201);
    const stream = client.responses.stream({ model: "tiny-alias", input: "Hello", max_output_tokens: 3 });
    const models: string[] = [];
    stream.on("event", (event) => {
      if ("response" in event) models.push(event.response.model);
    });
    await stream.finalResponse();
    expect(models.length).toBeGreaterThanOrEqual(3);
    expect(new Set(models)).toEqual(new Set([tinyModel]));
  });

  it("includes the output text's log probabilities when asked, the same streamed or not and as chat gives them", async () => {
    const ask = {
      model: tinyModel,
      input: "Hello",
      max_output_tokens: 6,
      temperature: 0,
      include: ["message.output_text.logprobs" as const],
      top_logprobs: 2,
    };
    const plain = await client.responses.create(ask);
    const part = (plain.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0]!;
    const logprobs = (part as OpenAI.Responses.ResponseOutputText).logprobs!;
    expect(logprobs.map((token) => token.token).join("")).toBe(plain.output_text);
    expect(logprobs.every((token) => token.top_logprobs!.length === 2)).toBe(true);
    expect(plain.top_logprobs).toBe(2);
    // The same numbers chat gives for the same conversation.
    const chat = await client.chat.completions.create({
      model: tinyModel,
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 6,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    expect(logprobs).toEqual(chat.choices[0]!.logprobs!.content);

    const stream = client.responses.stream(ask);
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    stream.on("event", (event) => events.push(event));
    const final = await stream.finalResponse();
    const done = events.find((event) => event.type === "response.output_text.done")!;
    expect((done as OpenAI.Responses.ResponseTextDoneEvent).logprobs).toEqual(logprobs);
    const finalPart = (final.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0];
    expect((finalPart as OpenAI.Responses.ResponseOutputText).logprobs).toEqual(logprobs);
    // Not asked: none.
    const without = await client.responses.create({ ...ask, include: [] });
    expect((without.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0]).not.toHaveProperty(
      "logprobs",
    );
  });

  it("continues a conversation with previous_response_id exactly as if the whole conversation were sent", async () => {
    const first = await client.responses.create({
      model: tinyModel,
      input: "Hello",
      max_output_tokens: 6,
      temperature: 0,
    });
    const next = await client.responses.create({
      model: tinyModel,
      previous_response_id: first.id,
      input: "Lighthouses.",
      max_output_tokens: 6,
      temperature: 0,
    });
    expect(next.previous_response_id).toBe(first.id);
    const stateless = await client.responses.create({
      model: tinyModel,
      input: [
        { role: "user", content: "Hello" },
        { role: "assistant", content: first.output_text },
        { role: "user", content: "Lighthouses." },
      ],
      max_output_tokens: 6,
      temperature: 0,
      store: false,
    });
    expect(next.usage!.input_tokens).toBe(stateless.usage!.input_tokens);
    expect(next.output_text).toBe(stateless.output_text);
    expect(next.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens);

    const items = await client.responses.inputItems.list(next.id, { order: "asc" });
    expect(items.data.map((item) => (item as { role?: string }).role)).toEqual(["user", "assistant", "user"]);
  });

  it("keeps nothing with store: false, and a previous_response_id it does not have is a 400 naming it", async () => {
    const unstored = await client.responses.create({
      model: tinyModel,
      input: "Hello",
      max_output_tokens: 2,
      store: false,
    });
    expect(responseObjectSchema.parse(unstored).store).toBe(false);
    await expect(client.responses.retrieve(unstored.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const error = await client.responses
      .create({ model: tinyModel, input: "Again", previous_response_id: unstored.id })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).param).toBe("previous_response_id");
    expect((error as APIError).message).toContain(unstored.id);
  });

  it("a previous_response_id of a stream its client cut off says it did not complete", async () => {
    // An answer that runs to its limit (greedy: the same each time), long enough to be cut midway.
    const ask = { model: toolModel, input: "Hello", max_output_tokens: 3000, temperature: 0, store: false };
    expect((await client.responses.create(ask)).status).toBe("incomplete");
    const stream = client.responses.stream({ ...ask, store: true });
    let id: string | undefined;
    stream.on("event", (event) => {
      if (event.type !== "response.created") return;
      id = event.response.id;
      stream.abort();
    });
    await stream.finalResponse().catch(() => undefined);
    expect(id).toMatch(/^resp_/);
    // The server learns of the cut as its connection closes: asked until it has.
    let message = "";
    await waitFor("the cut-off response known as unfinished", async () => {
      const error = await client.responses
        .create({ model: tinyModel, input: "Again", previous_response_id: id! })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      message = (error as APIError).message;
      return /did not complete/.test(message);
    });
    expect(message).toContain(`'${id}' did not complete (its stream was cut off, by its client or its node)`);
  });

  it("says a stored response is not streamed again nor cancelled, rather than a stream with no events", async () => {
    const response = await client.responses.create({
      model: tinyModel,
      input: "Hello",
      max_output_tokens: 2,
    });
    const replay = async () => {
      for await (const event of await client.responses.retrieve(response.id, { stream: true })) void event;
    };
    await expect(replay()).rejects.toThrow(/stream: a stored response is not streamed again here/);
    await expect(client.responses.cancel(response.id)).rejects.toThrow(
      /Only a background response can be cancelled, and llmlb runs none/,
    );
    await expect(client.responses.cancel("resp_nothing")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("deletes a stored response", async () => {
    const response = await client.responses.create({
      model: tinyModel,
      input: "Hello",
      max_output_tokens: 2,
    });
    await client.responses.delete(response.id);
    await expect(client.responses.retrieve(response.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.responses.delete(response.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);

    // As openai-python deletes: Content-Type: application/json on a DELETE with no body.
    const other = await client.responses.create({ model: tinyModel, input: "Hello", max_output_tokens: 2 });
    const deleted = await fetch(`${server.serve.url}/v1/responses/${other.id}`, {
      method: "DELETE",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
    });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: other.id, object: "response", deleted: true });
  });

  it("answers a required function tool with a function_call whose arguments fit the schema, and takes its output back", async () => {
    const call = await client.responses.create({
      model: toolModel,
      input: "Weather in Oslo?",
      tools: [weatherTool],
      tool_choice: "required",
      max_output_tokens: 200,
      temperature: 0,
    });
    expect(call.status).toBe("completed");
    expect(call.output).toHaveLength(1);
    const functionCall = call.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(functionCall).toMatchObject({ type: "function_call", name: "get_weather", status: "completed" });
    expect(functionCall.call_id).toMatch(/^call_/);
    expect(typeof (JSON.parse(functionCall.arguments) as { city?: unknown }).city).toBe("string");

    const answer = await client.responses.create({
      model: toolModel,
      previous_response_id: call.id,
      input: [{ type: "function_call_output", call_id: functionCall.call_id, output: "Sunny, 21 C" }],
      tools: [weatherTool],
      max_output_tokens: 6,
    });
    expect(["completed", "incomplete"]).toContain(answer.status);
    expect(answer.usage!.input_tokens).toBeGreaterThan(call.usage!.input_tokens);
    const items = await client.responses.inputItems.list(answer.id, { order: "asc" });
    expect(items.data.map((item) => item.type)).toEqual(["message", "function_call", "function_call_output"]);
  });

  it("cut short by max_output_tokens, a required call is an incomplete function_call with the arguments it got to", async () => {
    const ask = {
      model: toolModel,
      input: "Weather in Oslo?",
      tools: [weatherTool],
      tool_choice: "required" as const,
      max_output_tokens: 3,
      temperature: 0,
    };
    const cut = await client.responses.create(ask);
    expect(cut).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
    expect(cut.output).toEqual([
      expect.objectContaining({ type: "function_call", name: "get_weather", status: "incomplete" }),
    ]);
    const { arguments: begun } = cut.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(begun).toMatch(/^\{/);
    expect(() => JSON.parse(begun)).toThrow();

    const streamed = await client.responses.stream(ask).finalResponse();
    expect(streamed.status).toBe("incomplete");
    expect(streamed.output[0]).toMatchObject({
      type: "function_call",
      arguments: begun,
      status: "incomplete",
    });
  });

  it("streams a function call as its item, its arguments and their done events", async () => {
    const stream = client.responses.stream({
      model: toolModel,
      input: "Weather in Oslo?",
      tools: [weatherTool],
      tool_choice: { type: "function", name: "get_weather" },
      max_output_tokens: 200,
      temperature: 0,
    });
    const types: string[] = [];
    stream.on("event", (event) => types.push(event.type));
    const final = await stream.finalResponse();
    expect(types).toEqual(
      expect.arrayContaining([
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
      ]),
    );
    expect(types.at(-1)).toBe("response.completed");
    const functionCall = final.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(functionCall.type).toBe("function_call");
    expect(typeof (JSON.parse(functionCall.arguments) as { city?: unknown }).city).toBe("string");
  });

  it("answers JSON that fits a text.format json_schema", async () => {
    const response = await client.responses.create({
      model: toolModel,
      input: "A city and its population.",
      text: { format: cityFormat },
      max_output_tokens: 200,
      temperature: 0,
    });
    const parsed = JSON.parse(response.output_text) as { name: unknown; population: unknown };
    expect(typeof parsed.name).toBe("string");
    expect(Number.isInteger(parsed.population)).toBe(true);
  });
});

describe("tools and a text.format together, as the Agents SDK sends an agent with tools and an output type", () => {
  it("with tool_choice required, the answer is the call", async () => {
    const response = await client.responses.create({
      model: toolModel,
      input: "Weather in Oslo?",
      tools: [weatherTool],
      tool_choice: "required",
      text: { format: cityFormat },
      max_output_tokens: 200,
      temperature: 0,
    });
    expect(response.output).toMatchObject([
      { type: "function_call", name: "get_weather", status: "completed" },
    ]);
  });

  it("with tool_choice auto, the answer is a call, or text that fits the format, streamed or not alike", async () => {
    const ask = {
      model: toolModel,
      input: "A city and its population.",
      tools: [weatherTool],
      text: { format: cityFormat },
      max_output_tokens: 200,
      temperature: 0,
    };
    const response = await client.responses.create(ask);
    const call = response.output.find((item) => item.type === "function_call");
    if (call) expect(typeof (JSON.parse(call.arguments) as { city?: unknown }).city).toBe("string");
    else {
      const parsed = JSON.parse(response.output_text) as { name: unknown; population: unknown };
      expect(typeof parsed.name).toBe("string");
      expect(Number.isInteger(parsed.population)).toBe(true);
    }
    const streamed = await client.responses.stream(ask).finalResponse();
    expect(streamed.output_text).toBe(response.output_text);
    expect(streamed.output.map((item) => item.type)).toEqual(response.output.map((item) => item.type));
  });
});

describe("errors on /v1/responses", () => {
  it("includes nothing but the output text's log probabilities, naming what it cannot", async () => {
    const error = await client.responses
      .create({ model: tinyModel, input: "Hi", include: ["file_search_call.results"] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).param).toBe("include[0]");
    expect((error as APIError).message).toMatch(/only "message.output_text.logprobs" can be included/);
  });

  it("a built-in tool is refused, naming it", async () => {
    const error = await client.responses
      .create({ model: tinyModel, input: "News?", tools: [{ type: "web_search" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).param).toBe("tools[0].type");
    expect((error as APIError).message).toMatch(/only function tools/);
  });

  it("takes a stateless client's reasoning include and the reasoning items it sends back, which add nothing here", async () => {
    const response = await client.responses.create({
      model: tinyModel,
      store: false,
      include: ["reasoning.encrypted_content"],
      input: [
        { role: "user", content: "Hello" },
        { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "opaque" },
        { role: "assistant", content: "Hi." },
        { role: "user", content: "Lighthouses?" },
      ],
      max_output_tokens: 3,
      // Greedy: sampled, the tiny model's random weights may end the answer at once, with no message.
      temperature: 0,
    });
    expect(response.output.map((item) => item.type)).toEqual(["message"]);
  });

  it("a function_call_output that answers no function_call is refused, naming its call_id", async () => {
    const error = await client.responses
      .create({
        model: tinyModel,
        input: [
          { role: "user", content: "Weather?" },
          { type: "function_call_output", call_id: "call_nowhere", output: "Sunny" },
        ],
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).param).toBe("input[1].call_id");
    expect((error as APIError).message).toMatch(/no function_call has the call_id "call_nowhere"/);
  });

  it("an image in the input is refused, naming where", async () => {
    const error = await client.responses
      .create({
        model: tinyModel,
        input: [
          {
            role: "user",
            content: [{ type: "input_image", image_url: "data:image/png;base64,AA==", detail: "auto" }],
          },
        ],
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).param).toBe("input[0].content[0].type");
    expect((error as APIError).message).toBe(
      "400 input[0].content[0].type: parts must be input_text, output_text or refusal (images, files and audio are not supported)",
    );
  });

  it("an input longer than the context is a 400 on input naming truncation: auto, with which its oldest items are left out", async () => {
    const long = "The lighthouse keeper lit the lamp again. ".repeat(12);
    const input: OpenAI.Responses.ResponseInput = [
      ...Array.from({ length: 12 }, (_, index) => ({
        role: index % 2 === 0 ? ("user" as const) : ("assistant" as const),
        content: long,
      })),
      { role: "user", content: "Hello" },
    ];
    const refused = await client.responses
      .create({ model: tinyModel, input, max_output_tokens: 4 })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(APIError);
    expect(refused).toMatchObject({ status: 400, code: "context_length_exceeded", param: "input" });
    expect((refused as APIError).message).toMatch(
      /send "truncation": "auto": its oldest input items are then left out/,
    );

    const answered = await client.responses.create({
      model: tinyModel,
      input,
      max_output_tokens: 4,
      truncation: "auto",
    });
    expect(answered).toMatchObject({ status: "incomplete", truncation: "auto" });
    expect(answered.output_text.length).toBeGreaterThan(0);

    // The model's own setting truncates too, and the response says it did.
    const setting = (context_overflow: string | null) =>
      server.admin("PATCH", `/v0/models/${tinyModel}`, { settings: { context_overflow } });
    expect((await setting("truncate_oldest")).status).toBe(200);
    try {
      const bySetting = await waitFor("the worker to take the setting", () =>
        client.responses.create({ model: tinyModel, input, max_output_tokens: 4 }).catch(() => undefined),
      );
      expect(bySetting.truncation).toBe("auto");
    } finally {
      await setting(null);
    }
  });

  it("an unknown model is a 404, and an unknown response id too", async () => {
    await expect(
      client.responses.create({ model: "acme/nothing-GGUF", input: "Hello" }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.responses.retrieve("resp_nothing")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("needs the API key like the rest of /v1", async () => {
    const stranger = new OpenAI({ baseURL: `${server.serve.url}/v1`, apiKey: "sk-wrong", maxRetries: 0 });
    await expect(stranger.responses.create({ model: tinyModel, input: "Hello" })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    const listed = await client.responses.create({ model: tinyModel, input: "Hello", max_output_tokens: 2 });
    await expect(stranger.responses.retrieve(listed.id)).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

import Anthropic from "@anthropic-ai/sdk";
import { jsonSchemaOutputFormat } from "@anthropic-ai/sdk/helpers/json-schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  anthropicErrorBodySchema,
  anthropicMessageSchema,
  anthropicModelSchema,
} from "../../src-main/contract";
import { serveTinyModel, tinyModel, toolModel, type TinyModelServe } from "../helpers/tinyModelServe";

// Anthropic's Messages API through `llmlb serve` (balancer, one CPU worker, the tiny model), driven by
// the official Anthropic SDK as Claude Code and other clients call it, with an API key as x-api-key.
const apiKey = "sk-llmlb-messages-test";
let server: TinyModelServe;
let client: Anthropic;

beforeAll(async () => {
  server = await serveTinyModel({ workers: 1, args: ["--api-key", apiKey], withToolModel: true });
  client = new Anthropic({ baseURL: server.serve.url, apiKey, maxRetries: 0 });
}, 90_000);
afterAll(async () => {
  await server?.close();
});

/**
 * Greedy, so two answers to one request agree. (This SDK's types no longer list `temperature`; the
 * API takes it, and so does llmlb.)
 */
const greedy = <T extends object>(params: T): T => ({ ...params, temperature: 0 });

const conversation: Anthropic.MessageParam[] = [
  { role: "user", content: "Hello" },
  { role: "assistant", content: [{ type: "text", text: "Hi. What shall we talk about?" }] },
  { role: "user", content: [{ type: "text", text: "Lighthouses." }] },
];

describe("POST /v1/messages", () => {
  it("answers a system prompt and a multi-turn conversation in Anthropic's shape, to max_tokens", async () => {
    const { data: message, request_id } = await client.messages
      .create(greedy({ model: tinyModel, system: "You are brief.", messages: conversation, max_tokens: 8 }))
      .withResponse();
    anthropicMessageSchema.parse(message);
    // The id llmlb logs the request under, as the SDK reads it (Anthropic's header, not x-request-id).
    expect(request_id).toMatch(/^req_/);
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      model: tinyModel,
      stop_reason: "max_tokens",
    });
    expect(message.id).toMatch(/^msg_/);
    expect(message.content).toHaveLength(1);
    expect(message.content[0]!.type).toBe("text");
    expect(message.usage.output_tokens).toBe(8);
    expect(message.usage.input_tokens).toBeGreaterThan(10);
  });

  it("answers a request that turns extended thinking on (as Claude Code may), with no thinking blocks", async () => {
    const message = await client.messages.create(
      greedy({
        model: tinyModel,
        messages: conversation,
        max_tokens: 4,
        thinking: { type: "enabled" as const, budget_tokens: 1024 },
      }),
    );
    expect(message.content.map((block) => block.type)).toEqual(["text"]);
    expect(message.stop_reason).toBe("max_tokens");
  });

  it("stops at a stop sequence, which it names and leaves out", async () => {
    const ask = greedy({ model: tinyModel, messages: conversation, max_tokens: 24 });
    const free = await client.messages.create(ask);
    const text = (free.content[0] as Anthropic.TextBlock).text;
    const stop = text.slice(6, 9);
    const stopped = await client.messages.create({ ...ask, stop_sequences: [stop] });
    expect(stopped.stop_reason).toBe("stop_sequence");
    expect(stopped.stop_sequence).toBe(stop);
    expect((stopped.content[0] as Anthropic.TextBlock).text).toBe(text.slice(0, text.indexOf(stop)));
  });

  it("streams Anthropic's events, which add up to the same answer", async () => {
    const ask = greedy({ model: tinyModel, messages: conversation, max_tokens: 12 });
    const plain = await client.messages.create(ask);
    const stream = client.messages.stream(ask);
    const types: string[] = [];
    stream.on("streamEvent", (event) => types.push(event.type));
    const final = await stream.finalMessage();
    expect(final.content).toEqual(plain.content);
    expect(final.stop_reason).toBe("max_tokens");
    expect(final.usage).toEqual(plain.usage);
    expect(types[0]).toBe("message_start");
    expect(types.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(types.filter((type) => type === "content_block_delta").length).toBeGreaterThan(1);
  });

  it("takes a tool round trip: the assistant's tool_use and the user's tool_result, with the tool offered", async () => {
    const message = await client.messages.create({
      model: toolModel,
      max_tokens: 6,
      tools: [{ name: "now", description: "The time", input_schema: { type: "object", properties: {} } }],
      messages: [
        { role: "user", content: "Time?" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "now", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "noon" }] },
      ],
    });
    expect(message.type).toBe("message");
    expect(["max_tokens", "end_turn", "tool_use"]).toContain(message.stop_reason);
  });

  it("answers a required tool with a tool_use block whose input fits its schema, streamed the same", async () => {
    const ask = greedy({
      model: toolModel,
      max_tokens: 200,
      // Strings bounded: the tiny model, its weights random, would never close one itself.
      tools: [
        {
          name: "get_weather",
          description: "The weather in a city",
          input_schema: {
            type: "object" as const,
            properties: { city: { type: "string", maxLength: 10 } },
            required: ["city"],
          },
        },
      ],
      tool_choice: { type: "tool" as const, name: "get_weather" },
      messages: [{ role: "user" as const, content: "Weather in Oslo?" }],
    });
    const message = await client.messages.create(ask);
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content).toHaveLength(1);
    const use = message.content[0] as Anthropic.ToolUseBlock;
    expect(use).toMatchObject({ type: "tool_use", name: "get_weather" });
    expect(use.id).toMatch(/^toolu_/);
    expect(typeof (use.input as { city?: unknown }).city).toBe("string");

    const final = await client.messages.stream(ask).finalMessage();
    expect(final.stop_reason).toBe("tool_use");
    expect(final.content).toEqual([{ ...use, id: (final.content[0] as Anthropic.ToolUseBlock).id }]);
  });

  it("cut short by max_tokens, keeps the required tool_use block last, as Anthropic does, its JSON streamed as far as it got", async () => {
    const ask = greedy({
      model: toolModel,
      max_tokens: 3,
      tools: [
        {
          name: "get_weather",
          input_schema: { type: "object" as const, properties: { city: { type: "string" } } },
        },
      ],
      tool_choice: { type: "tool" as const, name: "get_weather" },
      messages: [{ role: "user" as const, content: "Weather in Oslo?" }],
    });
    const message = await client.messages.create(ask);
    expect(message.stop_reason).toBe("max_tokens");
    expect(message.content.at(-1)).toMatchObject({ type: "tool_use", name: "get_weather", input: {} });

    const deltas: string[] = [];
    const stream = client.messages.stream(ask);
    stream.on("inputJson", (partial) => deltas.push(partial));
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe("max_tokens");
    expect(final.content.at(-1)).toMatchObject({ type: "tool_use", name: "get_weather" });
    // Begun, not whole.
    expect(deltas.join("")).toMatch(/^\{/);
    expect(() => JSON.parse(deltas.join(""))).toThrow();
  });

  it("holds the answer to output_config.format's schema, which the SDK's parse reads, streamed the same", async () => {
    // Enums and booleans: the tiny model, its weights random, would never close an unbounded string.
    const format = jsonSchemaOutputFormat(
      {
        type: "object",
        properties: { sea: { enum: ["calm", "stormy"] }, lit: { type: "boolean" } },
        required: ["sea", "lit"],
        additionalProperties: false,
      },
      { transform: false },
    );
    const ask = greedy({
      model: toolModel,
      max_tokens: 60,
      messages: [{ role: "user" as const, content: "How is the sea at the lighthouse?" }],
      output_config: { format },
    });
    const parsed = await client.messages.parse(ask);
    expect(parsed.stop_reason).toBe("end_turn");
    expect(parsed.parsed_output).toEqual({
      sea: expect.stringMatching(/^(calm|stormy)$/),
      lit: expect.any(Boolean),
    });
    const streamed = await client.messages.stream(ask).finalMessage();
    expect(streamed.parsed_output).toEqual(parsed.parsed_output);

    // The beta's name for it, as older clients send it.
    const beta = await client.messages.create(
      greedy({
        model: toolModel,
        max_tokens: 60,
        messages: [{ role: "user" as const, content: "How is the sea at the lighthouse?" }],
        output_format: { type: "json_schema", schema: format.schema },
      }) as never,
    );
    const text = (beta as Anthropic.Message).content[0] as Anthropic.TextBlock;
    expect(JSON.parse(text.text)).toEqual(parsed.parsed_output);
  });

  it("runs the SDK's tool runner, which asks for a message thread, as it runs without one", async () => {
    const calls: unknown[] = [];
    const seen: string[] = [];
    const watching = new Anthropic({
      baseURL: server.serve.url,
      apiKey,
      maxRetries: 0,
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        const body = JSON.parse(String(init?.body ?? "{}")) as { thread?: unknown };
        seen.push(`${body.thread === undefined ? "whole" : "threaded"} ${response.status}`);
        return response;
      },
    });
    const runner = watching.beta.messages.toolRunner(
      greedy({
        model: toolModel,
        max_tokens: 60,
        max_iterations: 2,
        messages: [{ role: "user", content: "Weather in Oslo?" }],
        tool_choice: { type: "any" },
        tools: [
          {
            name: "get_weather",
            input_schema: {
              type: "object",
              properties: { city: { type: "string", maxLength: 8 } },
              required: ["city"],
            },
            run: (input: unknown) => (calls.push(input), "sunny"),
            parse: (input: unknown) => input,
          },
        ],
      }),
    );
    const final = await runner.runUntilDone();
    expect(final.type).toBe("message");
    expect(calls.length).toBeGreaterThanOrEqual(1);
    // Threaded first (refused as Anthropic's SDKs recognize it), then every turn whole.
    expect(seen[0]).toBe("threaded 400");
    expect(seen.slice(1).every((turn) => turn === "whole 200")).toBe(true);
  });

  it("lists the models in Anthropic's shape to Anthropic's SDK, and retrieves one", async () => {
    const listed: Anthropic.ModelInfo[] = [];
    for await (const model of client.models.list()) listed.push(anthropicModelSchema.parse(model));
    expect(listed.map((model) => model.id).sort()).toEqual([toolModel, tinyModel].sort());
    const tiny = listed.find((model) => model.id === tinyModel)!;
    expect(tiny).toMatchObject({ type: "model", display_name: tinyModel });
    expect(Date.parse(tiny.created_at)).toBeGreaterThan(Date.parse("2026-01-01"));
    expect(await client.models.retrieve(tinyModel)).toEqual(tiny);
    // An OpenAI client (no anthropic-version header) still gets OpenAI's list.
    const openAi = await fetch(`${server.serve.url}/v1/models`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(((await openAi.json()) as { object: string }).object).toBe("list");
  });

  it("counts a request's input tokens as the answer's usage does", async () => {
    const ask = { model: tinyModel, system: "You are brief.", messages: conversation };
    const counted = await client.messages.countTokens(ask);
    const answered = await client.messages.create({ ...ask, max_tokens: 1 });
    expect(counted.input_tokens).toBe(answered.usage.input_tokens);
  });
});

describe("errors on /v1/messages, in Anthropic's shape", () => {
  it("a missing max_tokens is an invalid_request_error the SDK raises as such", async () => {
    const failed = await fetch(`${server.serve.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": apiKey, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: tinyModel, messages: conversation }),
    });
    expect(failed.status).toBe(400);
    const body = anthropicErrorBodySchema.parse(await failed.json());
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toMatch(/max_tokens/);
  });

  it("an image block is refused, naming where", async () => {
    const failed = await fetch(`${server.serve.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": apiKey },
      body: JSON.stringify({
        model: tinyModel,
        max_tokens: 4,
        messages: [
          {
            role: "user",
            content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: "AA==" } }],
          },
        ],
      }),
    });
    expect(failed.status).toBe(400);
    const body = anthropicErrorBodySchema.parse(await failed.json());
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toBe(
      "messages[0].content: must be a string or an array of text, tool_use and tool_result blocks (images, documents and thinking are not supported)",
    );
  });

  it('a conversation longer than the context is Anthropic\'s "prompt is too long", naming the setting that lets it go on', async () => {
    const long = "The lighthouse keeper lit the lamp again. ".repeat(12);
    const turns: Anthropic.MessageParam[] = Array.from({ length: 12 }, (_, index) => ({
      role: index % 2 === 0 ? "user" : "assistant",
      content: long,
    }));
    const error = await client.messages
      .create({ model: tinyModel, messages: [...turns, { role: "user", content: "Hello" }], max_tokens: 4 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    const { message } = (error as { error: { error: { message: string } } }).error.error;
    // As Anthropic words it: clients read both numbers out of it.
    expect(message).toMatch(/^prompt is too long: \d+ tokens > 512 maximum\b/);
    expect(message).toContain(`llmlb model set ${tinyModel} --overflow truncate_oldest`);
    expect(message).not.toMatch(/context_overflow/);
  });

  it("a tool_result that answers no tool_use, a server tool, tool_choice any with no tools and an output format not JSON are refused, each named", async () => {
    const refused = async (params: object) => {
      const error = await client.messages
        .create({ model: tinyModel, max_tokens: 4, messages: conversation, ...params } as never)
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(Anthropic.BadRequestError);
      return (error as { error: { error: { type: string; message: string } } }).error.error;
    };
    expect(
      await refused({
        messages: [
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_x", content: "noon" }] },
        ],
      }),
    ).toEqual({
      type: "invalid_request_error",
      message: expect.stringMatching(
        /^messages\[0\]\.content\[0\]\.tool_use_id: no tool_use block has the id "toolu_x"/,
      ),
    });
    expect((await refused({ tools: [{ type: "web_search_20250305", name: "web_search" }] })).message).toMatch(
      /^tools\[0\]\.type: only custom tools .* \(server tools such as web_search/,
    );
    expect((await refused({ tool_choice: { type: "any" } })).message).toMatch(
      /^tool_choice: it asks for a tool call, but the request gives no tools/,
    );
    expect((await refused({ output_config: { format: { type: "xml", schema: {} } } })).message).toMatch(
      /^output_config\.format\.type: /,
    );
    // A schema it cannot hold is named where the client put it.
    const badSchema = { type: "object", properties: { a: { type: "strnig" } } };
    expect(
      (await refused({ output_config: { format: { type: "json_schema", schema: badSchema } } })).message,
    ).toMatch(/^output_config\.format\.schema\.properties\.a: /);
  });

  it("an unknown model is a not_found_error", async () => {
    const error = await client.messages
      .create({ model: "acme/nothing-GGUF", messages: conversation, max_tokens: 4 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect((error as InstanceType<typeof Anthropic.NotFoundError>).requestID).toMatch(/^req_/);
    expect((error as { error: unknown }).error).toMatchObject({
      type: "error",
      error: { type: "not_found_error" },
    });
  });

  it("a wrong or missing key is an authentication_error; the right one as x-api-key or bearer works", async () => {
    const wrong = new Anthropic({ baseURL: server.serve.url, apiKey: "sk-wrong", maxRetries: 0 });
    const error = await wrong.messages
      .create({ model: tinyModel, messages: conversation, max_tokens: 1 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((error as { error: unknown }).error).toMatchObject({
      error: { type: "authentication_error" },
    });

    const bearer = new Anthropic({
      baseURL: server.serve.url,
      authToken: apiKey,
      apiKey: null,
      maxRetries: 0,
    });
    const answered = await bearer.messages.create({
      model: tinyModel,
      messages: conversation,
      max_tokens: 1,
    });
    expect(answered.type).toBe("message");
  });
});

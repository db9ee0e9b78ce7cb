import fs from "node:fs";
import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { readGgufFileInfo } from "node-llama-cpp";
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  chatCompletionChunkSchema,
  chatCompletionSchema,
  completionSchema,
  embeddingResponseSchema,
} from "../../src-main/contract";
import { handleError } from "../../src-main/shared/httpErrors";
import { chatJobFrom } from "../../src-main/worker/inference/requestMapping";
import { createInferenceEngine, type InferenceEngine } from "../../src-main/worker/inference";
import { registerInferenceRoutes } from "../../src-main/worker/server/inferenceRoutes";
import { writeTinyGguf } from "../fixtures/tinyGguf";
import { twentyTurns } from "../helpers/conversation";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

// A node's inference routes on a real engine with the tiny GGUF, driven by the official openai SDK.

interface Served {
  app: FastifyInstance;
  engine: InferenceEngine;
  url: string;
  client: OpenAI;
}

let temp: { path: string; remove(): Promise<void> };
const modelPaths = new Map<string, string>();
const started: Served[] = [];

async function serve(options: { sequences: number }): Promise<Served> {
  const engine = createInferenceEngine({
    log: pino({ level: "silent" }),
    backend: "cpu",
    threads: 1,
    sequences: options.sequences,
    maxLoadedModels: 3,
  });
  // The SDK's fetch may leave a socket it opened but never used; close() would wait seconds for it.
  const app = Fastify({ forceCloseConnections: true });
  app.setErrorHandler(handleError);
  registerInferenceRoutes(app, {
    engine,
    resolveModel: (id) => {
      const found = modelPaths.get(id);
      return found ? { path: found } : undefined;
    },
  });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  const served = {
    app,
    engine,
    url,
    client: new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0 }),
  };
  started.push(served);
  return served;
}

let main: Served;
let client: OpenAI;

beforeAll(async () => {
  temp = await makeTempDir("llmlb-inference-");
  for (const [id, seed, contextLength] of [
    ["tiny", 1, undefined],
    ["tiny-ttl", 2, undefined],
    // A context that holds a prompt with tools.
    ["tiny-tools", 3, 4096],
  ] as const) {
    const file = path.join(temp.path, `${id}.gguf`);
    await writeTinyGguf(file, { seed, ...(contextLength ? { shape: { contextLength } } : {}) });
    modelPaths.set(id, file);
  }
  // A file this node cannot load at all.
  const broken = path.join(temp.path, "broken.gguf");
  await fs.promises.writeFile(broken, "not a GGUF file at all");
  modelPaths.set("broken", broken);
  // Two sequences: four concurrent requests exercise both parallel decoding and the queue.
  main = await serve({ sequences: 2 });
  client = main.client;
});

afterAll(async () => {
  for (const { app, engine } of started) {
    // The engine first: it ends whatever still runs, so the server has no open request to wait for.
    await engine.dispose();
    await app.close();
  }
  await temp?.remove();
});

const hello = [{ role: "user" as const, content: "Hello" }];

/** A tool of one bounded string (the random model would never close an unbounded one). */
const getTimeTool = {
  type: "function" as const,
  function: {
    name: "get_time",
    parameters: {
      type: "object",
      properties: { zone: { type: "string", maxLength: 12 } },
      required: ["zone"],
    },
  },
};

describe("chat completions", () => {
  it("answers with the model's chat template, to max_tokens, with usage", async () => {
    const completion = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "system", content: "Be brief." }, ...hello],
      max_tokens: 8,
      temperature: 0,
    });
    const choice = completion.choices[0]!;
    // What we send is what the contract says.
    chatCompletionSchema.parse(completion);
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe("tiny");
    expect(typeof choice.message.content).toBe("string");
    expect(choice.message.content!.length).toBeGreaterThan(0);
    expect(choice.message.role).toBe("assistant");
    expect(choice.finish_reason).toBe("length");
    expect(completion.usage!.completion_tokens).toBe(8);
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(10);
    expect(completion.usage!.total_tokens).toBe(
      completion.usage!.prompt_tokens + completion.usage!.completion_tokens,
    );
    // node-llama-cpp maps the GGUF's Jinja ChatML template to its ChatML wrapper.
    const loaded = main.engine.loaded().find((model) => model.model === "tiny");
    expect(loaded?.chatWrapper).toBe("ChatML");
    // Its decode batches are counted: at least one per generated token, each holding a sequence.
    expect(loaded?.decode?.batches).toBeGreaterThanOrEqual(8);
    expect(loaded?.decode?.sequences).toBeGreaterThanOrEqual(loaded!.decode!.batches);
  });

  it("takes text-part content and max_completion_tokens", async () => {
    const completion = await client.chat.completions.create({
      model: "tiny",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Hel" },
            { type: "text", text: "lo" },
          ],
        },
      ],
      max_completion_tokens: 5,
      temperature: 0,
    });
    expect(completion.usage!.completion_tokens).toBe(5);
  });

  it("measures chat throughput with one thread", async () => {
    const started = performance.now();
    const completion = await client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 400,
      temperature: 0,
    });
    const seconds = (performance.now() - started) / 1000;
    const tokens = completion.usage!.completion_tokens;
    process.stderr.write(`chat, threads 1, tiny model: ${Math.round(tokens / seconds)} tokens/s\n`);
    expect(tokens).toBe(400);
  });

  it("streams deltas, finish_reason on the last content chunk, then usage", async () => {
    const stream = await client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 16,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    expect(text.length).toBeGreaterThan(0);
    const finishing = chunks.filter((chunk) => chunk.choices[0]?.finish_reason);
    expect(finishing).toHaveLength(1);
    expect(finishing[0]!.choices[0]!.finish_reason).toBe("length");
    expect(finishing[0]!.choices[0]!.delta.content).toBeTruthy();
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBe(16);

    // Greedy decoding: the stream says what the plain answer says.
    const plain = await client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 16,
      temperature: 0,
    });
    expect(text).toBe(plain.choices[0]!.message.content);
  });

  it("frames the stream as server-sent events ending in [DONE]", async () => {
    const response = await fetch(`${main.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", messages: hello, max_tokens: 4, stream: true }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const body = await response.text();
    const events = body.split("\n\n").filter(Boolean);
    expect(events.every((event) => event.startsWith("data: "))).toBe(true);
    expect(events.at(-1)).toBe("data: [DONE]");
    expect(body.endsWith("data: [DONE]\n\n")).toBe(true);
    for (const event of events.slice(0, -1)) {
      const chunk = chatCompletionChunkSchema.parse(JSON.parse(event.slice("data: ".length)));
      // No usage unless asked for.
      expect(chunk.usage).toBeUndefined();
    }
  });

  it("stops at a stop string, which it leaves out", async () => {
    const free = await client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 40,
      temperature: 0,
    });
    const text = free.choices[0]!.message.content!;
    const stop = text.slice(10, 12);
    const expected = text.slice(0, text.indexOf(stop));

    const stopped = await client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 40,
      temperature: 0,
      stop: [stop],
    });
    expect(stopped.choices[0]!.message.content).toBe(expected);
    expect(stopped.choices[0]!.finish_reason).toBe("stop");

    const stream = await client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 40,
      temperature: 0,
      stop,
      stream: true,
    });
    let streamed = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(streamed).toBe(expected);
    expect(finish).toBe("stop");
  });

  it("answers json_schema with JSON that fits the schema", async () => {
    const completion = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "Is it ok?" }],
      max_tokens: 100,
      temperature: 0,
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "answer",
          schema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] },
        },
      },
    });
    const parsed = JSON.parse(completion.choices[0]!.message.content!);
    expect(typeof parsed.ok).toBe("boolean");
    expect(completion.choices[0]!.finish_reason).toBe("stop");
  });

  it("answers an anyOf (a nullable field, as zod and pydantic write one) with either, not always null", async () => {
    const schema = {
      type: "object",
      properties: { ok: { anyOf: [{ type: "boolean" }, { type: "null" }] } },
      required: ["ok"],
      additionalProperties: false,
    };
    const seen = new Set<string>();
    for (let seed = 1; seed <= 8; seed++) {
      const completion = await client.chat.completions.create({
        model: "tiny",
        messages: [{ role: "user", content: "Is it ok?" }],
        max_tokens: 40,
        temperature: 1,
        seed,
        response_format: { type: "json_schema", json_schema: { name: "answer", strict: true, schema } },
      });
      const { ok } = JSON.parse(completion.choices[0]!.message.content!) as { ok: unknown };
      seen.add(ok === null ? "null" : typeof ok);
    }
    expect([...seen].every((kind) => kind === "boolean" || kind === "null")).toBe(true);
    expect(seen.has("boolean")).toBe(true);
  });

  it("refuses a strict json_schema that asks for what it cannot hold, naming it; not strict, leaves it out", async () => {
    const schema = {
      type: "object",
      properties: { code: { type: "string", pattern: "^[a-z]{3}$", maxLength: 3 } },
    };
    const ask = (strict: boolean) =>
      client.chat.completions.create({
        model: "tiny",
        messages: [{ role: "user", content: "A code?" }],
        max_tokens: 20,
        temperature: 0,
        response_format: { type: "json_schema", json_schema: { name: "code", strict, schema } },
      });
    const refused = await ask(true).catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as Error).message).toBe(
      '400 response_format.json_schema.schema.properties.code: "pattern" cannot be enforced here (strict). Leave it out, or send strict: false to have it ignored.',
    );
    const loose = await ask(false);
    expect(typeof JSON.parse(loose.choices[0]!.message.content!).code).toBe("string");
  });

  it("answers the OpenAI SDK's parse() with a zod schema of bounded integers (which it always sends strict)", async () => {
    // zod gives every integer the safe-integer bounds; an age has a few values, which the grammar spells out.
    const person = z.object({ age: z.number().int().min(0).max(120), count: z.number().int() });
    for (let seed = 1; seed <= 16; seed++) {
      const completion = await client.chat.completions.parse({
        model: "tiny",
        messages: [{ role: "user", content: "How old?" }],
        max_tokens: 60,
        temperature: 1,
        seed,
        response_format: zodResponseFormat(person, "person"),
      });
      const parsed = completion.choices[0]!.message.parsed!;
      expect(Number.isInteger(parsed.age) && parsed.age >= 0 && parsed.age <= 120).toBe(true);
      expect(Number.isSafeInteger(parsed.count)).toBe(true);
    }
  });

  it("answers json_schema integers as digits and numbers as finite, sampled or not", async () => {
    // What OpenAI's SDK parse() and pydantic accept: an integer has no exponent (1969E+86739 is not
    // one) and a number must fit a double (99e-3758144 does not).
    const schema = {
      type: "object",
      properties: { year: { type: "integer" }, ratio: { type: "number" } },
      required: ["year", "ratio"],
      additionalProperties: false,
    };
    let exponents = 0;
    for (let seed = 1; seed <= 16; seed++) {
      const completion = await client.chat.completions.create({
        model: "tiny",
        messages: [{ role: "user", content: "When, and how much?" }],
        max_tokens: 120,
        temperature: 1.2,
        seed,
        response_format: { type: "json_schema", json_schema: { name: "when", strict: true, schema } },
      });
      const text = completion.choices[0]!.message.content!;
      if (completion.choices[0]!.finish_reason !== "stop") continue;
      const year = /"year"\s*:\s*([^,}\s]+)/.exec(text)?.[1];
      const ratio = /"ratio"\s*:\s*([^,}\s]+)/.exec(text)?.[1];
      expect(year, `seed ${seed}: ${text}`).toMatch(/^-?(0|[1-9][0-9]*)$/);
      expect(Number.isFinite(Number(ratio)), `seed ${seed}: ${text}`).toBe(true);
      expect(
        Number(ratio) === 0 || Math.abs(Number(ratio)) >= Number.MIN_VALUE * 1e10,
        `seed ${seed}: ${text}`,
      ).toBe(true);
      if (/[eE]/.test(ratio!)) exponents++;
    }
    // Sampled numbers did use exponents: the rule that bounds them was met.
    expect(exponents).toBeGreaterThan(0);
  });

  it("serves four concurrent requests on two sequences", async () => {
    const results = await Promise.all(
      ["one", "two", "three", "four"].map((content) =>
        client.chat.completions.create({
          model: "tiny",
          messages: [{ role: "user", content }],
          max_tokens: 32,
          temperature: 0.8,
          seed: 7,
        }),
      ),
    );
    for (const result of results) {
      // Sampling may draw the end-of-turn token early (greedy never does with this model).
      const { finish_reason, message } = result.choices[0]!;
      expect(typeof message.content).toBe("string");
      expect(result.usage!.completion_tokens).toBeLessThanOrEqual(32);
      expect(finish_reason).toBe(result.usage!.completion_tokens === 32 ? "length" : "stop");
    }
  });

  describe("a tool call the request requires", () => {
    // Strings are bounded: the tiny model, its weights random, would never close one itself.
    const tools = [
      {
        type: "function" as const,
        function: {
          name: "get_weather",
          description: "The weather in a city",
          parameters: {
            type: "object",
            properties: { city: { type: "string", maxLength: 12 }, days: { type: "integer" } },
            required: ["city", "days"],
          },
        },
      },
      getTimeTool,
    ];
    const fitsItsSchema = (call: { function: { name: string; arguments: string } }) => {
      const args = JSON.parse(call.function.arguments) as Record<string, unknown>;
      if (call.function.name === "get_weather") {
        expect(typeof args.city).toBe("string");
        expect(Number.isInteger(args.days)).toBe(true);
      } else {
        expect(call.function.name).toBe("get_time");
        expect(typeof args.zone).toBe("string");
      }
    };

    it("is a call with tool_choice required, whatever the model would rather say, its arguments fitting the tool's schema", async () => {
      for (const seed of [1, 2, 3]) {
        const answer = await client.chat.completions.create({
          model: "tiny-tools",
          messages: hello,
          max_tokens: 200,
          temperature: 0.7,
          seed,
          tools,
          tool_choice: "required",
        });
        const choice = answer.choices[0]!;
        expect(choice.finish_reason, JSON.stringify(choice.message)).toBe("tool_calls");
        expect(choice.message.content).toBeNull();
        expect(choice.message.tool_calls).toHaveLength(1);
        fitsItsSchema(choice.message.tool_calls![0]! as { function: { name: string; arguments: string } });
      }
    });

    it("cut short by max_tokens, is the call as far as it got, as OpenAI gives it, never its unfinished JSON as text", async () => {
      const request = {
        model: "tiny-tools",
        messages: hello,
        max_tokens: 3,
        temperature: 0,
        tools,
        tool_choice: { type: "function" as const, function: { name: "get_weather" } },
      };
      const answer = await client.chat.completions.create(request);
      const choice = answer.choices[0]!;
      expect(choice.finish_reason).toBe("length");
      expect(choice.message.content).toBeNull();
      const [cut] = choice.message.tool_calls as {
        id: string;
        function: { name: string; arguments: string };
      }[];
      expect(cut!.function.name).toBe("get_weather");
      expect(cut!.id).toMatch(/^call_/);
      // Three tokens of `{"city": …, "days": …}`: begun, not whole.
      expect(cut!.function.arguments).toMatch(/^\{/);
      expect(() => JSON.parse(cut!.function.arguments)).toThrow();

      const stream = await client.chat.completions.create({ ...request, stream: true });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      // No text, not even "" (content null, as OpenAI streams a call: the AI SDK opens a text part for "").
      expect(chunks[0]!.choices[0]!.delta).toEqual({ role: "assistant", content: null });
      expect(chunks.some((chunk) => typeof chunk.choices[0]?.delta.content === "string")).toBe(false);
      const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
      expect(deltas.map((delta) => delta.function?.arguments ?? "").join("")).toBe(cut!.function.arguments);
      expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("length");

      // Of several tools, the call is there once its name is whole.
      const named = [];
      for (const max_tokens of [2, 40]) {
        const several = await client.chat.completions.create({
          ...request,
          max_tokens,
          tool_choice: "required",
        });
        expect(several.choices[0]!.finish_reason).toBe("length");
        expect(several.choices[0]!.message.content ?? "").toBe("");
        named.push(
          several.choices[0]!.message.tool_calls?.map(
            (call) => (call as { function: { name: string } }).function.name,
          ),
        );
      }
      expect(named[0]).toBeUndefined();
      expect(named[1]).toEqual([expect.stringMatching(/^get_(weather|time)$/)]);
    });

    it("calls the function a named tool_choice names, streamed as OpenAI streams tool calls", async () => {
      const request = {
        model: "tiny-tools",
        messages: hello,
        max_tokens: 200,
        temperature: 0,
        tools,
        tool_choice: { type: "function" as const, function: { name: "get_time" } },
      };
      const answer = await client.chat.completions.create(request);
      expect(answer.choices[0]!.finish_reason).toBe("tool_calls");
      const call = answer.choices[0]!.message.tool_calls![0]! as {
        function: { name: string; arguments: string };
      };
      expect(call.function.name).toBe("get_time");
      fitsItsSchema(call);

      const stream = await client.chat.completions.create({ ...request, stream: true });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      // No text, not even "" (content null, as OpenAI streams a call: the AI SDK opens a text part for "").
      expect(chunks[0]!.choices[0]!.delta).toEqual({ role: "assistant", content: null });
      expect(chunks.some((chunk) => typeof chunk.choices[0]?.delta.content === "string")).toBe(false);
      const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
      expect(deltas[0]).toMatchObject({ index: 0, type: "function", function: { name: "get_time" } });
      expect(deltas.map((delta) => delta.function?.arguments ?? "").join("")).toBe(call.function.arguments);
      expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("tool_calls");

      // The SDK's stream helper says when a call's arguments are whole, as UIs and agents listen for.
      const done: { name: string; arguments: string }[] = [];
      const helper = client.chat.completions.stream(request);
      helper.on("tool_calls.function.arguments.done", (event) => done.push(event));
      await helper.finalChatCompletion();
      expect(done).toEqual([
        expect.objectContaining({ name: "get_time", arguments: call.function.arguments }),
      ]);
    });
  });

  it("refuses OpenAI's older functions and function_call, naming the tools and tool_choice to send", async () => {
    const older = [
      { functions: [{ name: "get_time", parameters: { type: "object", properties: {} } }] },
      { function_call: { name: "get_time" } },
    ];
    for (const fields of older) {
      const error = await client.chat.completions
        .create({ model: "tiny", messages: hello, max_tokens: 4, ...fields } as never)
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as Error).message).toMatch(
        /older functions form is not served: send the functions as tools/,
      );
    }
  });

  it("asked for a call with no tools to call, is a 400 naming tool_choice, not an answer without one", async () => {
    for (const tool_choice of ["required", { type: "function", function: { name: "get_time" } }] as const) {
      const error = await client.chat.completions
        .create({ model: "tiny", messages: hello, max_tokens: 4, tool_choice })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({ param: "tool_choice" });
      expect((error as Error).message).toMatch(/asks for a tool call, but the request gives no tools/);
    }
  });

  it("refuses a tool call's arguments nested thousands of levels deep with a 400, not as the model's failure", async () => {
    const deep = `${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}`;
    const error = await client.chat.completions
      .create({
        model: "tiny",
        max_tokens: 2,
        messages: [
          { role: "user", content: "hi" },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "1", type: "function", function: { name: "f", arguments: deep } }],
          },
          { role: "tool", tool_call_id: "1", content: "ok" },
        ],
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toMatch(/nests JSON too deeply/);
    // The model is fine, and answers the next request.
    const next = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 2 });
    expect(next.choices[0]!.finish_reason).toBe("length");
  });

  it("with tools and a JSON response_format, answers a call or JSON that fits", async () => {
    const tools = [getTimeTool];
    const response_format = {
      type: "json_schema" as const,
      json_schema: {
        name: "n",
        strict: true,
        schema: {
          type: "object",
          properties: { n: { type: "integer" } },
          required: ["n"],
          additionalProperties: false,
        },
      },
    };
    const ask = {
      model: "tiny-tools",
      messages: hello,
      max_tokens: 100,
      temperature: 0,
      tools,
      response_format,
    };
    const required = await client.chat.completions.create({ ...ask, tool_choice: "required" });
    expect(required.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: "get_time" } });

    const auto = await client.chat.completions.create(ask);
    const { message, finish_reason } = auto.choices[0]!;
    if (finish_reason === "tool_calls")
      expect(message.tool_calls?.[0]).toMatchObject({ function: { name: "get_time" } });
    else expect(Number.isInteger((JSON.parse(message.content!) as { n: unknown }).n)).toBe(true);
  });

  it("accepts tools it is told not to use, and refuses a prompt longer than the context", async () => {
    const tools = [
      {
        type: "function" as const,
        function: {
          name: "get_weather",
          description: "The weather in a city",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
    ];
    const none = await client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 4,
      temperature: 0,
      tools,
      tool_choice: "none",
    });
    expect(none.choices[0]!.finish_reason).toBe("length");
    // Documenting the function in the system prompt takes more than the tiny model's 512 tokens.
    const error = await client.chat.completions
      .create({ model: "tiny", messages: hello, max_tokens: 4, tools })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("context_length_exceeded");
  });
});

describe("text completions", () => {
  it("completes a prompt, plain and streamed alike", async () => {
    const plain = await client.completions.create({
      model: "tiny",
      prompt: "Once upon a time",
      max_tokens: 8,
      temperature: 0,
    });
    completionSchema.parse(plain);
    expect(plain.object).toBe("text_completion");
    expect(plain.choices[0]!.finish_reason).toBe("length");
    expect(plain.usage!.completion_tokens).toBe(8);
    expect(plain.usage!.total_tokens).toBe(plain.usage!.prompt_tokens + 8);

    const stream = await client.completions.create({
      model: "tiny",
      prompt: "Once upon a time",
      max_tokens: 8,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((chunk) => chunk.choices[0]?.text ?? "").join("")).toBe(plain.choices[0]!.text);
    expect(chunks.filter((chunk) => chunk.choices[0]?.finish_reason === "length")).toHaveLength(1);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(8);
  });

  it("never returns more tokens than max_tokens, even when the last one is part of a character", async () => {
    // Sampled, the tiny model sometimes picks a byte token: half of a UTF-8 character. node-llama-cpp
    // then generates on to finish the character, past max_tokens.
    let partial = 0;
    for (let seed = 1; seed <= 24; seed++) {
      for (const max_tokens of [1, 2]) {
        const request = { model: "tiny", prompt: "Once upon a time", max_tokens, temperature: 0.8, seed };
        const plain = await client.completions.create(request);
        expect(plain.usage!.completion_tokens, `seed ${seed}, max_tokens ${max_tokens}`).toBeLessThanOrEqual(
          max_tokens,
        );
        const stream = await client.completions.create({
          ...request,
          stream: true,
          stream_options: { include_usage: true },
        });
        const chunks = [];
        for await (const chunk of stream) chunks.push(chunk);
        expect(chunks.map((chunk) => chunk.choices[0]?.text ?? "").join(""), `seed ${seed}`).toBe(
          plain.choices[0]!.text,
        );
        expect(chunks.at(-1)!.usage!.completion_tokens).toBe(plain.usage!.completion_tokens);
        if (plain.choices[0]!.text.includes("\ufffd")) partial++;
      }
    }
    // The requests above did end on half a character: the case this is about was met.
    expect(partial).toBeGreaterThan(0);
  });

  it("answers n choices, each sampled from its own seed, counting the prompt once", async () => {
    const request = { model: "tiny", prompt: "Once upon a time", max_tokens: 6, temperature: 1, seed: 11 };
    const three = await client.completions.create({ ...request, n: 3 });
    expect(three.choices.map((choice) => choice.index)).toEqual([0, 1, 2]);
    // The first is the answer to the request alone; the others differ from it.
    const one = await client.completions.create(request);
    expect(three.choices[0]!.text).toBe(one.choices[0]!.text);
    expect(new Set(three.choices.map((choice) => choice.text)).size).toBeGreaterThan(1);
    expect(three.usage!.prompt_tokens).toBe(one.usage!.prompt_tokens);
    expect(three.usage!.completion_tokens).toBe(18);

    const chats = await client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 4,
      n: 2,
      seed: 3,
    });
    expect(chats.choices).toHaveLength(2);
    expect(chats.choices.map((choice) => choice.finish_reason)).toEqual(["length", "length"]);
    expect(chats.usage!.completion_tokens).toBe(8);
  });

  it("streams n choices side by side, each as it is answered whole, with one usage for all", async () => {
    const request = {
      model: "tiny",
      prompt: "Once upon a time",
      max_tokens: 6,
      temperature: 1,
      seed: 11,
      n: 3,
    };
    const whole = await client.completions.create(request);
    const stream = await client.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    const texts = ["", "", ""];
    const finishes: (string | null)[] = [null, null, null];
    let usage: unknown;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        texts[choice.index] += choice.text;
        if (choice.finish_reason) finishes[choice.index] = choice.finish_reason;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(texts).toEqual(whole.choices.map((choice) => choice.text));
    expect(finishes).toEqual(whole.choices.map((choice) => choice.finish_reason));
    expect(usage).toEqual(whole.usage);

    // The SDK's stream helper gathers each choice of a chat by its index.
    const chatRequest = { model: "tiny", messages: hello, max_tokens: 4, n: 2, seed: 3, temperature: 1 };
    const chats = await client.chat.completions.create(chatRequest);
    const gathered = await client.chat.completions.stream(chatRequest).finalChatCompletion();
    expect(gathered.choices.map((choice) => choice.message.content)).toEqual(
      chats.choices.map((choice) => choice.message.content),
    );
    expect(gathered.choices.map((choice) => choice.finish_reason)).toEqual(["length", "length"]);
  });

  it("defaults max_tokens to 16, as OpenAI does", async () => {
    const completion = await client.completions.create({ model: "tiny", prompt: "Hi", temperature: 0 });
    expect(completion.usage!.completion_tokens).toBe(16);
  });
});

describe("embeddings", () => {
  it("gives one unit vector of the model's size per input, deterministically", async () => {
    const info = await readGgufFileInfo(modelPaths.get("tiny")!);
    const size = (info.metadata as { llama: { embedding_length: number } }).llama.embedding_length;

    // The SDK asks for base64 and decodes it.
    const one = await client.embeddings.create({ model: "tiny", input: "hello" });
    expect(one.object).toBe("list");
    expect(one.data).toHaveLength(1);
    expect(one.data[0]!.embedding).toHaveLength(size);
    expect(one.usage.prompt_tokens).toBeGreaterThan(0);

    const two = await client.embeddings.create({
      model: "tiny",
      input: ["hello", "something else"],
      encoding_format: "float",
    });
    embeddingResponseSchema.parse(two);
    expect(two.data.map((item) => item.index)).toEqual([0, 1]);
    const [first, second] = two.data.map((item) => item.embedding);
    expect(first).toHaveLength(size);
    expect(second).toHaveLength(size);
    expect(first).not.toEqual(second);
    // float32 on the base64 path, float64 on the JSON one.
    first!.forEach((value, index) => expect(value).toBeCloseTo(one.data[0]!.embedding[index]!, 5));
    expect(Math.hypot(...first!)).toBeCloseTo(1, 5);

    const again = await client.embeddings.create({
      model: "tiny",
      input: ["hello", "something else"],
      encoding_format: "float",
    });
    expect(again.data.map((item) => item.embedding)).toEqual([first, second]);

    // Its own size may be asked for; another is refused, saying which to send.
    const sized = await client.embeddings.create({ model: "tiny", input: "hello", dimensions: size });
    expect(sized.data[0]!.embedding).toHaveLength(size);
    await expect(client.embeddings.create({ model: "tiny", input: "hello", dimensions: 16 })).rejects.toThrow(
      `400 dimensions: this model's embeddings have ${size} dimensions: send ${size}, or leave dimensions out.`,
    );
  });
});

describe("errors in OpenAI's shape", () => {
  it("404 model_not_found for a model the node does not have", async () => {
    const error = await client.chat.completions
      .create({ model: "nope", messages: hello })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
    await expect(client.embeddings.create({ model: "nope", input: "x" })).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
  });

  it("400 naming the field for an invalid body", async () => {
    const error = await client.chat.completions
      .create({ model: "tiny", messages: hello, temperature: 5 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const badRequest = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect(badRequest.param).toBe("temperature");
    expect(badRequest.message).toContain("temperature");

    const role = await client.chat.completions
      .create({ model: "tiny", messages: [{ role: "robot", content: "x" } as never] })
      .catch((caught: unknown) => caught);
    expect(role).toBeInstanceOf(OpenAI.BadRequestError);
    expect((role as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("messages[0].role");

    // In plain words, not the validator's.
    for (const [body, says] of [
      [{ messages: [] }, "400 messages: must have at least one item"],
      [{ messages: hello, max_tokens: 1.5 }, "400 max_tokens: must be a whole number"],
    ] as const) {
      const refused = await client.chat.completions
        .create({ model: "tiny", ...body } as never)
        .catch((caught: unknown) => caught);
      expect((refused as InstanceType<typeof OpenAI.BadRequestError>).message).toBe(says);
    }

    await expect(
      client.chat.completions.create({ model: "tiny", messages: hello, n: 9, stream: true }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(client.completions.create({ model: "tiny", prompt: 7 as never })).rejects.toBeInstanceOf(
      OpenAI.BadRequestError,
    );
    // One prompt per request: an array of one string is that string, a longer one says so.
    const one = await client.completions.create({ model: "tiny", prompt: ["Hello"], max_tokens: 2 });
    expect(one.choices).toHaveLength(1);
    const two = await client.completions
      .create({ model: "tiny", prompt: ["Hello", "Bye"], max_tokens: 2 })
      .catch((caught: unknown) => caught);
    expect((two as Error).message).toBe(
      "400 prompt: must be a string or an array of token ids (one prompt per request)",
    );
  });

  it("503 when this node cannot load the model: another node may (the balancer tries one)", async () => {
    const error = await client.chat.completions
      .create({ model: "broken", messages: hello, max_tokens: 1 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toMatch(
      /^503 This node could not load broken\.gguf: /,
    );
  });

  it("400 context_length_exceeded for a prompt longer than the context", async () => {
    const error = await client.chat.completions
      .create({ model: "tiny", messages: [{ role: "user", content: "x ".repeat(600) }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("context_length_exceeded");
  });
});

describe("a prompt of megabytes", () => {
  // Tokenizing it would hold the node's thread for seconds (heartbeats included, so the control plane
  // would take the node for lost, with everyone's requests on it): its length alone says it cannot fit.
  const huge = "hello world ".repeat(400_000);
  // OpenAI's opening words, by which LangChain and LiteLLM tell a prompt too long from other 400s.
  const tooLong =
    /^400 This model's maximum context length is 512 tokens per request(, \d+ of them kept for the answer)?; the prompt is at least \d+ tokens\./;

  it("is refused by its length, for a chat, a completion and embeddings", async () => {
    const chat = await client.chat.completions
      .create({ model: "tiny", messages: [{ role: "user", content: huge }], max_tokens: 1 })
      .catch((caught: unknown) => caught);
    expect(chat).toBeInstanceOf(OpenAI.BadRequestError);
    expect((chat as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("context_length_exceeded");
    expect((chat as Error).message).toMatch(tooLong);

    const completion = await client.completions
      .create({ model: "tiny", prompt: huge, max_tokens: 1 })
      .catch((caught: unknown) => caught);
    expect((completion as Error).message).toMatch(tooLong);

    const embedding = await client.embeddings
      .create({ model: "tiny", input: ["short", huge] })
      .catch((caught: unknown) => caught);
    expect((embedding as Error).message).toMatch(
      /^400 This model's maximum context length is 511 tokens per input; input\[1\] is at least \d+ tokens\./,
    );
  });

  it("with truncate_oldest, is left out when it is an old message, and refused when it is the last", async () => {
    const oldHuge = await client.chat.completions.create({
      model: "tiny",
      messages: [
        { role: "user", content: huge },
        { role: "assistant", content: "Noted." },
        { role: "user", content: "Hello" },
      ],
      max_tokens: 2,
      temperature: 0,
      seed: 1,
      context_overflow: "truncate_oldest",
    } as never);
    expect(oldHuge.choices[0]!.finish_reason).toBe("length");
    expect(oldHuge.usage!.prompt_tokens).toBeLessThan(100);

    const lastHuge = await client.chat.completions
      .create({
        model: "tiny",
        messages: [{ role: "user", content: huge }],
        max_tokens: 2,
        context_overflow: "truncate_oldest",
      } as never)
      .catch((caught: unknown) => caught);
    expect((lastHuge as Error).message).toMatch(tooLong);
  });
});

describe("an answer that would outgrow the context", () => {
  // About 470 tokens of prompt in a context of 512: max_tokens asks for far more than is left.
  const long = [{ role: "user" as const, content: "x ".repeat(235) }];

  it("ends where the context does, with finish_reason length, streamed or not", async () => {
    const asked = { model: "tiny", messages: long, max_tokens: 100_000, temperature: 0, seed: 1 };
    const answer = await client.chat.completions.create(asked);
    expect(answer.choices[0]!.finish_reason).toBe("length");
    expect(answer.usage!.prompt_tokens + answer.usage!.completion_tokens).toBeLessThanOrEqual(512);
    expect(answer.usage!.completion_tokens).toBeGreaterThan(0);

    const stream = await client.chat.completions.create({ ...asked, stream: true });
    let text = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe("length");
    expect(text).toBe(answer.choices[0]!.message.content);
  });

  it("ends a text completion where the context does too, streamed or not", async () => {
    const asked = { model: "tiny", prompt: "x ".repeat(200), max_tokens: 100_000, temperature: 0, seed: 1 };
    const answer = await client.completions.create(asked);
    expect(answer.choices[0]!.finish_reason).toBe("length");
    expect(answer.usage!.prompt_tokens + answer.usage!.completion_tokens).toBe(512);

    const stream = await client.completions.create({ ...asked, stream: true });
    let text = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe("length");
    expect(text).toBe(answer.choices[0]!.text);
  });
});

describe("a conversation longer than the context", () => {
  const converse = (overflow: "truncate_oldest" | undefined) =>
    twentyTurns(main.url, {
      model: "tiny",
      max_tokens: 24,
      ...(overflow ? { context_overflow: overflow } : {}),
    });

  it("fails with a clear 400 that says how to go on, when truncation is off (the default)", async () => {
    const turns = await converse(undefined);
    const failed = turns.at(-1)!;
    expect(turns.length).toBeLessThan(20);
    expect(failed).toMatchObject({ status: 400, code: "context_length_exceeded" });
    expect(failed.message).toMatch(/context_overflow.*truncate_oldest/);
  });

  it("succeeds for all 20 turns with truncate_oldest, saying how many messages it left out", async () => {
    const turns = await converse("truncate_oldest");
    expect(turns.map((turn) => turn.status)).toEqual(Array(20).fill(200));
    // Early turns fit whole; late ones had their oldest messages left out, and were told so.
    expect(turns[0]!.truncated).toBe(0);
    expect(turns.at(-1)!.truncated).toBeGreaterThan(0);
  });
});

describe("two models of one file", () => {
  it("share one load while their settings agree, and load apart when they do not", async () => {
    const engine = (await serve({ sequences: 1 })).engine;
    const file = modelPaths.get("tiny")!;
    const chat = (id: string, contextSize?: number) =>
      engine.chat(
        chatJobFrom({ model: id, messages: hello, max_tokens: 1 } as never, {
          id,
          path: file,
          ...(contextSize ? { contextSize } : {}),
        }),
        { signal: new AbortController().signal },
      );
    await chat("org/repo");
    await chat("org/repo/tiny.gguf");
    expect(engine.loaded().map((entry) => entry.models)).toEqual([["org/repo", "org/repo/tiny.gguf"]]);
    await chat("org/repo/tiny.gguf", 256);
    expect(
      engine
        .loaded()
        .map((entry) => entry.contextSize)
        .sort(),
    ).toEqual([256, 512]);
  });
});

describe("model lifecycle", () => {
  it("frees the sequence of a client that leaves mid-stream", async () => {
    // One sequence: the next request can only run once the abandoned one has let go of it.
    const single = await serve({ sequences: 1 });
    const stream = await single.client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 1_000_000,
      temperature: 0,
      stream: true,
    });
    let received = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) received++;
      if (received === 5) break; // leaving the loop aborts the request
    }
    expect(received).toBe(5);

    const next = await single.client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 4,
      temperature: 0,
    });
    expect(next.usage!.completion_tokens).toBe(4);
    await waitFor("no request running", () => single.engine.loaded()[0]?.activeRequests === 0, {
      timeoutMs: 5000,
    });
  });

  it("unloads a model after its request's idle ttl", async () => {
    const body: ChatCompletionCreateParamsNonStreaming & { ttl: number } = {
      model: "tiny-ttl",
      messages: hello,
      max_tokens: 2,
      ttl: 0.3,
    };
    await client.chat.completions.create(body);
    const loaded = main.engine.loaded().find((model) => model.model === "tiny-ttl");
    expect(loaded?.idleTtlMs).toBe(300);
    await waitFor(
      "tiny-ttl unloaded",
      () => !main.engine.loaded().some((model) => model.model === "tiny-ttl"),
      { timeoutMs: 5000, intervalMs: 25 },
    );
    // The model without a ttl stays.
    expect(main.engine.loaded().some((model) => model.model === "tiny")).toBe(true);
  });

  it("takes a ttl past what a model's idle setting may be (7 days) as that: kept loaded", async () => {
    const body: ChatCompletionCreateParamsNonStreaming & { ttl: number } = {
      model: "tiny-ttl",
      messages: hello,
      max_tokens: 2,
      ttl: 1e13,
    };
    await client.chat.completions.create(body);
    expect(main.engine.loaded().find((model) => model.model === "tiny-ttl")?.idleTtlMs).toBe(
      7 * 24 * 3600 * 1000,
    );
    await main.engine.unloadModel("tiny-ttl");
  });

  it("reads a ttl on Anthropic's Messages and count_tokens too", async () => {
    for (const path of ["/v1/messages", "/v1/messages/count_tokens"]) {
      const response = await fetch(`${main.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "tiny-ttl", messages: hello, max_tokens: 2, ttl: 0.3 }),
      });
      expect(response.status).toBe(200);
      await response.text();
      expect(main.engine.loaded().find((model) => model.model === "tiny-ttl")?.idleTtlMs).toBe(300);
      await waitFor(
        `tiny-ttl unloaded after ${path}`,
        () => !main.engine.loaded().some((model) => model.model === "tiny-ttl"),
        { timeoutMs: 5000, intervalMs: 25 },
      );
    }
  });
});

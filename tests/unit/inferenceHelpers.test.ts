import { describe, expect, it } from "vitest";
import { chatCompletionRequestSchema, type ChatCompletionRequest } from "../../src-main/contract";
import { AppError, toHttpError } from "../../src-main/shared/errors";
import { chatHistoryFrom } from "../../src-main/worker/inference/chatHistory";
import { normalize } from "../../src-main/worker/inference/embeddings";
import { finishReasonOf } from "../../src-main/worker/inference/generation";
import type { GenerationResult } from "../../src-main/worker/inference/jobs";
import { paramPath, parseBody } from "../../src-main/shared/parseBody";
import {
  chatJobFrom,
  completionJobFrom,
  samplingFrom,
  stopStrings,
} from "../../src-main/worker/inference/requestMapping";
import { base64Embedding, chatChunker, completionChunker } from "../../src-main/worker/inference/responses";
import { sseEvent } from "../../src-main/shared/sse";
import { SSE_DONE } from "../../src-main/worker/inference/sse";

const model = { id: "m", path: "/models/m.gguf" };
const seed = () => 42;

function chatRequest(fields: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest {
  return chatCompletionRequestSchema.parse({
    model: "m",
    messages: [{ role: "user", content: "hi" }],
    ...fields,
  });
}

function errorOf(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error("expected an AppError");
}

describe("request → generation options", () => {
  it("uses OpenAI's sampling defaults, not node-llama-cpp's", () => {
    expect(samplingFrom({}, seed)).toEqual({
      temperature: 1,
      topP: 1,
      topK: 0,
      minP: 0,
      seed: 42,
      repeatPenalty: false,
    });
  });

  it("passes temperature, top_p, seed and penalties through", () => {
    const sampling = samplingFrom(
      { temperature: 0.2, top_p: 0.9, top_k: 40, min_p: 0.05, seed: 7, frequency_penalty: 0.5 },
      seed,
    );
    expect(sampling).toMatchObject({ temperature: 0.2, topP: 0.9, topK: 40, minP: 0.05, seed: 7 });
    expect(sampling.repeatPenalty).toEqual({ penalty: 1, frequencyPenalty: 0.5, presencePenalty: 0 });
  });

  it("draws a fresh seed when none is given", () => {
    const seeds = new Set(Array.from({ length: 20 }, () => samplingFrom({}).seed));
    expect(seeds.size).toBeGreaterThan(1);
  });

  it("reads stop as a string or a list, dropping empty ones", () => {
    expect(stopStrings("END")).toEqual(["END"]);
    expect(stopStrings(["a", "", "b"])).toEqual(["a", "b"]);
    expect(stopStrings(null)).toEqual([]);
  });

  it("prefers max_completion_tokens, and leaves the length open without either", () => {
    expect(chatJobFrom(chatRequest({ max_tokens: 8, max_completion_tokens: 5 }), model, seed).maxTokens).toBe(
      5,
    );
    expect(chatJobFrom(chatRequest({ max_tokens: 8 }), model, seed).maxTokens).toBe(8);
    expect(chatJobFrom(chatRequest(), model, seed).maxTokens).toBeUndefined();
  });

  it("maps response_format and ttl", () => {
    expect(chatJobFrom(chatRequest({ response_format: { type: "json_object" } }), model).format).toEqual({
      type: "json",
    });
    const schema = { type: "object", properties: { ok: { type: "boolean" } } };
    const job = chatJobFrom(
      chatRequest({ response_format: { type: "json_schema", json_schema: { name: "x", schema } }, ttl: 1.5 }),
      model,
    );
    expect(job.format).toEqual({ type: "json_schema", schema });
    expect(job.idleTtlMs).toBe(1500);
  });

  it("offers tools as functions unless tool_choice is none", () => {
    const tools = [
      { type: "function" as const, function: { name: "a", parameters: { type: "object" } } },
      { type: "function" as const, function: { name: "b", description: "B" } },
    ];
    expect(Object.keys(chatJobFrom(chatRequest({ tools }), model).functions!)).toEqual(["a", "b"]);
    expect(chatJobFrom(chatRequest({ tools, tool_choice: "none" }), model).functions).toBeUndefined();
    const named = chatJobFrom(
      chatRequest({ tools, tool_choice: { type: "function", function: { name: "b" } } }),
      model,
    );
    expect(named.functions).toEqual({ b: { description: "B" } });
    // Tools and a format together: a call, or text held to the format.
    const both = chatJobFrom(chatRequest({ tools, response_format: { type: "json_object" } }), model);
    expect([Object.keys(both.functions!), both.format]).toEqual([["a", "b"], { type: "json" }]);
  });

  it("refuses what it cannot do, naming the field", () => {
    expect(errorOf(() => chatJobFrom(chatRequest({ n: 9 }), model)).param).toBe("n");
    expect(errorOf(() => chatJobFrom(chatRequest({ n: 9, stream: true }), model)).param).toBe("n");
    expect(errorOf(() => chatJobFrom(chatRequest({ top_logprobs: 2 }), model)).param).toBe("top_logprobs");
    const completion = { model: "m", prompt: "x" };
    expect(errorOf(() => completionJobFrom({ ...completion, best_of: 2 }, model)).param).toBe("best_of");
    expect(completionJobFrom(completion, model, seed).maxTokens).toBe(16);
  });

  it("asks for log probabilities as the request does", () => {
    expect(chatJobFrom(chatRequest({}), model).logprobs).toBeUndefined();
    expect(chatJobFrom(chatRequest({ logprobs: true }), model).logprobs).toEqual({ top: 0 });
    expect(chatJobFrom(chatRequest({ logprobs: true, top_logprobs: 5 }), model).logprobs).toEqual({ top: 5 });
    const tools = [{ type: "function" as const, function: { name: "f" } }];
    expect(chatJobFrom(chatRequest({ logprobs: true, tools }), model).logprobs).toEqual({ top: 0 });
    const completion = { model: "m", prompt: "x" };
    expect(completionJobFrom(completion, model).logprobs).toBeUndefined();
    // logprobs: 0 asks for the chosen tokens' alone, as OpenAI's does.
    expect(completionJobFrom({ ...completion, logprobs: 0 }, model).logprobs).toEqual({ top: 0 });
    expect(completionJobFrom({ ...completion, echo: true, max_tokens: 0 }, model)).toMatchObject({
      echo: true,
      maxTokens: 0,
    });
  });
});

describe("messages → chat history", () => {
  it("maps roles and joins text parts", () => {
    expect(
      chatHistoryFrom([
        { role: "developer", content: "rules" },
        {
          role: "user",
          content: [
            { type: "text", text: "a" },
            { type: "text", text: "b" },
          ],
        },
      ]),
    ).toEqual([
      { type: "system", text: "rules" },
      { type: "user", text: "ab" },
      { type: "model", response: [] },
    ]);
  });

  it("continues a trailing assistant message", () => {
    const history = chatHistoryFrom([
      { role: "user", content: "hi" },
      { role: "assistant", content: "Once" },
    ]);
    expect(history.at(-1)).toEqual({ type: "model", response: ["Once"] });
  });

  it("pairs tool results with their calls", () => {
    const history = chatHistoryFrom([
      { role: "user", content: "weather?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c1", type: "function", function: { name: "w", arguments: '{"city":"Paris"}' } }],
      },
      { role: "tool", tool_call_id: "c1", content: "sunny" },
    ]);
    expect(history).toEqual([
      { type: "user", text: "weather?" },
      {
        type: "model",
        response: [
          {
            type: "functionCall",
            name: "w",
            params: { city: "Paris" },
            result: "sunny",
            startsNewChunk: true,
          },
        ],
      },
      { type: "model", response: [] },
    ]);
    const orphan = errorOf(() => chatHistoryFrom([{ role: "tool", tool_call_id: "x", content: "?" }]));
    expect(orphan.param).toBe("messages[0].tool_call_id");
  });
});

describe("request validation", () => {
  it("names fields as OpenAI does", () => {
    expect(paramPath(["messages", 0, "content"])).toBe("messages[0].content");
    expect(paramPath(["stream_options", "include_usage"])).toBe("stream_options.include_usage");
  });

  it("throws a 400 naming the first bad field", () => {
    const error = errorOf(() =>
      parseBody(chatCompletionRequestSchema, { model: "m", messages: [{ role: "user", content: 3 }] }),
    );
    expect(toHttpError(error).status).toBe(400);
    expect(error.param).toBe("messages[0].content");
    expect(error.message).toMatch(/^messages\[0\]\.content: /);
    expect(errorOf(() => parseBody(chatCompletionRequestSchema, [])).message).toMatch(/JSON object/);
  });

  it("keeps the fields it knows and drops the rest", () => {
    const parsed = parseBody(chatCompletionRequestSchema, {
      model: "m",
      messages: [{ role: "user", content: "x" }],
      frobnicate: true,
      ttl: 5,
    });
    expect(parsed.ttl).toBe(5);
    expect("frobnicate" in parsed).toBe(false);
  });
});

describe("responses and streaming", () => {
  const meta = { id: "chatcmpl-1", created: 1, model: "m" };
  const result: GenerationResult = {
    text: "abc",
    finishReason: "length",
    toolCalls: [],
    promptTokens: 5,
    completionTokens: 3,
    truncatedMessages: 0,
  };

  it("frames server-sent events", () => {
    expect(sseEvent({ a: 1 })).toBe('data: {"a":1}\n\n');
    expect(SSE_DONE).toBe("data: [DONE]\n\n");
  });

  it("puts finish_reason on the last content chunk, then usage", () => {
    const chunker = chatChunker(meta, true);
    const events = [
      ...chunker.start({ promptTokens: 1 }),
      ...chunker.text("a"),
      ...chunker.text(""),
      ...chunker.text("b"),
      ...chunker.text("c"),
      ...chunker.finish(result),
    ];
    expect(events.map((event) => event.choices[0]?.delta)).toEqual([
      { role: "assistant", content: "" },
      { content: "a" },
      { content: "b" },
      { content: "c" },
      undefined,
    ]);
    expect(events.map((event) => event.choices[0]?.finish_reason ?? null)).toEqual([
      null,
      null,
      null,
      "length",
      null,
    ]);
    expect(events.slice(0, -1).every((event) => event.usage === null)).toBe(true);
    expect(events.at(-1)!.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
  });

  it("ends a stream with no text on an empty delta, and sends no usage unless asked", () => {
    const chunker = chatChunker(meta, false);
    const events = chunker.finish({ ...result, text: "", finishReason: "stop" });
    expect(events).toHaveLength(1);
    expect(events[0]!.choices[0]).toMatchObject({ delta: {}, finish_reason: "stop" });
    expect("usage" in events[0]!).toBe(false);
  });

  it("streams tool calls whole, then finish_reason tool_calls in a chunk of its own", () => {
    const chunker = chatChunker(meta, false);
    const events = chunker.finish({
      ...result,
      text: "",
      finishReason: "tool_calls",
      toolCalls: [{ name: "w", arguments: "{}" }],
    });
    expect(events[0]!.choices[0]!.delta.tool_calls).toEqual([
      {
        index: 0,
        id: expect.stringMatching(/^call_/),
        type: "function",
        function: { name: "w", arguments: "{}" },
      },
    ]);
    expect(events[0]!.choices[0]!.finish_reason).toBeNull();
    expect(events[1]!.choices[0]).toMatchObject({ delta: {}, finish_reason: "tool_calls" });
    expect(events).toHaveLength(2);
  });

  it("streams text completions the same way", () => {
    const chunker = completionChunker({ ...meta, id: "cmpl-1" }, false);
    const events = [...chunker.text("x"), ...chunker.text("y"), ...chunker.finish(result)];
    expect(events.map((event) => [event.choices[0]!.text, event.choices[0]!.finish_reason])).toEqual([
      ["x", null],
      ["y", "length"],
    ]);
  });

  it("maps node-llama-cpp stop reasons", () => {
    expect(finishReasonOf("maxTokens")).toBe("length");
    expect(finishReasonOf("eogToken")).toBe("stop");
    expect(finishReasonOf("customStopTrigger")).toBe("stop");
    expect(finishReasonOf("stopGenerationTrigger")).toBe("stop");
    expect(finishReasonOf("functionCalls")).toBe("tool_calls");
  });

  it("encodes embeddings as OpenAI's base64 float32", () => {
    const vector = normalize([3, 4]);
    expect(vector).toEqual([0.6, 0.8]);
    const bytes = Buffer.from(base64Embedding(vector), "base64");
    expect([bytes.readFloatLE(0), bytes.readFloatLE(4)].map((value) => value.toFixed(6))).toEqual([
      "0.600000",
      "0.800000",
    ]);
  });
});

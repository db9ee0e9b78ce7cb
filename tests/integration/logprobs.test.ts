import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import OpenAI from "openai";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatCompletionSchema, completionChunkSchema, completionSchema } from "../../src-main/contract";
import { handleError } from "../../src-main/shared/httpErrors";
import { createInferenceEngine, type InferenceEngine } from "../../src-main/worker/inference";
import { registerInferenceRoutes } from "../../src-main/worker/server/inferenceRoutes";
import { writeTinyGguf } from "../fixtures/tinyGguf";
import { makeTempDir } from "../helpers/tempDir";

// Log probabilities (`logprobs`, `top_logprobs`, `echo`) from a node's routes on a real engine with
// the tiny GGUF, read with the official openai SDK.

let temp: { path: string; remove(): Promise<void> };
let engine: InferenceEngine;
let app: FastifyInstance;
let url: string;
let client: OpenAI;
let modelFile: string;

beforeAll(async () => {
  temp = await makeTempDir("llmlb-logprobs-");
  const file = path.join(temp.path, "tiny.gguf");
  modelFile = file;
  await writeTinyGguf(file, { seed: 1 });
  // A context that holds a prompt with tools.
  const toolsFile = path.join(temp.path, "tiny-tools.gguf");
  await writeTinyGguf(toolsFile, { seed: 3, shape: { contextLength: 4096 } });
  engine = createInferenceEngine({
    log: pino({ level: "silent" }),
    backend: "cpu",
    threads: 1,
    sequences: 2,
    maxLoadedModels: 2,
  });
  app = Fastify({ forceCloseConnections: true });
  app.setErrorHandler(handleError);
  registerInferenceRoutes(app, {
    engine,
    resolveModel: (id) =>
      id === "tiny" ? { path: file } : id === "tiny-tools" ? { path: toolsFile } : undefined,
  });
  url = await app.listen({ host: "127.0.0.1", port: 0 });
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0 });
});

afterAll(async () => {
  await engine?.dispose();
  await app?.close();
  await temp?.remove();
});

const hello = [{ role: "user" as const, content: "Hello" }];
const utf8 = (bytes: number[]) => Buffer.from(bytes).toString("utf8");

async function post(route: string, body: unknown) {
  const response = await fetch(`${url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

describe("chat completions with logprobs", () => {
  it("gives each answer token, its bytes and its likeliest alternatives; greedy, the chosen is the likeliest", async () => {
    const completion = await client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 12,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
    });
    chatCompletionSchema.parse(completion);
    const choice = completion.choices[0]!;
    const content = choice.logprobs!.content!;
    expect(content).toHaveLength(completion.usage!.completion_tokens);
    // The tokens' bytes make the answer, byte for byte.
    expect(utf8(content.flatMap((token) => token.bytes!))).toBe(choice.message.content);
    for (const token of content) {
      expect(token.logprob).toBeLessThanOrEqual(0);
      expect(token.top_logprobs).toHaveLength(3);
      const tops = token.top_logprobs.map((top) => top.logprob);
      expect(tops).toEqual([...tops].sort((a, b) => b - a));
      // Probabilities of distinct tokens: together no more than one.
      expect(tops.reduce((sum, logprob) => sum + Math.exp(logprob), 0)).toBeLessThanOrEqual(1 + 1e-6);
      // Greedy decoding chose the likeliest token at each place.
      expect(token.top_logprobs[0]).toEqual({
        token: token.token,
        logprob: token.logprob,
        bytes: token.bytes,
      });
    }
  });

  it("scores a sampled answer by the model's own distribution, not the sampler's", async () => {
    const asked = {
      model: "tiny",
      messages: hello,
      max_tokens: 16,
      temperature: 1.5,
      seed: 7,
      logprobs: true,
      top_logprobs: 5,
    } as const;
    const sampled = await client.chat.completions.create(asked);
    const content = sampled.choices[0]!.logprobs!.content!;
    expect(utf8(content.flatMap((token) => token.bytes!))).toBe(sampled.choices[0]!.message.content);
    // At temperature 1.5 some token is not the likeliest one; its log probability is below the top's.
    const unlikely = content.filter((token) => token.logprob < token.top_logprobs[0]!.logprob);
    expect(unlikely.length).toBeGreaterThan(0);
    // The first token's place is the same prompt whatever the sampler: its alternatives and their
    // log probabilities are the model's, the same greedy as at temperature 1.5.
    const greedy = await client.chat.completions.create({ ...asked, temperature: 0 });
    expect(greedy.choices[0]!.logprobs!.content![0]!.top_logprobs).toEqual(content[0]!.top_logprobs);
  });

  it("scores a one-token answer at its own place, whatever ended it", async () => {
    // A grammar lets only "7": the answer is that one token, then the grammar's end.
    const asked = {
      model: "tiny",
      messages: hello,
      // Greedy: "7" is two tokens of the vocabulary ('7' and its byte), the likelier one each time.
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
      response_format: {
        type: "json_schema",
        json_schema: { name: "seven", schema: { type: "integer", enum: [7] } },
      },
    } as const;
    const ended = await client.chat.completions.create(asked);
    expect(ended.choices[0]!.message.content).toBe("7");
    expect(ended.choices[0]!.finish_reason).toBe("stop");
    // Cut at one token instead, the token after it never evaluated: the same place, the same score.
    const cut = await client.chat.completions.create({ ...asked, max_tokens: 1 });
    expect(cut.choices[0]!.finish_reason).toBe("length");
    const [endedToken] = ended.choices[0]!.logprobs!.content!;
    const [cutToken] = cut.choices[0]!.logprobs!.content!;
    expect(endedToken!.logprob).toBeCloseTo(cutToken!.logprob, 4);
    expect(endedToken!.top_logprobs.map((top) => top.token)).toEqual(
      cutToken!.top_logprobs.map((top) => top.token),
    );
  });

  it("streams the log probabilities with the choice's last chunk, as the SDK gathers them", async () => {
    const asked = {
      model: "tiny",
      messages: hello,
      max_tokens: 10,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    } as const;
    const whole = await client.chat.completions.create(asked);
    const stream = client.chat.completions.stream({ ...asked, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    stream.on("chunk", (chunk) => chunks.push(chunk));
    const gathered = await stream.finalChatCompletion();
    expect(gathered.choices[0]!.message.content).toBe(whole.choices[0]!.message.content);
    expect(gathered.choices[0]!.logprobs!.content).toEqual(whole.choices[0]!.logprobs!.content);
    const withLogprobs = chunks.filter((chunk) => chunk.choices[0]?.logprobs);
    expect(withLogprobs).toHaveLength(1);
    expect(withLogprobs[0]!.choices[0]!.finish_reason).toBe("length");
  });

  it("scores each of n choices by its own tokens", async () => {
    const completion = await client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 8,
      temperature: 1,
      seed: 3,
      n: 2,
      logprobs: true,
    });
    expect(completion.choices).toHaveLength(2);
    for (const choice of completion.choices) {
      const content = choice.logprobs!.content!;
      expect(utf8(content.flatMap((token) => token.bytes!))).toBe(choice.message.content);
      expect(content.every((token) => token.top_logprobs.length === 0)).toBe(true);
    }
  });

  it("with tools, scores the answer's text, and a call not at all", async () => {
    const tools = [
      {
        type: "function" as const,
        function: {
          name: "get_weather",
          // A city of two: the call ends however the model would go on.
          parameters: {
            type: "object",
            properties: { city: { type: "string", enum: ["Paris", "Oslo"] } },
            required: ["city"],
          },
        },
      },
    ];
    const asked = {
      model: "tiny-tools",
      messages: hello,
      max_tokens: 24,
      temperature: 0,
      logprobs: true,
      tools,
    };
    const called = await client.chat.completions.create({ ...asked, tool_choice: "required" });
    expect(called.choices[0]!.finish_reason).toBe("tool_calls");
    expect(called.choices[0]!.logprobs).toEqual({ content: [], refusal: null });
    // Streamed alike: with the finish, after the call.
    const stream = await client.chat.completions.create({
      ...asked,
      max_tokens: 400,
      tool_choice: "required",
      stream: true,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const finish = chunks.find((chunk) => chunk.choices[0]?.finish_reason);
    expect(finish?.choices[0]?.finish_reason).toBe("tool_calls");
    expect(finish?.choices[0]?.logprobs).toEqual({ content: [], refusal: null });
    const offered = await client.chat.completions.create(asked);
    const content = offered.choices[0]!.logprobs!.content!;
    expect(utf8(content.flatMap((token) => token.bytes!))).toBe(offered.choices[0]!.message.content ?? "");
  });

  it("answers logprobs: null when not asked", async () => {
    const completion = await client.chat.completions.create({
      model: "tiny",
      messages: hello,
      max_tokens: 2,
    });
    expect(completion.choices[0]!.logprobs).toBeNull();
  });

  it("refuses what it cannot give, naming the field", async () => {
    const base = { model: "tiny", messages: hello, max_tokens: 2 };
    const tooMany = await post("/v1/chat/completions", { ...base, logprobs: true, top_logprobs: 21 });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.param).toBe("top_logprobs");
    const without = await post("/v1/chat/completions", { ...base, top_logprobs: 2 });
    expect(without.status).toBe(400);
    expect(without.body.error.param).toBe("top_logprobs");
    expect(without.body.error.message).toMatch(/logprobs: true/);
  });
});

describe("text completions with logprobs and echo", () => {
  const prompt = "The cat sat on the";

  it("gives each token with the chosen one among its likeliest, and where it begins in the text", async () => {
    const completion = await client.completions.create({
      model: "tiny",
      prompt,
      max_tokens: 8,
      temperature: 0,
      logprobs: 2,
    });
    completionSchema.parse(completion);
    const choice = completion.choices[0]!;
    const logprobs = choice.logprobs!;
    expect(logprobs.tokens).toHaveLength(completion.usage!.completion_tokens);
    expect(logprobs.tokens!.join("")).toBe(choice.text);
    logprobs.tokens!.forEach((token, index) => {
      const start = logprobs.text_offset![index]!;
      expect(choice.text.slice(start, start + token.length)).toBe(token);
      const likeliest = logprobs.top_logprobs![index]!;
      // Greedy: the chosen token is one of the two likeliest, so it adds no third.
      expect(Object.keys(likeliest).length).toBeLessThanOrEqual(2);
      expect(likeliest[token]).toBe(logprobs.token_logprobs![index]);
      expect(Math.max(...Object.values(likeliest))).toBe(logprobs.token_logprobs![index]);
    });
  });

  it("echoes the prompt before the answer, its tokens scored too, streamed or not", async () => {
    const asked = { model: "tiny", prompt, max_tokens: 6, temperature: 0, echo: true, logprobs: 1 } as const;
    const plain = await client.completions.create({ model: "tiny", prompt, max_tokens: 6, temperature: 0 });
    const echoed = await client.completions.create(asked);
    const choice = echoed.choices[0]!;
    expect(choice.text).toBe(prompt + plain.choices[0]!.text);
    const logprobs = choice.logprobs!;
    expect(logprobs.tokens!.join("")).toBe(choice.text);
    // The prompt's tokens first (the tiny model has a BOS token, so even the first is scored), then the answer's.
    const promptTokens = echoed.usage!.prompt_tokens - 1;
    expect(logprobs.tokens).toHaveLength(promptTokens + echoed.usage!.completion_tokens);
    expect(logprobs.token_logprobs!.every((logprob) => typeof logprob === "number" && logprob <= 0)).toBe(
      true,
    );

    const response = await fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...asked, stream: true }),
    });
    const events = (await response.text())
      .split("\n")
      .filter((line) => line.startsWith("data: {"))
      .map((line) => completionChunkSchema.parse(JSON.parse(line.slice(6))));
    expect(events[0]!.choices[0]!.text).toBe(prompt);
    expect(events.map((event) => event.choices[0]!.text).join("")).toBe(choice.text);
    expect(events.at(-1)!.choices[0]!.logprobs).toEqual(logprobs);
  });

  it("with max_tokens 0 and echo, scores the prompt alone: an answer's tokens score alike as prompt", async () => {
    const generated = await client.completions.create({
      model: "tiny",
      prompt,
      max_tokens: 6,
      temperature: 0,
      logprobs: 0,
    });
    const answer = generated.choices[0]!;
    const scored = await client.completions.create({
      model: "tiny",
      prompt: prompt + answer.text,
      max_tokens: 0,
      echo: true,
      logprobs: 0,
    });
    const choice = scored.choices[0]!;
    expect(choice.text).toBe(prompt + answer.text);
    expect(choice.finish_reason).toBe("length");
    expect(scored.usage!.completion_tokens).toBe(0);
    const logprobs = choice.logprobs!;
    const tail = logprobs.tokens!.slice(-answer.logprobs!.tokens!.length);
    // The answer tokenizes back to the tokens it was generated as, and each keeps its score.
    expect(tail).toEqual(answer.logprobs!.tokens);
    const tailScores = logprobs.token_logprobs!.slice(-tail.length);
    tailScores.forEach((logprob, index) =>
      expect(logprob).toBeCloseTo(answer.logprobs!.token_logprobs![index]!, 3),
    );
  });

  it("scores only the tokens of the text a stop string ended, chat and completion alike", async () => {
    const asked = { model: "tiny", max_tokens: 12, temperature: 0 } as const;
    const whole = await client.completions.create({ ...asked, prompt });
    // A stop string from the middle of the greedy answer: the answer ends before it.
    const stop = whole.choices[0]!.text.slice(5, 7);
    const stopped = await client.completions.create({ ...asked, prompt, stop, logprobs: 1 });
    const text = stopped.choices[0]!.text;
    expect(text.length).toBeLessThan(whole.choices[0]!.text.length);
    expect(stopped.choices[0]!.logprobs!.tokens!.join("")).toBe(text);

    const chatWhole = await client.chat.completions.create({ ...asked, messages: hello });
    const chatStop = chatWhole.choices[0]!.message.content!.slice(5, 7);
    const chat = await client.chat.completions.create({
      ...asked,
      messages: hello,
      stop: chatStop,
      logprobs: true,
    });
    const content = chat.choices[0]!.message.content!;
    expect(content.length).toBeLessThan(chatWhole.choices[0]!.message.content!.length);
    expect(utf8(chat.choices[0]!.logprobs!.content!.flatMap((token) => token.bytes!))).toBe(content);
  });

  it("ends the lists with the end token an answer ended with, as OpenAI's do", async () => {
    // The tiny model gives its end tokens a small chance at every place: sampled long enough, some
    // seed ends with one (the same seeds end the same way on every run).
    let ended: OpenAI.Completion | undefined;
    for (let seed = 1; seed <= 20 && !ended; seed++) {
      const completion = await client.completions.create({
        model: "tiny",
        prompt,
        max_tokens: 400,
        temperature: 1,
        seed,
        logprobs: 1,
      });
      if (completion.choices[0]!.finish_reason === "stop") ended = completion;
    }
    expect(ended, "no seed of 20 ended with an end token").toBeDefined();
    const { logprobs } = ended!.choices[0]!;
    expect(["<|im_end|>", "</s>"]).toContain(logprobs!.tokens!.at(-1));
    expect(logprobs!.token_logprobs!.at(-1)).toBeLessThan(0);
    // A token the usage counts too.
    expect(logprobs!.tokens).toHaveLength(ended!.usage!.completion_tokens);
  });

  it("scores a prompt that fills the context when nothing is to be generated", async () => {
    // The tiny model's tokens are single characters: 511 of them and the BOS token fill its 512.
    const long = "ab".repeat(256).slice(0, 511);
    const scored = await client.completions.create({
      model: "tiny",
      prompt: long,
      max_tokens: 0,
      echo: true,
      logprobs: 0,
    });
    expect(scored.choices[0]!.logprobs!.tokens).toHaveLength(511);
    // One token to generate needs room for it: a 400 that says so.
    const refused = await post("/v1/completions", { model: "tiny", prompt: long, max_tokens: 1 });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("context_length_exceeded");
    // One less in the prompt, and it is answered: only what is asked for is kept free.
    const answered = await post("/v1/completions", {
      model: "tiny",
      prompt: long.slice(1),
      max_tokens: 1,
      temperature: 0,
    });
    expect(answered.status).toBe(200);
    expect(answered.body.usage.completion_tokens).toBe(1);
  });

  it("takes a prompt of token ids, as lm-evaluation-harness sends one, alike its text", async () => {
    const llama = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });
    const vocabulary = await llama.loadModel({ modelPath: modelFile, vocabOnly: true });
    const ids = [...vocabulary.tokenize(prompt, false, "trimLeadingSpace")];
    const bos = vocabulary.tokens.bos!;
    await vocabulary.dispose();
    const asked = { model: "tiny", max_tokens: 1, temperature: 0, echo: true, logprobs: 1 } as const;
    const byText = await client.completions.create({ ...asked, prompt });
    // One prompt in a batch of one, as the harness sends it: the context, then the continuation.
    const byIds = await post("/v1/completions", { ...asked, prompt: [ids] });
    expect(byIds.status).toBe(200);
    expect(byIds.body.choices[0].text).toBe(byText.choices[0]!.text);
    expect(byIds.body.choices[0].logprobs).toEqual(byText.choices[0]!.logprobs);
    // The prompt's tokens, then the one generated: what the harness slices at the context's length.
    expect(byIds.body.choices[0].logprobs.tokens).toHaveLength(ids.length + 1);

    // Ids that begin with the BOS token get no second one: the same scores, the BOS token listed first.
    const withBos = await post("/v1/completions", { ...asked, prompt: [[bos, ...ids]] });
    expect(withBos.body.choices[0].logprobs.tokens).toEqual(["<s>", ...byText.choices[0]!.logprobs!.tokens!]);
    expect(withBos.body.choices[0].logprobs.token_logprobs).toEqual([
      null,
      ...byText.choices[0]!.logprobs!.token_logprobs!,
    ]);

    const stranger = await post("/v1/completions", { ...asked, prompt: [...ids, 1_000_000] });
    expect(stranger.status).toBe(400);
    expect(stranger.body.error.param).toBe(`prompt[${ids.length}]`);
    expect(stranger.body.error.message).toMatch(/token 1000000 is not in this model's vocabulary/);
  });

  it("refuses more than 20 alternatives, naming the field", async () => {
    const refused = await post("/v1/completions", { model: "tiny", prompt, logprobs: 21 });
    expect(refused.status).toBe(400);
    expect(refused.body.error.param).toBe("logprobs");
  });
});

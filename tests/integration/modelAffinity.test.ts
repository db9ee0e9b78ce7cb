import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeListSchema } from "../../src-main/contract";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { registerAndWaitReady } from "../helpers/cliProcess";
import { serveTinyModel, tinyModel, type TinyModelServe } from "../helpers/tinyModelServe";
import { waitFor } from "../helpers/waitFor";

// Two workers that may each hold one model, and two models asked for at once: each model stays on
// the worker that holds it, rather than swapping in and out of both.
const second = "acme/second-GGUF";
let server: TinyModelServe;
let client: OpenAI;

beforeAll(async () => {
  server = await serveTinyModel({
    workers: 2,
    logLevel: "info",
    env: { LLMLB_MAX_LOADED_MODELS: "1" },
    repos: [{ id: second, files: [{ path: "second-Q4_K_M.gguf", content: generateTinyGguf({ seed: 11 }) }] }],
  });
  await registerAndWaitReady(server.serve.url, server.dataDir, second, 2);
  client = new OpenAI({ baseURL: `${server.serve.url}/v1`, apiKey: "not-needed-on-loopback", maxRetries: 0 });
}, 90_000);
afterAll(async () => {
  await server?.close();
});

/** The workers' log lines saying a model was loaded (each worker logs its own). */
const loadsLogged = () => server.serve.logs().match(/"msg":"model loaded"/g)?.length ?? 0;

describe("two models on two workers that hold one model each", () => {
  it("keeps each model on one worker under steady traffic for both: a load per model, not one every few requests", async () => {
    /** `count` requests one after another for `model`. */
    const loop = async (model: string, count: number) => {
      for (let i = 0; i < count; i++) {
        const answer = await client.chat.completions.create({
          model,
          messages: [{ role: "user", content: `Tell me about ${i}` }],
          max_tokens: 8,
        });
        expect(answer.choices[0]?.finish_reason).toMatch(/stop|length/);
      }
    };
    const before = loadsLogged();
    // Two clients per model, as a chat app and a script would be.
    await Promise.all([loop(tinyModel, 25), loop(tinyModel, 25), loop(second, 25), loop(second, 25)]);
    // One load of each model, and at most one swap while both workers report what they hold.
    expect(loadsLogged() - before).toBeLessThanOrEqual(3);
  }, 120_000);
});

describe("two models registered for one file, on a worker that holds one model", () => {
  let one: TinyModelServe;
  const file = `${tinyModel}/tiny-llama-Q4_K_M.gguf`;
  beforeAll(async () => {
    one = await serveTinyModel({ workers: 1, logLevel: "info", env: { LLMLB_MAX_LOADED_MODELS: "1" } });
    await registerAndWaitReady(one.serve.url, one.dataDir, file, 1);
  }, 90_000);
  afterAll(async () => {
    await one?.close();
  });

  it("serves both from one load, and lists them as sharing it", async () => {
    const ask = (model: string) =>
      fetch(`${one.serve.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "Hi" }], max_tokens: 4 }),
      });
    for (const model of [tinyModel, file, tinyModel, file]) expect((await ask(model)).status).toBe(200);
    expect(one.serve.logs().match(/"msg":"model loaded"/g)).toHaveLength(1);
    const loaded = await waitFor("the worker to list both models loaded", async () => {
      const nodes = nodeListSchema.parse((await one.admin("GET", "/v0/nodes")).body).data;
      const entries = nodes[0]?.loaded ?? [];
      return entries.length === 2 && entries;
    });
    expect(loaded.map(({ model, shares_load_with }) => ({ model, shares_load_with }))).toEqual(
      expect.arrayContaining([
        { model: tinyModel, shares_load_with: undefined },
        { model: file, shares_load_with: tinyModel },
      ]),
    );
  }, 60_000);
});

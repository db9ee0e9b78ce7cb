import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { registerAndWaitReady } from "../helpers/cliProcess";
import { serveTinyModel, tinyModel, type TinyModelServe } from "../helpers/tinyModelServe";

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

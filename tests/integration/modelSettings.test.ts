import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchema, nodeListSchema, type NodeList } from "../../src-main/contract";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import {
  adminRequest,
  registerAndWaitReady,
  runCli,
  startServeProcess,
  type ServeProcess,
} from "../helpers/cliProcess";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

// Per-model settings as a user changes them with the CLI, applied by real workers to a real model
// (trained on 512 tokens).
let hub: FakeHub;
let temp: { path: string; remove(): Promise<void> };
let serve: ServeProcess;
let dataDir: string;
let env: NodeJS.ProcessEnv;
const model = "acme/tiny-llama-GGUF";

beforeAll(async () => {
  hub = await startFakeHub({
    repos: [
      { id: model, files: [{ path: "tiny-llama-Q4_K_M.gguf", content: generateTinyGguf({ seed: 1 }) }] },
    ],
  });
  temp = await makeTempDir();
  dataDir = path.join(temp.path, "data");
  env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: path.join(temp.path, "hub"), LLMLB_DATA_DIR: dataDir };
  serve = await startServeProcess(["--port", "0", "--workers", "2"], env);
  await registerAndWaitReady(serve.url, dataDir, model, 2);
}, 90_000);
afterAll(async () => {
  await serve?.stop();
  await hub.close();
  await temp.remove();
});

const llmlb = (...args: string[]) => runCli(["--url", serve.url, ...args], env);

async function nodes(): Promise<NodeList> {
  return nodeListSchema.parse((await adminRequest(serve.url, dataDir, "GET", "/v0/nodes")).body);
}

/** How each node that holds the model in memory loaded it. */
async function loadedContexts(): Promise<(number | undefined)[]> {
  return (await nodes()).data.flatMap((node) =>
    node.loaded.filter((entry) => entry.model === model).map((entry) => entry.context_size),
  );
}

/** 20 turns of a chat a person has, each answer fed back; what each request got. */
async function twentyTurns(name = model) {
  const messages: { role: "system" | "user" | "assistant"; content: string }[] = [
    { role: "system", content: "You are terse." },
  ];
  const turns: { status: number; truncated: number; code?: string; model?: string }[] = [];
  for (let turn = 1; turn <= 20; turn++) {
    messages.push({ role: "user", content: `Turn ${turn}: tell me something about the number ${turn}.` });
    const response = await fetch(`${serve.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: name, messages, max_tokens: 16, temperature: 0 }),
    });
    const body = (await response.json()) as any;
    turns.push({
      status: response.status,
      truncated: Number(response.headers.get("x-llmlb-truncated-messages") ?? 0),
      code: body.error?.code,
      model: body.model,
    });
    if (response.status !== 200) break;
    messages.push({ role: "assistant", content: body.choices[0].message.content });
  }
  return turns;
}

describe("llmlb model set", () => {
  it("runs a model in the context size set for it, and truncates or refuses as set for it", async () => {
    // Nothing set: the most the model allows (memory allows more here).
    await twentyTurns().catch(() => undefined);
    expect(await loadedContexts()).toContain(512);

    const set = await llmlb("model", "set", model, "--context", "256", "--overflow", "truncate_oldest");
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/context size\s+256 tokens/);
    expect(set.stdout).toMatch(/context overflow\s+truncate_oldest/);

    // Long past what 256 tokens hold, every turn is answered; late ones say what they left out.
    const truncating = await twentyTurns();
    expect(truncating.map((turn) => turn.status)).toEqual(Array(20).fill(200));
    expect(truncating.at(-1)!.truncated).toBeGreaterThan(0);
    // The nodes loaded it again, in the new size, and the old load is gone.
    await waitFor(
      "only 256-token loads",
      async () => (await loadedContexts()).every((size) => size === 256),
      {
        timeoutMs: 10_000,
      },
    );
    const shown = await llmlb("model", "set", model);
    expect(shown.stdout).toMatch(/in memory\s+loaded: 256 tokens × \d+ on /);

    expect((await llmlb("model", "set", model, "--overflow", "error")).code).toBe(0);
    const refusing = await twentyTurns();
    expect(refusing.length).toBeLessThan(20);
    expect(refusing.at(-1)).toMatchObject({ status: 400, code: "context_length_exceeded" });
  }, 120_000);

  it("answers to an alias, naming the model in the answer", async () => {
    const aliased = await llmlb("model", "alias", model, "tiny");
    expect(aliased).toMatchObject({ code: 0, stdout: `tiny now names ${model}\n` });
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: "x", maxRetries: 0 });
    const answer = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 2,
    });
    expect(answer.model).toBe(model);
    expect((await llmlb("model", "unalias", "tiny")).stdout).toBe(`Removed the alias tiny (of ${model})\n`);
    const gone = await llmlb("model", "set", "tiny");
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/tiny is not registered/);
  });

  it("serves a model pinned to one node from that node only, and from every node again with --nodes any", async () => {
    const [first, second] = (await nodes()).data.map((node) => node.name).sort();
    const pinned = await llmlb("model", "set", model, "--nodes", first!);
    expect(pinned.stdout).toMatch(new RegExp(`nodes\\s+${first}`));
    const onNodes = async () =>
      modelSchema
        .parse(
          (await adminRequest(serve.url, dataDir, "GET", `/v0/models/${encodeURIComponent(model)}`)).body,
        )
        .nodes.map((node) => `${node.node_name}:${node.state}`);
    await waitFor("only the pinned node has it", async () => (await onNodes()).join() === `${first}:ready`, {
      timeoutMs: 15_000,
    });
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: "x", maxRetries: 0 });
    for (let i = 0; i < 4; i++) {
      await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 2,
      });
    }
    const holding = (await nodes()).data.filter((node) => node.loaded.some((entry) => entry.model === model));
    expect(holding.map((node) => node.name)).toEqual([first]);

    await llmlb("model", "set", model, "--nodes", "any");
    await waitFor(
      "both nodes have it again",
      async () => (await onNodes()).sort().join() === `${first}:ready,${second}:ready`,
      { timeoutMs: 15_000 },
    );
  }, 60_000);
});

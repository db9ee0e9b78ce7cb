import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchema, nodeListSchema, type NodeList } from "../../src-main/contract";
import { runCli } from "../helpers/cliProcess";
import { startFakeOpenAiServer } from "../helpers/fakeOpenAiServer";
import { twentyTurns } from "../helpers/conversation";
import { serveTinyModel, tinyModel as model, type TinyModelServe } from "../helpers/tinyModelServe";
import { waitFor } from "../helpers/waitFor";

// Per-model settings as a user changes them with the CLI, applied by real workers to a real model
// (trained on 512 tokens).
let server: TinyModelServe;

beforeAll(async () => {
  server = await serveTinyModel({ workers: 2 });
}, 90_000);
afterAll(async () => {
  await server?.close();
});

const llmlb = (...args: string[]) => runCli(["--url", server.serve.url, ...args], server.env);

async function nodes(): Promise<NodeList> {
  return nodeListSchema.parse((await server.admin("GET", "/v0/nodes")).body);
}

/** How each node that holds the model in memory loaded it. */
async function loadedContexts(): Promise<(number | undefined)[]> {
  return (await nodes()).data.flatMap((node) =>
    node.loaded.filter((entry) => entry.model === model).map((entry) => entry.context_size),
  );
}

const converse = () => twentyTurns(server.serve.url, { model, max_tokens: 16 });

describe("llmlb model set", () => {
  it("runs a model in the context size set for it, and truncates or refuses as set for it", async () => {
    // Nothing set: the most the model allows (memory allows more here).
    await converse();
    // Nodes report what they hold with their next heartbeat.
    await waitFor("a node to report the model loaded", async () => (await loadedContexts()).length > 0);
    expect(await loadedContexts()).toContain(512);

    const set = await llmlb("model", "set", model, "--context", "256", "--overflow", "truncate_oldest");
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/context size\s+256 tokens/);
    expect(set.stdout).toMatch(/context overflow\s+truncate_oldest/);

    // Long past what 256 tokens hold, every turn is answered; late ones say what they left out.
    const truncating = await converse();
    expect(truncating.map((turn) => turn.status)).toEqual(Array(20).fill(200));
    expect(truncating.at(-1)!.truncated).toBeGreaterThan(0);
    // The nodes loaded it again, in the new size, and the old load is gone.
    await waitFor(
      "only 256-token loads",
      async () => {
        const sizes = await loadedContexts();
        return sizes.length > 0 && sizes.every((size) => size === 256);
      },
      {
        timeoutMs: 10_000,
      },
    );
    const shown = await llmlb("model", "set", model);
    expect(shown.stdout).toMatch(/in memory\s+loaded: 256 tokens × \d+ on /);

    expect((await llmlb("model", "set", model, "--overflow", "error")).code).toBe(0);
    const refusing = await converse();
    expect(refusing.length).toBeLessThan(20);
    expect(refusing.at(-1)).toMatchObject({ status: 400, code: "context_length_exceeded" });
  }, 120_000);

  it("answers to an alias, naming the model in the answer", async () => {
    const aliased = await llmlb("model", "alias", model, "tiny");
    expect(aliased).toMatchObject({ code: 0, stdout: `tiny now names ${model}\n` });
    const client = new OpenAI({ baseURL: `${server.serve.url}/v1`, apiKey: "x", maxRetries: 0 });
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
        .parse((await server.admin("GET", `/v0/models/${encodeURIComponent(model)}`)).body)
        .nodes.map((node) => `${node.node_name}:${node.state}`);
    await waitFor("only the pinned node has it", async () => (await onNodes()).join() === `${first}:ready`, {
      timeoutMs: 15_000,
    });
    const client = new OpenAI({ baseURL: `${server.serve.url}/v1`, apiKey: "x", maxRetries: 0 });
    for (let i = 0; i < 4; i++) {
      await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 2,
      });
    }
    const holdingNow = async () =>
      (await nodes()).data.filter((node) => node.loaded.some((entry) => entry.model === model));
    await waitFor("a node to report the model loaded", async () => (await holdingNow()).length > 0);
    const holding = await holdingNow();
    expect(holding.map((node) => node.name)).toEqual([first]);

    await llmlb("model", "set", model, "--nodes", "any");
    await waitFor(
      "both nodes have it again",
      async () => (await onNodes()).sort().join() === `${first}:ready,${second}:ready`,
      { timeoutMs: 15_000 },
    );
  }, 60_000);

  it("warns when pinning a model to an endpoint that does not list it, whose requests then fail at once", async () => {
    const vllm = await startFakeOpenAiServer({ name: "vllm", models: ["org/elsewhere"] });
    try {
      expect((await llmlb("endpoint", "add", "vllm", vllm.url)).code).toBe(0);
      const pinned = await llmlb("model", "set", model, "--nodes", "vllm");
      expect(pinned.code).toBe(0);
      expect(pinned.stderr).toBe(
        `warning: vllm is an endpoint that does not list ${model}, so it does not serve it. Requests for it fail until it is pinned to a node that serves it (or --nodes any).\n`,
      );
      const client = new OpenAI({ baseURL: `${server.serve.url}/v1`, apiKey: "x", maxRetries: 0 });
      const refused = await client.chat.completions
        .create({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 2 })
        .catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
      expect(refused).toBeInstanceOf(OpenAI.APIError);
      expect(refused).toMatchObject({ status: 503, code: "model_unavailable" });
    } finally {
      await llmlb("model", "set", model, "--nodes", "any");
      await llmlb("endpoint", "rm", "vllm");
      await vllm.close();
    }
  }, 60_000);
});

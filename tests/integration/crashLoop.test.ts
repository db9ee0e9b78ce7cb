import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchema, type ModelOnNode } from "../../src-main/contract";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { registerAndWaitReady, runCli } from "../helpers/cliProcess";
import { serveTinyModel, tinyModel as healthy, type TinyModelServe } from "../helpers/tinyModelServe";
import { isAlive, workerPids } from "../helpers/processes";
import { waitFor } from "../helpers/waitFor";

// A model that loads but makes llama.cpp abort the worker process at its first decode (norm weights
// stored quantized: the CPU backend has no kernel for them), next to a healthy one on the same node.
// Nothing is faked: the worker really dies with SIGABRT.
const broken = "acme/broken-norms-GGUF";
let server: TinyModelServe;

beforeAll(async () => {
  server = await serveTinyModel({
    workers: 1,
    logLevel: "info",
    repos: [
      {
        id: broken,
        files: [{ path: "broken-Q8_0.gguf", content: generateTinyGguf({ seed: 2, crashesOnDecode: true }) }],
      },
    ],
  });
  await registerAndWaitReady(server.serve.url, server.dataDir, broken);
}, 90_000);
afterAll(async () => {
  await server?.close();
});

/** The OpenAI SDK as users run it: default retries, which honour the server's Retry-After. */
const client = () => new OpenAI({ baseURL: `${server.serve.url}/v1`, apiKey: "unused", timeout: 45_000 });

const ask = (model: string) =>
  client().chat.completions.create({
    model,
    messages: [{ role: "user", content: "Hello" }],
    max_tokens: 4,
    temperature: 0,
  });

async function stateOf(model: string): Promise<ModelOnNode | undefined> {
  const answer = await server.admin("GET", `/v0/models/${model}`);
  return modelSchema.parse(answer.body).nodes.find((node) => node.node_status === "online");
}

/** Worker processes started so far, as the supervisor logs them. */
const workerStarts = () =>
  server.serve
    .logs()
    .split("\n")
    .filter((line) => line.includes('"worker started"')).length;

describe("a model that crashes its worker", () => {
  it("ends as a crashed error on its node with the cause, is refused at once, and the healthy model keeps answering", async () => {
    expect((await ask(healthy)).choices[0]!.message.content).toBeTruthy();
    const firstRequest = Date.now();

    // Users of the healthy model keep asking the whole time; the SDK's retries ride out the restarts.
    let asking = true;
    const healthyAnswers: number[] = [];
    const healthyFailures: unknown[] = [];
    const healthyLoop = (async () => {
      while (asking) {
        try {
          await ask(healthy);
          healthyAnswers.push(Date.now());
        } catch (error) {
          healthyFailures.push(error);
        }
      }
    })();

    // Each request for the broken model kills the worker, until the node gives up on the model.
    const crashed = await waitFor(
      "the broken model to be marked crashed",
      async () => {
        const state = await stateOf(broken);
        if (state?.state === "error" && state.crashed) return state;
        await ask(broken).catch(() => undefined);
        return undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(Date.now() - firstRequest).toBeLessThan(60_000);
    const message = crashed.state === "error" ? crashed.message : "";
    expect(message).toContain("crashed this node's worker 2 times");
    expect(message).toContain("signal SIGABRT");
    expect(message).toContain("binary_op: unsupported types");
    expect(message).toContain(`llmlb model retry ${broken}`);

    // Refused at once, with the SDK's retries: a 503 that says why, not a 502 after a crash.
    const starts = workerStarts();
    // The first process and one restart per crash.
    expect(starts).toBe(3);
    const before = Date.now();
    const refused = await ask(broken).catch((error: unknown) => error);
    expect(Date.now() - before).toBeLessThan(2000);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((refused as Error).message).toContain("crashed this node's worker");

    const listed = await runCli(["--url", server.serve.url, "model", "list"], server.env);
    expect(listed.stdout).toMatch(
      new RegExp(`${broken} on \\S+: crashed: It crashed this node's worker 2 times`),
    );

    // The healthy model answered throughout, and answers now; nothing restarts the worker any more.
    asking = false;
    await healthyLoop;
    expect(healthyFailures.map(String)).toEqual([]);
    expect(healthyAnswers.length).toBeGreaterThan(0);
    expect((await ask(healthy)).choices[0]!.message.content).toBeTruthy();
    expect(workerStarts()).toBe(starts);
    expect((await stateOf(healthy))?.state).toBe("ready");

    // A retry loads it again (and would crash again: it is broken for this backend).
    const retried = await runCli(["--url", server.serve.url, "model", "retry", broken], server.env);
    expect(retried.stdout).toMatch(new RegExp(`Trying ${broken} again on \\S+`));
    await waitFor("the broken model ready again", async () => (await stateOf(broken))?.state === "ready");
  }, 120_000);
});

describe("a worker that stops answering (hung: a deadlocked driver, a stuck thread)", () => {
  it("is ended and started again, with the reason in the log, and its models come back", async () => {
    const [hung] = workerPids(server.serve.child.pid!);
    expect(hung).toBeDefined();
    const starts = workerStarts();
    // SIGSTOP stands in for a hang: the process lives on, and says nothing more.
    process.kill(hung!, "SIGSTOP");
    try {
      await waitFor("the hung worker to be ended", () => !isAlive(hung!), { timeoutMs: 45_000 });
      await waitFor("a worker started in its place", () => workerStarts() > starts, { timeoutMs: 15_000 });
      expect(server.serve.logs()).toMatch(/"msg":"worker stopped answering; ending it"/);
      await waitFor(
        "the healthy model ready again",
        async () => (await stateOf(healthy))?.state === "ready",
        {
          timeoutMs: 30_000,
        },
      );
      expect((await ask(healthy)).choices[0]!.message.content).toBeTruthy();
    } finally {
      if (isAlive(hung!)) process.kill(hung!, "SIGKILL");
    }
  }, 120_000);
});

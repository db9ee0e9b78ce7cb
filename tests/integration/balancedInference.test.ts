import { setTimeout as sleep } from "node:timers/promises";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchema, nodeListSchema } from "../../src-main/contract";
import type { FakeHub } from "../fixtures/fakeHub";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { runCli, type ServeProcess } from "../helpers/cliProcess";
import { greedyChat, longStory } from "../helpers/chat";
import { childPids, workerPids } from "../helpers/processes";
import { serveTinyModel, tinyModel as model, type TinyModelServe } from "../helpers/tinyModelServe";
import { waitFor } from "../helpers/waitFor";

// The whole product path: `llmlb serve --workers 2`, models from the fake hub, real node-llama-cpp
// inference in the workers, and the official OpenAI SDK against the balancer.
let server: TinyModelServe;
let hub: FakeHub;
let serve: ServeProcess;
let client: OpenAI;

const admin = (method: string, url: string, body?: unknown) => server.admin(method, url, body);

beforeAll(async () => {
  server = await serveTinyModel({
    workers: 2,
    repos: [
      {
        id: "acme/slow-GGUF",
        files: [
          {
            path: "slow-Q4_K_M.gguf",
            content: Buffer.concat([generateTinyGguf({ seed: 9 }), Buffer.alloc(8e6)]),
          },
        ],
      },
      {
        id: "acme/queued-GGUF",
        files: [{ path: "queued-Q4_K_M.gguf", content: generateTinyGguf({ seed: 10 }) }],
      },
    ],
  });
  ({ hub, serve } = server);
  client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: "not-needed-on-loopback", maxRetries: 0 });
}, 90_000);
afterAll(async () => {
  await server?.close();
});

/**
 * The two workers' pids, and two long streams each past its first chunk. The pids are found first: a
 * stream lasts well under a second once it runs. Least-outstanding routing puts one on each worker.
 */
async function twoStreamsUnderWay() {
  const workers = workerPids(serve.child.pid!);
  expect(workers).toHaveLength(2);
  // Both workers hold the model first (one request each, at once): a worker still loading it would
  // hold back its first chunk while the other's whole stream runs out.
  await Promise.all([0, 1].map(() => greedyChat(client, model, 1)));
  const streams = await Promise.all([0, 1].map(() => longStory(client, model)));
  const iterators = streams.map((stream) => stream[Symbol.asyncIterator]());
  await Promise.all(iterators.map((iterator) => iterator.next()));
  return { workers, iterators };
}

/** How each stream ended: "completed", or the error it ended with. */
function outcomesOf(iterators: AsyncIterator<unknown>[]): Promise<string[]> {
  return Promise.all(
    iterators.map(async (iterator) => {
      try {
        for (let step = await iterator.next(); !step.done; step = await iterator.next());
        return "completed";
      } catch (error) {
        return String(error);
      }
    }),
  );
}

/** Exactly one stream completed; the other ended with the balancer's error event. */
function expectOneCut(outcomes: string[]): void {
  expect(outcomes.filter((outcome) => outcome === "completed")).toHaveLength(1);
  expect(outcomes.find((outcome) => outcome !== "completed")).toMatch(
    /node serving this request \(.+\) stopped midway/,
  );
}

/** Both workers online with the model ready, as the registry says. */
function bothWorkersReady(what: string, timeoutMs: number): Promise<unknown> {
  return waitFor(
    what,
    async () => {
      const m = modelSchema.parse((await admin("GET", `/v0/models/${encodeURIComponent(model)}`)).body);
      return m.nodes.filter((n) => n.state === "ready" && n.node_status === "online").length === 2;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

describe("the OpenAI SDK against llmlb", () => {
  it("chats, without and with streaming", async () => {
    const answer = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 8,
      // Greedy: the same answer every run (sampled, the random-weight model may end early).
      temperature: 0,
    });
    expect(typeof answer.choices[0]?.message.content).toBe("string");
    expect(answer.choices[0]?.finish_reason).toBe("length");
    expect(answer.usage?.completion_tokens).toBe(8);

    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 8,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      usage = chunk.usage ?? usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBe(8);
  });

  it("completes text and embeds", async () => {
    // Greedy: sampled, the tiny model may pick its end token first and answer nothing.
    const completion = await client.completions.create({
      model,
      prompt: "Once upon",
      max_tokens: 4,
      temperature: 0,
    });
    expect(completion.choices[0]?.text.length).toBeGreaterThan(0);
    const embeddings = await client.embeddings.create({ model, input: ["one", "two"] });
    expect(embeddings.data).toHaveLength(2);
    expect(embeddings.data[0]?.embedding.length).toBeGreaterThan(0);
  });

  it("gives log probabilities through the balancer: chat's, and a completion's with its prompt echoed", async () => {
    const chat = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 4,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    const content = chat.choices[0]!.logprobs!.content!;
    expect(content.map((token) => token.token).join("")).toBe(chat.choices[0]!.message.content);
    expect(content.every((token) => token.top_logprobs.length === 2)).toBe(true);
    const echoed = await client.completions.create({
      model,
      prompt: "Once upon",
      max_tokens: 0,
      echo: true,
      logprobs: 1,
    });
    expect(echoed.choices[0]!.text).toBe("Once upon");
    expect(echoed.choices[0]!.logprobs!.tokens!.join("")).toBe("Once upon");
  });

  it("answers JSON that parses when a schema is asked for", async () => {
    const answer = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Say ok" }],
      max_tokens: 64,
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "ok",
          schema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] },
        },
      },
    });
    expect(typeof JSON.parse(answer.choices[0]!.message.content!).ok).toBe("boolean");
  });

  it("throws NotFoundError for a model that is not registered", async () => {
    const error = await client.chat.completions
      .create({ model: "acme/nope", messages: [{ role: "user", content: "x" }] })
      .catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("answers 503 with Retry-After while a model is still downloading", async () => {
    hub.setFaults({ throttleBytesPerSecond: 1_000_000 });
    try {
      expect((await admin("POST", "/v0/models/register", { url: "acme/slow-GGUF" })).status).toBe(201);
      await waitFor("the download to start", async () => {
        const m = modelSchema.parse(
          (await admin("GET", `/v0/models/${encodeURIComponent("acme/slow-GGUF")}`)).body,
        );
        return m.nodes.some((n) => n.state === "downloading");
      });
      const error = await client.chat.completions
        .create({ model: "acme/slow-GGUF", messages: [{ role: "user", content: "x" }] })
        .catch((e) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(error.status).toBe(503);
      expect(Number(error.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(error.message).toMatch(/still downloading/);

      // Registered meanwhile, another model waits for that download on each node: its requests are
      // told so at once (they would wait for a node to take it up otherwise), and so is the registry.
      expect((await admin("POST", "/v0/models/register", { url: "acme/queued-GGUF" })).status).toBe(201);
      await waitFor("the second model queued", async () => {
        const m = modelSchema.parse(
          (await admin("GET", `/v0/models/${encodeURIComponent("acme/queued-GGUF")}`)).body,
        );
        return m.nodes.some((n) => n.state === "pending" && n.queued_behind === "acme/slow-GGUF");
      });
      const queued = await client.chat.completions
        .create({ model: "acme/queued-GGUF", messages: [{ role: "user", content: "x" }] })
        .catch((e) => e);
      expect(queued).toBeInstanceOf(OpenAI.APIError);
      expect(queued.status).toBe(503);
      expect(queued.message).toMatch(/waits for the download of acme\/slow-GGUF/);
    } finally {
      hub.clearFaults();
    }
  });

  it("reports which node holds the model in memory once it has served", async () => {
    await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 2,
    });
    const holders = await waitFor("a node to report the model loaded", async () => {
      const nodes = nodeListSchema.parse((await admin("GET", "/v0/nodes")).body);
      const found = nodes.data.filter((node) => node.loaded.some((entry) => entry.model === model));
      return found.length > 0 && found;
    });
    expect(holders[0]!.loaded.find((entry) => entry.model === model)?.sequences).toBeGreaterThan(0);
  });

  // Near the end: it kills a worker, then stops one.
  it("ends the stream of a worker killed mid-stream with an error, keeps serving, and the worker returns", async () => {
    const { workers, iterators } = await twoStreamsUnderWay();
    process.kill(workers[0]!, "SIGKILL");
    // Its node is offline at once, not only once its heartbeats are missed (6 s); watched from the kill
    // on, since the restarted worker may be back before the other stream ends.
    const offline = waitFor(
      "the killed worker's node to be offline",
      async () => {
        const nodes = nodeListSchema.parse((await admin("GET", "/v0/nodes")).body);
        return nodes.data.find((node) => node.status === "offline");
      },
      { timeoutMs: 3000, intervalMs: 50 },
    );

    const outcomes = await outcomesOf(iterators);
    expectOneCut(outcomes);

    expect((await offline).health).toEqual({
      state: "offline",
      reason: "Its worker process ended.",
      since: expect.any(String),
    });
    // Other requests keep succeeding meanwhile.
    for (let i = 0; i < 3; i++) {
      const answer = await greedyChat(client, model, 2);
      expect(answer.usage?.completion_tokens).toBe(2);
    }
    // The supervisor restarts the killed worker; it registers again and has the model ready from its cache.
    await bothWorkersReady("both workers ready again", 60_000);
    expect(childPids(serve.child.pid!)).not.toContain(workers[0]);
  });

  // After the kill: the restarted worker is back at a new URL, so the balancer counts both as up.
  it("ends the stream of a worker that hangs once it misses its heartbeats, and takes it back when it answers", async () => {
    const { workers, iterators } = await twoStreamsUnderWay();
    // Stopped, not dead: its connections stay open and nothing more comes through them.
    process.kill(workers[0]!, "SIGSTOP");
    try {
      expectOneCut(await outcomesOf(iterators));
      // Why it takes no requests, where a person looks.
      const list = await runCli(["node", "list"], server.env);
      expect(list.stdout).toContain("Failing or offline:");
      expect(list.stdout).toMatch(
        /^ {2}\S+ \(offline\): It stopped sending heartbeats \(silent for over 6 s\)\.$/m,
      );
    } finally {
      process.kill(workers[0]!, "SIGCONT");
    }
    await bothWorkersReady("the hung worker to be online and ready again", 30_000);
    expect(childPids(serve.child.pid!)).toContain(workers[0]);
  });

  it("keeps its nodes and their streams through 8 s of its own silence (a laptop asleep, a stopped process)", async () => {
    await bothWorkersReady("both workers ready", 30_000);
    const { iterators } = await twoStreamsUnderWay();
    const logged = serve.logs().length;
    // The control plane stopped: its workers go on, and their heartbeats wait unheard.
    process.kill(serve.child.pid!, "SIGSTOP");
    try {
      // The stall itself is what is tested, longer than the 6 s after which a node is silent.
      await sleep(8000);
    } finally {
      process.kill(serve.child.pid!, "SIGCONT");
    }
    expect(await outcomesOf(iterators)).toEqual(["completed", "completed"]);
    expect(serve.logs().slice(logged)).not.toMatch(/missed their heartbeats/);
    const nodes = nodeListSchema.parse((await admin("GET", "/v0/nodes")).body);
    expect(nodes.data.map((node) => node.status)).toEqual(["online", "online"]);
  }, 60_000);
});

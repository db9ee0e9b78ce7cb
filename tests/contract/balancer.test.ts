import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { nodeListSchema, type RequestRecord } from "../../src-main/contract";
import type { FakeHub } from "../fixtures/fakeHub";
import { runCli } from "../helpers/cliProcess";
import { chatAnswer, startFakeNode, type FakeNode } from "../helpers/fakeNode";
import { startCore, startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";
import { waitFor } from "../helpers/waitFor";

let hub: FakeHub;
let server: TestServerWithHub;
let client: OpenAI;
let nodes: FakeNode[] = [];
const model = "acme/tiny-GGUF";
const other = "acme/split-GGUF";

async function node(
  name: string,
  options: Omit<Parameters<typeof startFakeNode>[1], "name"> = { ready: [model] },
) {
  const started = await startFakeNode(server, { name, ...options });
  nodes.push(started);
  return started;
}

/** A node that has a quarter of `other` (1 GB) and downloads the rest at this speed. */
async function downloadingOn(name: string, bytesPerSecond: number) {
  const downloading = await node(name, { ready: [] });
  await downloading.report([
    {
      model: other,
      artifact: "big-Q4_K_M-00001-of-00003.gguf",
      state: "downloading",
      bytes_done: 250e6,
      bytes_total: 1e9,
      bytes_per_second: bytesPerSecond,
    },
  ]);
}

/** A fetch for the OpenAI SDK that counts the requests it sends (its retries included). */
function countingFetch() {
  let count = 0;
  return {
    fetch: (input: string | URL | Request, init?: RequestInit) => {
      count++;
      return fetch(input, init);
    },
    count: () => count,
  };
}

const ask = (content = "hi") =>
  client.chat.completions.create({ model, messages: [{ role: "user", content }] });

beforeAll(async () => {
  server = await startCoreWithHub({
    core: {
      balancer: {
        slotsPerNode: 2,
        admission: { queueSize: 3, queueTimeoutMs: 10_000 },
        nodeWaitMs: 2000,
      },
      nodeTimings: { heartbeatIntervalMs: 100, offlineAfterMs: 500 },
    },
  });
  hub = server.hub;
  for (const url of [model, other, "acme/weights-only"]) {
    expect((await server.request("POST", "/v0/models/register", { body: { url } })).status).toBe(201);
  }
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
  // Let the control plane see the closed nodes as gone before the next test registers its own.
  await waitFor(
    "no node online",
    async () => {
      const list = (await server.request("GET", "/v0/nodes")).body as {
        data: { status: string; models: unknown[] }[];
      };
      return list.data.every((n) => n.status === "offline" || n.models.length === 0);
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
});
afterAll(async () => {
  await server.close();
});

describe("requests the balancer cannot route", () => {
  it("an unknown model is a 404 model_not_found (OpenAI's NotFoundError)", async () => {
    const error = await client.chat.completions
      .create({ model: "acme/nope", messages: [{ role: "user", content: "x" }] })
      .catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe("model_not_found");
    expect(error.message).toMatch(/acme\/nope/);
  });

  it("a model id in the wrong case is a 404 that names the registered one", async () => {
    const error = await client.chat.completions
      .create({ model: "ACME/Tiny-gguf", messages: [{ role: "user", content: "x" }] })
      .catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.message).toMatch(/Did you mean `acme\/tiny-GGUF`\? Model ids are case-sensitive/);
    const removed = await server.request("DELETE", "/v0/models/ACME%2Ftiny-gguf");
    expect(removed.status).toBe(404);
    expect(removed.body.error.message).toMatch(/Did you mean `acme\/tiny-GGUF`\?/);
  });

  it("a model still downloading is a 503 with Retry-After and its progress", async () => {
    await downloadingOn("dl", 50e6);
    const response = await server.request("POST", "/v1/chat/completions", {
      body: { model: other, messages: [] },
    });
    expect(response.status).toBe(503);
    expect(Number(response.headers["retry-after"])).toBe(2);
    expect(response.body.error.message).toMatch(
      /still downloading on dl: 25% \(250 MB of 1\.0 GB, about 15 s left\)/,
    );
  });

  it("a request whose node is on its way (verifying the file) waits for it, and is answered once it is ready", async () => {
    const late = await node("late", { ready: [] });
    await late.report([{ model, artifact: "tiny-Q4_K_M.gguf", state: "verifying" }]);
    let settled = false;
    const answer = ask("wait for me").finally(() => (settled = true));
    // A report that changes nothing wakes the request, which goes on waiting.
    await late.report([{ model, artifact: "tiny-Q4_K_M.gguf", state: "verifying" }]);
    expect(settled).toBe(false);
    await late.report([{ model, artifact: "tiny-Q4_K_M.gguf", state: "ready" }]);
    expect((await answer).choices[0]?.message.content).toBeTruthy();
  });

  it("a request whose node does not come within the wait gets the 503 that says why", async () => {
    const late = await node("stuck", { ready: [] });
    await late.report([{ model, artifact: "tiny-Q4_K_M.gguf", state: "verifying" }]);
    const started = Date.now();
    const response = await server.request("POST", "/v1/chat/completions", {
      body: { model, messages: [{ role: "user", content: "x" }] },
    });
    // The rule under test is a duration: the suite's core waits 2 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(response.status).toBe(503);
    expect(response.body.error.message).toMatch(/being prepared on stuck \(verifying\)/);
  });

  it("a model no node can serve says why, each node's reason once, with one full stop", async () => {
    const refusing = await node("small", { ready: [] });
    await refusing.report([
      { model: "acme/weights-only", artifact: null, state: "unsupported", reason: "no GGUF file" },
    ]);
    const response = await server.request("POST", "/v1/chat/completions", {
      body: { model: "acme/weights-only", messages: [] },
    });
    expect(response.status).toBe(503);
    expect(response.body.error.message).toBe("No node can run model acme/weights-only: small: no GGUF file.");
    // A reason that ends a sentence itself gets no second stop.
    await refusing.report([
      {
        model: "acme/weights-only",
        artifact: null,
        state: "error",
        message: "The file failed verification.",
      },
    ]);
    const again = await server.request("POST", "/v1/chat/completions", {
      body: { model: "acme/weights-only", messages: [] },
    });
    expect(again.body.error.message).toBe(
      "No node can run model acme/weights-only: small: The file failed verification.",
    );
  });

  it("a model no node can run fails at once: the OpenAI SDK, with its default retries, does not retry", async () => {
    const refusing = await node("small", { ready: [] });
    await refusing.report([
      { model: "acme/weights-only", artifact: null, state: "unsupported", reason: "no GGUF file" },
    ]);
    const sent = countingFetch();
    const patient = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", fetch: sent.fetch });
    const started = Date.now();
    const error = await patient.chat.completions
      .create({ model: "acme/weights-only", messages: [{ role: "user", content: "x" }] })
      .catch((e) => e);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(sent.count()).toBe(1);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(503);
    expect(error.code).toBe("model_unavailable");
    expect(error.message).toMatch(/No node can run model acme\/weights-only: small: no GGUF file/);
    expect(error.headers.get("retry-after")).toBeNull();
    expect(error.headers.get("x-should-retry")).toBe("false");

    // Anthropic's clients go by the error's type: `overloaded_error` they retry for minutes.
    const anthropic = await server.request("POST", "/v1/messages", {
      body: { model: "acme/weights-only", max_tokens: 5, messages: [{ role: "user", content: "x" }] },
    });
    expect(anthropic.status).toBe(503);
    expect(anthropic.body).toMatchObject({
      type: "error",
      error: {
        type: "api_error",
        message: expect.stringMatching(/^No node can run model acme\/weights-only/),
      },
    });
  });

  it("a model still downloading: the SDK's retries end within seconds, with the progress", async () => {
    await downloadingOn("dl", 1e6);
    const sent = countingFetch();
    const patient = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", fetch: sent.fetch });
    const started = Date.now();
    const error = await patient.chat.completions
      .create({ model: other, messages: [{ role: "user", content: "x" }] })
      .catch((e) => e);
    // Two retries, each after the short Retry-After: a useful answer well within 10 s.
    expect(sent.count()).toBe(3);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(Number(error.headers.get("retry-after"))).toBeLessThanOrEqual(2);
    expect(error.message).toMatch(/still downloading on dl: 25%/);
  });

  it("with every node silent for longer than a request waits, answers at once: none is on its way", async () => {
    const gone = await node("gone", { ready: [model] });
    await gone.close();
    // The rule under test is a duration: nodes last seen more than the wait (2 s here) ago.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const started = Date.now();
    const response = await server.request("POST", "/v1/chat/completions", {
      body: { model, messages: [{ role: "user", content: "x" }] },
    });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(response.status).toBe(503);
    expect(response.body.error.message).toMatch(
      /no node is online to serve it.*start (.* or )?gone( or .*)? again/,
    );
  });

  it("with no node at all and none to come, says how to get one, at once", async () => {
    // A control plane of its own: this one has had nodes (offline now, they may come back).
    const bare = await startCore({ hubEndpoint: hub.url });
    try {
      expect((await bare.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(201);
      const response = await bare.request("POST", "/v1/chat/completions", { body: { model, messages: [] } });
      expect(response.status).toBe(503);
      expect(response.headers["x-should-retry"]).toBe("false");
      expect(response.headers["retry-after"]).toBeUndefined();
      expect(response.body.error.message).toMatch(
        /no node serves models here.*--workers.*llmlb node --join/i,
      );
    } finally {
      await bare.close();
    }
  });

  it("a request without a model is a 400", async () => {
    const response = await server.request("POST", "/v1/chat/completions", { body: { messages: [] } });
    expect(response.status).toBe(400);
    expect(response.body.error.param).toBe("model");
  });
});

// Routing policy (turns, load, speed, failover) is in tests/unit/balancerPolicy.test.ts; here, what
// crosses the wire.
describe("routing", () => {
  it("passes answers through, streamed and not, with the node's own token", async () => {
    const only = await node("only");
    const answer = await ask();
    expect(answer.choices[0]?.message.content).toBe("from only");
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("only-0 only-1 only-2 ");
    expect(only.received[0]?.authorization).toMatch(/^Bearer llmlb_nt_/);
    expect(only.received[0]?.body).toMatchObject({ model, messages: [{ role: "user", content: "hi" }] });
  });

  it("keeps each model on the node that holds it, where loading it on the other would unload the other's model", async () => {
    // Two nodes that may hold one model each (`LLMLB_MAX_LOADED_MODELS=1`), each holding one.
    const holdsModel = await node("holds-model", { ready: [model, other] });
    const holdsOther = await node("holds-other", { ready: [model, other] });
    await holdsModel.hold({ loaded: [{ model, sequences: 4, busy: 0 }], max_loaded_models: 1 });
    await holdsOther.hold({ loaded: [{ model: other, sequences: 4, busy: 0 }], max_loaded_models: 1 });
    const askFor = (name: string) =>
      client.chat.completions.create({ model: name, messages: [{ role: "user", content: "hi" }] });
    // Each model in use on its node: asked for there while the other node is drained.
    const drain = (name: string, draining: boolean) =>
      server.request("PUT", `/v0/nodes/${name}/draining`, { body: { draining } });
    for (const [name, holder, otherNode] of [
      [model, holdsModel, holdsOther],
      [other, holdsOther, holdsModel],
    ] as const) {
      await drain(otherNode.name, true);
      expect((await askFor(name)).choices[0]?.message.content).toBe(`from ${holder.name}`);
      await drain(otherNode.name, false);
    }
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all([askFor(model), askFor(model), askFor(other), askFor(other)]);
      expect(answers.map((answer) => answer.choices[0]?.message.content)).toEqual([
        "from holds-model",
        "from holds-model",
        "from holds-other",
        "from holds-other",
      ]);
    }
    // Where a person looks: the node says how many models it holds at most.
    const listed = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body).data;
    expect(listed.find((n) => n.name === "holds-model")).toMatchObject({ max_loaded_models: 1 });
  });

  it("brings a failed node back as soon as its health check passes, not after a penalty, and lists it as failing meanwhile", async () => {
    // Time stands still for this control plane: a node marked down can only come back by its health.
    const frozen = await startCore({
      hubEndpoint: hub.url,
      core: { clock: { now: () => 1_700_000_000_000 }, balancer: { slotsPerNode: 2 } },
    });
    const own: FakeNode[] = [];
    try {
      expect((await frozen.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(
        201,
      );
      let failing = true;
      own.push(
        await startFakeNode(frozen, {
          name: "flaky",
          ready: [model],
          healthy: () => !failing,
          handler: (_request, response) => {
            if (failing) return void response.writeHead(503).end("restarting");
            response
              .writeHead(200, { "content-type": "application/json" })
              .end(JSON.stringify(chatAnswer("flaky")));
          },
        }),
      );
      own.push(await startFakeNode(frozen, { name: "steady", ready: [model] }));
      const frozenClient = new OpenAI({ baseURL: `${frozen.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const askFrozen = () =>
        frozenClient.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] });
      const healthOf = async (name: string) =>
        nodeListSchema
          .parse((await frozen.request("GET", "/v0/nodes")).body)
          .data.find((n) => n.name === name)!.health;
      // Whichever node the first request tries, a failure of flaky marks it down.
      for (let i = 0; i < 4; i++) expect((await askFrozen()).choices[0]?.message.content).toBe("from steady");
      expect(await healthOf("flaky")).toEqual({
        state: "failing",
        reason: `A request for ${model} failed before any answer (answered 503).`,
        since: new Date(1_700_000_000_000).toISOString(),
      });
      expect((await healthOf("steady")).state).toBe("ok");
      // Where a person looks: the CLI says which node fails, and why.
      const cli = (...command: string[]) =>
        runCli([...command, "--url", frozen.url, "--token", frozen.token], {
          LLMLB_DATA_DIR: frozen.dataDir,
        });
      const [status, list] = await Promise.all([cli("status"), cli("node", "list")]);
      expect(status.stdout).toContain(
        `  Failing:    flaky (failing): A request for ${model} failed before any answer (answered 503).\n`,
      );
      expect(list.stdout).toMatch(/^flaky\s.*\sfailing\s/m);
      expect(list.stdout).toContain(
        `Failing or offline:\n  flaky (failing): A request for ${model} failed before any answer (answered 503).\n`,
      );
      // Checked again while failing (the first check was when it registered).
      const checks = own[0]!.healthChecks();
      await waitFor("flaky's health to be checked", () => own[0]!.healthChecks() > checks);
      failing = false;
      await waitFor(
        "flaky to serve again",
        async () => (await askFrozen()).choices[0]?.message.content === "from flaky",
        {
          timeoutMs: 10_000,
        },
      );
      expect(await healthOf("flaky")).toEqual({ state: "ok", reason: null, since: expect.any(String) });
    } finally {
      await Promise.all(own.map((n) => n.close()));
      await frozen.close();
    }
  });

  it("sends a route an older worker lacks (its 404 as Fastify words it) to another, without passing that worker over", async () => {
    const fastifyNotFound = (url: string) =>
      JSON.stringify({ message: `Route POST:${url} not found`, error: "Not Found", statusCode: 404 });
    await node("older", {
      ready: [model],
      handler: (request, response) =>
        request.url === "/v1/messages"
          ? void response
              .writeHead(404, { "content-type": "application/json" })
              .end(fastifyNotFound(request.url))
          : void response
              .writeHead(200, { "content-type": "application/json" })
              .end(JSON.stringify(chatAnswer("from older"))),
    });
    const messages = () =>
      fetch(`${server.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
      });
    // Alone, it gives a 404 that says why, not a 502 to retry.
    const alone = await messages();
    expect(alone.status).toBe(404);
    expect(((await alone.json()) as { error: { message: string } }).error.message).toContain(
      "a worker of an older llmlb, may lack this route",
    );
    await node("newer");
    expect((await messages()).status).toBe(200);
    const healthOf = async (name: string) =>
      nodeListSchema
        .parse((await server.request("GET", "/v0/nodes")).body)
        .data.find((n) => n.name === name && n.status === "online")!.health.state;
    expect(await healthOf("older")).toBe("ok");

    // A 404 in Anthropic's shape for a model gone from a worker is no missing route: that worker is passed over.
    let asked = 0;
    await node("model-gone", {
      ready: [model],
      handler: (_request, response) => {
        asked++;
        const message = `The model "${model}" does not exist or is not ready on this node.`;
        response
          .writeHead(404, { "content-type": "application/json" })
          .end(JSON.stringify({ type: "error", error: { type: "not_found_error", message } }));
      },
    });
    // Whichever node each request is sent to first, every one is answered.
    for (let i = 0; i < 20 && asked === 0; i++) expect((await messages()).status).toBe(200);
    expect(asked).toBe(1);
    expect(await healthOf("model-gone")).toBe("failing");
  });

  it("tries another node when one no longer has the model (404) or refuses the balancer (401)", async () => {
    await node("stale", {
      ready: [model],
      handler: (_q, r) =>
        void r.writeHead(404, { "content-type": "application/json" }).end(
          JSON.stringify({
            error: { message: "not here", type: "not_found_error", code: "model_not_found" },
          }),
        ),
    });
    await node("fresh");
    for (let i = 0; i < 4; i++) expect((await ask()).choices[0]?.message.content).toBe("from fresh");
    // The access log says which node failed first, and how.
    const logged = (await server.request("GET", "/v0/requests")).body as { data: RequestRecord[] };
    const retried = logged.data.find((record) => record.tries === 2);
    expect(retried).toMatchObject({ node: "fresh", status: 200 });
    expect(retried!.failed_tries).toEqual([expect.stringMatching(/^stale: /)]);
  });

  it("passes on a node's own 500 as it came, to that client only: the node is not passed over", async () => {
    const failure = {
      error: { message: `The model ${model} failed: boom.`, type: "server_error", code: "inference_failed" },
    };
    let fail = true;
    const only = await node("picky", {
      ready: [model],
      handler: (_q, r) => {
        if (!fail)
          return void r
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify(chatAnswer("picky")));
        r.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify(failure));
      },
    });
    const error = await ask().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.InternalServerError>).message).toBe(
      `500 The model ${model} failed: boom.`,
    );
    // Asked once: the same request would fail the same way again.
    expect(only.received.filter((received) => received.path === "/v1/chat/completions")).toHaveLength(1);
    const listed = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body);
    expect(listed.data.find((n) => n.name === "picky")!.health.state).toBe("ok");
    fail = false;
    expect((await ask()).choices[0]?.message.content).toBe("from picky");
  });

  it("ends a stream with an error event when its node dies mid-stream, while other requests keep succeeding", async () => {
    const dying = await node("dying", {
      ready: [model],
      handler: (request, response) => {
        response.writeHead(200, { "content-type": "text/event-stream" });
        response.write(
          `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 0, model, choices: [{ index: 0, delta: { content: "partial" }, finish_reason: null }] })}\n\n`,
        );
        setTimeout(() => request.socket.destroy(), 20);
      },
    });
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? "");
    })().catch((error: unknown) => error);
    expect(seen).toEqual(["partial"]);
    expect(String(failure)).toMatch(
      /node serving this request \(dying\) stopped midway: its connection closed \(its process ended, or its machine went away\)/,
    );
    // The Requests page says it broke off, after its beginning went out.
    const logged = (await server.request("GET", "/v0/requests")).body as { data: RequestRecord[] };
    expect(logged.data[0]).toMatchObject({ node: "dying", status: 502, broke_off: true });
    await node("survivor");
    for (let i = 0; i < 3; i++) expect((await ask()).choices[0]?.message.content).toBe("from survivor");
    expect(dying.received.length).toBe(1);
  });
});

describe("a node that stops heartbeating while requests run on it", () => {
  it("sends the requests it has not answered to another node and ends its streams with an error", async () => {
    const hung = await node("hung", {
      ready: [model],
      handler: (_request, response, body) => {
        if (!body?.stream) return; // never answers
        response.writeHead(200, { "content-type": "text/event-stream" });
        response.write(
          `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 0, model, choices: [{ index: 0, delta: { content: "partial" }, finish_reason: null }] })}\n\n`,
        );
      },
    });
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.choices[0]?.delta.content).toBe("partial");
    const waiting = ask();
    await waitFor("the second request to reach the hung node", () => hung.received.length === 2);
    await node("steady");

    hung.stopHeartbeats();
    const failure = await (async () => {
      for (let step = await iterator.next(); !step.done; step = await iterator.next());
    })().catch((error: unknown) => error);
    expect(String(failure)).toMatch(
      /node serving this request \(hung\) stopped midway: it stopped sending heartbeats \(silent for over/,
    );
    expect((await waiting).choices[0]?.message.content).toBe("from steady");
    expect(hung.aborted()).toBe(2);
    const listed = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body).data;
    expect(listed.find((n) => n.name === "hung")).toMatchObject({
      status: "offline",
      health: {
        state: "offline",
        reason: "It stopped sending heartbeats (silent for over 0.5 s).",
        since: expect.any(String),
      },
    });
  });
});

describe("admission", () => {
  it("with capacity S and queue Q, S+Q+1 concurrent requests: exactly one gets 503 with Retry-After", async () => {
    const held: (() => void)[] = [];
    await node("held", {
      ready: [model],
      handler: (_q, r) =>
        held.push(() =>
          r.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(chatAnswer("held"))),
        ),
    });
    // One node with 2 slots (S = 2), queue of 3 (Q = 3): 6 requests at once.
    const requests = Array.from({ length: 6 }, () =>
      server.request("POST", "/v1/chat/completions", {
        body: { model, messages: [{ role: "user", content: "x" }] },
      }),
    );
    await waitFor("the two slots to be taken", () => held.length === 2);
    const refused = await Promise.race(requests);
    expect(refused.status).toBe(503);
    expect(refused.headers["retry-after"]).toMatch(/^[123]$/);
    // Each answer frees a slot for the next queued request.
    for (let answered = 0; answered < 5; answered++) {
      await waitFor("a request at the node", () => held.length > 0);
      held.shift()!();
    }
    const answers = await Promise.all(requests);
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 503]);
    // The three that waited for a slot say how long, which their first byte includes.
    const logged = (await server.request("GET", "/v0/requests")).body as { data: RequestRecord[] };
    const ids = new Set(answers.filter((r) => r.status === 200).map((r) => r.headers["x-request-id"]));
    const served = logged.data.filter((record) => ids.has(record.id));
    expect(served).toHaveLength(5);
    const queued = served.filter((record) => record.queued_ms !== undefined);
    expect(queued).toHaveLength(3);
    for (const record of queued) expect(record.first_byte_ms).toBeGreaterThanOrEqual(record.queued_ms!);
  });
});

describe("a client that disconnects", () => {
  it("aborts its request at the node", async () => {
    const endless = await node("endless", {
      ready: [model],
      handler: (_q, r) => {
        r.writeHead(200, { "content-type": "text/event-stream" });
        const timer = setInterval(() => r.write(`data: {"choices":[]}\n\n`), 10);
        r.on("close", () => clearInterval(timer));
      },
    });
    const controller = new AbortController();
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [], stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await waitFor("the node to see the request aborted", () => endless.aborted() === 1);
  });
});

describe("streaming through the balancer", () => {
  it("passes chunks on as they come, not all at the end", async () => {
    await node("ticker", {
      ready: [model],
      handler: (_q, r) => {
        r.writeHead(200, { "content-type": "text/event-stream" });
        r.write(`data: {"n":1}\n\n`);
        setTimeout(() => r.end(`data: {"n":2}\n\ndata: [DONE]\n\n`), 300);
      },
    });
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [], stream: true }),
    });
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    // The first chunk arrived while the node was still holding the second.
    expect(first).toBe(`data: {"n":1}\n\n`);
    let rest = "";
    for (let part = await reader.read(); !part.done; part = await reader.read())
      rest += new TextDecoder().decode(part.value);
    expect(rest).toBe(`data: {"n":2}\n\ndata: [DONE]\n\n`);
  });
});

describe("draining a node (PUT /v0/nodes/<name>/draining)", () => {
  it("sends it nothing new until undone, says why when it is the only one, and lists it draining", async () => {
    const kept = await node("kept");
    const drained = await node("maintenance");
    const drain = (ref: string, draining: unknown) =>
      server.request("PUT", `/v0/nodes/${encodeURIComponent(ref)}/draining`, { body: { draining } });
    const answer = await drain("maintenance", true);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ name: "maintenance", draining: true });
    const before = drained.received.length;
    for (let i = 0; i < 6; i++) expect((await ask()).choices[0]?.message.content).toBe("from kept");
    expect(drained.received.length).toBe(before);

    // The model ready only there: a 503 at once that says so, not a wait for a node on its way.
    await kept.close();
    await waitFor("kept offline", async () =>
      nodeListSchema
        .parse((await server.request("GET", "/v0/nodes")).body)
        .data.some((entry) => entry.name === "kept" && entry.status === "offline"),
    );
    const started = Date.now();
    const refused = await server.request("POST", "/v1/chat/completions", {
      body: { model, messages: [{ role: "user", content: "x" }] },
    });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(refused.status).toBe(503);
    expect(refused.body.error.message).toMatch(/is ready only on maintenance, which takes no new requests/);

    expect((await drain("maintenance", false)).body.draining).toBeUndefined();
    expect((await ask()).choices[0]?.message.content).toBe("from maintenance");
    expect((await drain("nowhere", true)).status).toBe(404);
    expect((await drain("maintenance", "yes")).status).toBe(400);
  });
});

describe("GET /metrics", () => {
  it("counts requests by model and status, times them, and shows nodes and downloads", async () => {
    await node("metered");
    const downloading = await node("fetching", { ready: [] });
    await downloading.report([
      {
        model: other,
        artifact: "x.gguf",
        state: "downloading",
        bytes_done: 1234,
        bytes_total: 9999,
        bytes_per_second: 1,
      },
    ]);
    const firstTokens = async () =>
      Number(
        /^llmlb_time_to_first_token_seconds_count\{model="acme\/tiny-GGUF"\} (\d+)$/m.exec(
          (await server.request("GET", "/metrics", { anonymous: true })).text,
        )?.[1] ?? 0,
      );
    const timedBefore = await firstTokens();
    for (let i = 0; i < 3; i++) await ask();
    await client.chat.completions
      .create({ model: "acme/does-not-exist", messages: [] })
      .catch(() => undefined);
    // Time to first token is a stream's: a whole answer's first byte is its end.
    expect(await firstTokens()).toBe(timedBefore);
    for (let i = 0; i < 2; i++) {
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: "hi" }],
        stream: true,
      });
      for await (const chunk of stream) void chunk;
    }
    expect(await firstTokens()).toBe(timedBefore + 2);
    // Refused as they are read, before any model is looked up: counted too, under no model.
    for (const route of ["/v1/chat/completions", "/v1/responses"]) {
      const malformed = await server.request("POST", route, {
        rawBody: "{ not json",
        headers: { "content-type": "application/json" },
      });
      expect(malformed.status).toBe(400);
    }
    // Turned away while paused: counted under the model asked for, where it is registered.
    await server.request("PUT", "/v0/serving", { body: { paused: true } });
    try {
      for (const name of [model, "acme/not-registered-while-paused"]) {
        const refused = await server.request("POST", "/v1/chat/completions", {
          body: { model: name, messages: [{ role: "user", content: "hi" }] },
        });
        expect(refused.status).toBe(503);
      }
    } finally {
      await server.request("PUT", "/v0/serving", { body: { paused: false } });
    }
    const response = await server.request("GET", "/metrics", { anonymous: true });
    expect(response.status).toBe(200);
    expect(String(response.headers["content-type"])).toMatch(/^text\/plain/);
    const text = response.text;
    const count = (labels: string) =>
      Number(new RegExp(`^llmlb_requests_total\\{${labels}\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
    expect(count(`model="${model}",route="/v1/chat/completions",status="200"`)).toBeGreaterThanOrEqual(3);
    expect(count(`model="unknown",route="/v1/chat/completions",status="404"`)).toBeGreaterThanOrEqual(1);
    expect(count(`model="unknown",route="/v1/chat/completions",status="400"`)).toBeGreaterThanOrEqual(1);
    expect(count(`model="unknown",route="/v1/responses",status="400"`)).toBeGreaterThanOrEqual(1);
    expect(count(`model="${model}",route="/v1/chat/completions",status="503"`)).toBeGreaterThanOrEqual(1);
    expect(count(`model="unknown",route="/v1/chat/completions",status="503"`)).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain("acme/does-not-exist");
    expect(text).not.toContain("not-registered-while-paused");
    expect(text).toMatch(/^llmlb_request_duration_seconds_bucket\{/m);
    expect(text).toMatch(/^llmlb_time_to_first_token_seconds_count\{model="acme\/tiny-GGUF"\} \d+$/m);
    expect(text).toMatch(/^llmlb_nodes\{status="online"\} [1-9]/m);
    expect(text).toContain(`llmlb_download_bytes{node="fetching",model="${other}"} 1234`);
    // How the requests spread over the nodes, as a load balancer's stats say.
    expect(text).toMatch(/^llmlb_node_requests_total\{node="metered",outcome="answered"\} [3-9]$/m);
    expect(text).toMatch(/^llmlb_node_requests_in_flight\{node="metered"\} 0$/m);
  });
});

describe("a load or unload asked of a worker that cannot do it", () => {
  it("says what the worker said (an llmlb older than this one answers 404), not that it was unreachable", async () => {
    await node("older", {
      ready: [model],
      handler: (request, response) => {
        if (request.url === "/v0/load" || request.url === "/v0/unload")
          return void response.writeHead(404, { "content-type": "application/json" }).end(
            JSON.stringify({
              message: "Route POST:/v0/load not found",
              error: "Not Found",
              statusCode: 404,
            }),
          );
        response
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify(chatAnswer("older")));
      },
    });
    await node("refusing", {
      ready: [model],
      handler: (_request, response) =>
        void response.writeHead(503, { "content-type": "application/json" }).end(
          JSON.stringify({
            error: {
              message: "The node is shutting down.",
              type: "server_error",
              code: "inference.unavailable",
            },
          }),
        ),
    });
    const load = await server.request("POST", "/v0/models/load", { body: { model } });
    expect(load.status).toBe(200);
    const outcomes = (load.body as { nodes: { node_name: string; outcome: string; message?: string }[] })
      .nodes;
    expect(outcomes.sort((a, b) => a.node_name.localeCompare(b.node_name))).toEqual([
      {
        node_name: "older",
        outcome: "failed",
        message: "It runs an llmlb older than this one, which cannot do this.",
      },
      { node_name: "refusing", outcome: "failed", message: "The node is shutting down." },
    ]);
    const unload = await server.request("POST", "/v0/models/unload", { body: { model, node: "older" } });
    expect((unload.body as { nodes: unknown[] }).nodes).toEqual([
      {
        node_name: "older",
        outcome: "failed",
        message: "It runs an llmlb older than this one, which cannot do this.",
      },
    ]);
  });
});

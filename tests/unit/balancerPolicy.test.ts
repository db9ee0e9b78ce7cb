import type { IncomingHttpHeaders } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { Model, NodeList } from "../../src-main/contract";
import type { AnswerSink, InferenceRequest } from "../../src-main/core/balancer/answerSink";
import { createBalancer, type Balancer, type BalancerOptions } from "../../src-main/core/balancer/balancer";
import { modelsHeld, pickNode } from "../../src-main/core/balancer/routingPolicy";
import type { AnswerObserver, NodeRequest, ProxyOutcome } from "../../src-main/core/balancer/proxyToNode";
import { createNodeHealth, type NodeHealth } from "../../src-main/core/nodes/nodeHealth";
import type { NodeRoute } from "../../src-main/core/nodes/nodeService";
import { AppError, isAppError } from "../../src-main/shared/errors";

// The balancer's policy (routing, admission, retry, loop detection) with no server and no sockets: a
// stand-in proxy answers for each node as the test says, and a stand-in sink plays the client.

const model = "org/model";
const instanceId = "this-llmlb";

/** How a node answers one try. */
type NodeAnswer = (request: NodeRequest, sink: AnswerSink, observer: AnswerObserver) => Promise<ProxyOutcome>;

/** A whole JSON answer, as a node sends one. */
const answers =
  (status = 200, extra: IncomingHttpHeaders = {}): NodeAnswer =>
  async (_request, sink, observer) => {
    const headers: IncomingHttpHeaders = { "content-type": "application/json", ...extra };
    const body = Buffer.from('{"usage":{"completion_tokens":3}}');
    observer.onHead(status, headers);
    sink.head(status, headers);
    observer.onChunk(body);
    sink.write(body);
    sink.end();
    return { type: "answered", status };
  };
/**
 * Node a answers `refusal` to /v1/messages, which b then serves; a is not down for it: the next
 * requests (another route) still take turns between them.
 */
async function lacksRouteNotDown(setup: Setup, refusal: NodeAnswer): Promise<Setup> {
  const { send, tries, answer } = setup;
  answer.a = refusal;
  expect((await send({ path: "/v1/messages" })).status).toBe(200);
  expect(tries).toEqual(["a", "b"]);
  answer.a = answers();
  await send();
  await send();
  expect(tries.slice(2).sort()).toEqual(["a", "b"]);
  return setup;
}

const refuses =
  (status?: number, options: { missingRoute?: true } = {}): NodeAnswer =>
  async () => ({
    type: "unavailable",
    reason: status ? `answered ${status}` : "unreachable",
    status,
    ...options,
  });
/** Sends its head, then fails. */
const diesMidStream: NodeAnswer = async (_request, sink, observer) => {
  const headers = { "content-type": "text/event-stream" };
  observer.onHead(200, headers);
  sink.head(200, headers);
  return { type: "cut", cause: new Error("socket hang up") };
};

/** An answer that waits for `release()`. */
function held(): { answer: NodeAnswer; release(): void; started: Promise<void> } {
  let release!: () => void;
  let started!: () => void;
  const go = new Promise<void>((resolve) => (release = resolve));
  const began = new Promise<void>((resolve) => (started = resolve));
  return {
    answer: async (request, sink, observer) => {
      started();
      await go;
      return answers()(request, sink, observer);
    },
    release,
    started: began,
  };
}

class TestSink implements AnswerSink {
  status: number | undefined;
  ended = false;
  cutBy: { code: string; streaming: boolean } | undefined;
  gone = false;
  private readonly goneListeners = new Set<() => void>();
  onGone(listener: () => void) {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }
  leave() {
    this.gone = true;
    for (const listener of [...this.goneListeners]) listener();
  }
  head(status: number) {
    this.status = status;
  }
  write() {
    return true;
  }
  onDrain() {}
  taken() {
    return 0;
  }
  abandon() {
    this.leave();
  }
  end() {
    this.ended = true;
  }
  cut(error: AppError, streaming: boolean) {
    this.cutBy = { code: error.code, streaming };
  }
}

interface Setup {
  balancer: Balancer;
  /** The nodes' health the balancer reports to. */
  health: NodeHealth;
  /** The node each try went to, in order. */
  tries: string[];
  /** How each node answers from now on. */
  answer: Record<string, NodeAnswer>;
  /** Each node's route for the model every test routes, as a worker's reports set it: changed in place. */
  routes: NodeRoute[];
  /** A request for `model` (default: the model every test routes). */
  send(options?: Partial<InferenceRequest>, sink?: TestSink, model?: string): Promise<TestSink>;
}

const log = { info() {}, warn() {}, debug() {}, error() {} } as unknown as BalancerOptions["log"];
let balancer: Balancer | undefined;
let health: NodeHealth | undefined;
afterEach(async () => {
  await balancer?.dispose();
  health?.dispose();
  health = undefined;
  balancer = undefined;
});

/** A second model, which the workers that report a limit (`maxLoaded`) have too. */
const otherModel = "org/other-model";

/**
 * Stand-in nodes: an endpoint or a worker; `slots` once it reported the model loaded; `holds` and
 * `maxLoaded` as a worker reports what it holds and the most it may.
 */
type NodeSpec = {
  id: string;
  kind?: "worker" | "endpoint";
  slots?: number;
  holds?: string[];
  maxLoaded?: number;
};

function setup(nodes: NodeSpec[], options: Partial<BalancerOptions> = {}): Setup {
  const routeOf = ({ id, kind, slots, holds, maxLoaded }: NodeSpec, name: string): NodeRoute => ({
    id,
    name: `${id}-name`,
    url: `http://${id}.test`,
    kind,
    ...(holds?.includes(name) ? { slots: 4 } : slots !== undefined ? { slots } : {}),
    ...(maxLoaded !== undefined ? { holds: (holds ?? []).map((held) => ({ model: held })), maxLoaded } : {}),
  });
  const routes = nodes.map((node) => routeOf(node, model));
  const otherRoutes = nodes
    .filter((node) => node.maxLoaded !== undefined)
    .map((node) => routeOf(node, otherModel));
  const tries: string[] = [];
  const answer: Record<string, NodeAnswer> = {};
  for (const { id } of nodes) answer[id] = answers();
  const registered = { name: model, nodes: [] } as unknown as Model;
  const clock = options.clock ?? { now: () => Date.now() };
  // Checks of failing nodes wait longer than any test runs: the stand-in nodes have no server.
  health = createNodeHealth({ clock, log, probe: { intervalMs: 60_000 } });
  balancer = createBalancer({
    nodes: {
      routesFor: (name) => (name === model ? routes : name === otherModel ? otherRoutes : []),
      list: () =>
        ({ data: nodes.map(({ id }) => ({ id, name: `${id}-name`, status: "online" })) }) as NodeList,
    },
    models: {
      resolveName: (name) => name,
      get: (name) => {
        if (name !== model && name !== otherModel)
          throw new AppError("registry.not_found", `No model ${name}.`);
        return registered;
      },
      didYouMean: () => "",
    },
    log,
    clock,
    health,
    instanceId,
    nodeWaitMs: 0,
    proxy: (_agent, request, sink, observer) => {
      const id = new URL(request.origin).hostname.replace(/\.test$/, "");
      tries.push(id);
      return answer[id]!(request, sink, observer);
    },
    ...options,
  });
  const current = balancer;
  return {
    balancer: current,
    health,
    tries,
    answer,
    routes,
    async send(request = {}, sink = new TestSink(), name = model) {
      const json = { model: name, messages: [{ role: "user", content: "Hi" }] };
      await current.forward(
        { path: "/v1/chat/completions", body: { raw: Buffer.from(JSON.stringify(json)), json }, ...request },
        sink,
      );
      return sink;
    },
  };
}

/**
 * A request node `id` holds until `done()` (for `name`, default the model every test routes); resolves
 * once the node has it. It answers at once after.
 */
async function occupy(s: Setup, id: string, name = model): Promise<{ done(): Promise<unknown> }> {
  const slow = held();
  s.answer[id] = slow.answer;
  const request = s.send({}, new TestSink(), name);
  await slow.started;
  s.answer[id] = answers();
  return {
    done() {
      slow.release();
      return request;
    },
  };
}

async function errorOf(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isAppError(error)) throw new Error(`expected an AppError, got ${String(error)}`);
  return error;
}

describe("routing", () => {
  it("takes turns among nodes with nothing outstanding", async () => {
    // A clock that stands still measures no speed: on a busy machine one node could seem the faster.
    const { send, tries } = setup([{ id: "a" }, { id: "b" }], { clock: { now: () => 1_000 } });
    for (let i = 0; i < 4; i++) expect((await send()).status).toBe(200);
    expect(tries).toEqual(["a", "b", "a", "b"]);
  });

  it("sends a request to the node with fewer requests outstanding", async () => {
    const nodes = setup([{ id: "a" }, { id: "b" }]);
    const busy = await occupy(nodes, "a");
    await nodes.send();
    await nodes.send();
    expect(nodes.tries).toEqual(["a", "b", "b"]);
    await busy.done();
  });

  it("sends a node no more than its slots while another has room: an endpoint's parallel holds beside a bigger node", async () => {
    const nodes = setup([
      { id: "small", kind: "endpoint", slots: 2 },
      { id: "big", slots: 4 },
    ]);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const hold: NodeAnswer = async (request, sink, observer) => {
      await gate;
      return answers()(request, sink, observer);
    };
    nodes.answer.small = hold;
    nodes.answer.big = hold;
    const sent = Array.from({ length: 6 }, () => nodes.send());
    while (nodes.tries.length < 6) await new Promise((resolve) => setImmediate(resolve));
    expect(nodes.tries.filter((id) => id === "small")).toHaveLength(2);
    expect(nodes.tries.filter((id) => id === "big")).toHaveLength(4);
    release();
    expect((await Promise.all(sent)).map((sink) => sink.status)).toEqual(Array(6).fill(200));
  });
});

/**
 * The balancer on a clock that moves only as the test says: `takes(ms)` answers after that long of it
 * (so the node is measured at that speed), `elapse(ms)` lets time pass between requests.
 */
function timedSetup(nodes: Parameters<typeof setup>[0]) {
  let now = 0;
  const ready = setup(nodes, { clock: { now: () => now } });
  const takes =
    (ms: number): NodeAnswer =>
    async (request, sink, observer) => {
      now += ms;
      return answers()(request, sink, observer);
    };
  return { ...ready, takes, now: () => now, elapse: (ms: number) => void (now += ms) };
}

/** Nodes whose every answer takes 10 ms: each is measured, equally fast. */
function measuredSetup(nodes: Parameters<typeof setup>[0]) {
  const ready = timedSetup(nodes);
  for (const { id } of nodes) ready.answer[id] = ready.takes(10);
  return ready;
}

describe("a free slot, for the model asked", () => {
  it("is a worker's sequence for that model: its requests for others do not fill it", () => {
    // busy: all 8 of its sequences for this model taken; mixed: 4 of 8, with 8 more for another model.
    const picked = pickNode(
      [
        { id: "busy", outstanding: 8, outstandingForModel: 8, slots: 8, tokensPerSecond: undefined },
        { id: "mixed", outstanding: 12, outstandingForModel: 4, slots: 8, tokensPerSecond: undefined },
      ],
      0,
    );
    expect(picked?.id).toBe("mixed");
  });

  it("is an endpoint's parallel, shared by every model it serves", () => {
    const picked = pickNode(
      [
        { id: "endpoint", outstanding: 4, slots: 4, tokensPerSecond: undefined },
        { id: "worker", outstanding: 6, outstandingForModel: 2, slots: 4, tokensPerSecond: undefined },
      ],
      0,
    );
    expect(picked?.id).toBe("worker");
  });
});

describe("what a worker holds, between its reports", () => {
  it("counts models that share one load once toward its limit, and puts what was sent since first", () => {
    const reported = [
      { model: "org/a" },
      { model: "org/a-alias", sharesLoadWith: "org/a" },
      { model: "org/b" },
    ];
    expect(modelsHeld(reported, [], 2)).toEqual({ models: ["org/a", "org/a-alias", "org/b"], loads: 2 });
    expect(modelsHeld(reported, [], 1)).toEqual({ models: ["org/a", "org/a-alias"], loads: 1 });
    // Sent since: loaded in place of the least recently used.
    expect(modelsHeld(reported, ["org/c"], 2)).toEqual({
      models: ["org/c", "org/a", "org/a-alias"],
      loads: 2,
    });
  });
});

describe("routing by speed", () => {
  it("among nodes with nothing outstanding, sends requests to the one measured faster for the model", async () => {
    const { send, tries, answer, takes } = timedSetup([{ id: "slow" }, { id: "fast" }]);
    answer.slow = takes(1000);
    answer.fast = takes(10);
    // One each to measure them, then all to the faster one.
    for (let i = 0; i < 12; i++) await send();
    expect(tries.slice(0, 2).sort()).toEqual(["fast", "slow"]);
    expect(tries.slice(2)).toEqual(Array(10).fill("fast"));
  });

  it("measures a stream by its pace once it flows, not its wait for a cold start", async () => {
    let now = 0;
    const { send, tries, answer } = setup([{ id: "cold" }, { id: "warm" }], { clock: { now: () => now } });
    /** A stream of 20 events 10 ms apart, after `waitMs` to load the model and read the prompt. */
    const streams =
      (waitMs: number): NodeAnswer =>
      async (_request, sink, observer) => {
        const headers = { "content-type": "text/event-stream" };
        now += waitMs;
        observer.onHead(200, headers);
        sink.head(200, headers);
        for (let i = 0; i < 20; i++) {
          now += 10;
          observer.onChunk(Buffer.from(`data: {"n":${i}}\n\n`));
        }
        sink.end();
        return { type: "answered", status: 200 };
      };
    answer.cold = streams(5_000);
    answer.warm = streams(0);
    for (let i = 0; i < 2; i++) await send();
    answer.cold = streams(0);
    for (let i = 0; i < 10; i++) await send();
    // Equally fast once measured: they take turns.
    expect(tries.slice(2).filter((id) => id === "cold")).toHaveLength(5);
  });

  it("takes out of a whole answer's time the wait for its model the worker says, a load not being its speed", async () => {
    const { send, tries, answer, takes, elapse } = timedSetup([{ id: "a" }, { id: "b" }]);
    // a loaded the model first: 2 s, 1,990 ms of them the load, as it says; b had it loaded.
    answer.a = async (request, sink, observer) => {
      elapse(2_000);
      return answers(200, { "x-llmlb-model-wait-ms": "1990" })(request, sink, observer);
    };
    answer.b = takes(10);
    await send();
    await send();
    answer.a = takes(10);
    for (let i = 0; i < 6; i++) await send();
    // As fast as each other: they take turns, a not passed over as slow.
    expect(tries.slice(2).filter((id) => id === "a")).toHaveLength(3);
  });

  it("measures again a node it measured slow once, when that is no longer recent", async () => {
    const { send, tries, answer, takes, now, elapse } = timedSetup([{ id: "a" }, { id: "b" }]);
    // a's first answer came after its model loaded: slow.
    answer.a = takes(2_000);
    answer.b = takes(10);
    await send();
    await send();
    answer.a = takes(10);
    // Requests one after another, a second apart: b alone while a's slow speed is recent.
    const until = async (ms: number) => {
      while (now() < ms) {
        await send();
        elapse(1_000);
      }
    };
    await until(29_000);
    expect(tries.slice(2).every((id) => id === "b")).toBe(true);
    const before = tries.length;
    await until(60_000);
    // Then a is asked again, measured as fast, and they take turns.
    const later = tries.slice(before);
    expect(later.filter((id) => id === "a").length).toBeGreaterThan(later.length / 3);
  });

  it("sends requests one after another to a node that has the model loaded, once it has measured both", async () => {
    const { send, tries } = measuredSetup([{ id: "cold" }, { id: "warm", slots: 4 }]);
    for (let i = 0; i < 8; i++) await send();
    // Each once, to measure it (an unmeasured node may be the faster one); then the loaded one.
    expect([...tries.slice(0, 2)].sort()).toEqual(["cold", "warm"]);
    expect(tries.slice(2)).toEqual(Array(6).fill("warm"));
  });

  it("measures a faster node that has not loaded the model, rather than keep to a slow one that has", async () => {
    const { send, tries, answer, takes } = timedSetup([{ id: "gpu" }, { id: "cpu", slots: 4 }]);
    answer.cpu = takes(1_000);
    answer.gpu = takes(10);
    for (let i = 0; i < 8; i++) await send();
    expect(tries.slice(2)).toEqual(Array(6).fill("gpu"));
  });

  it("still gives a node that would load the model a request the loaded one has no turn for", async () => {
    const { send, tries, answer } = measuredSetup([{ id: "cold" }, { id: "warm", slots: 4 }]);
    await send();
    await send();
    const busy = held();
    answer.warm = busy.answer;
    const first = send();
    await busy.started;
    // The loaded node has one running: the next goes where nothing runs, and loads it there.
    await send();
    expect(tries.slice(2)).toEqual(["warm", "cold"]);
    busy.release();
    await first;
  });

  it("keeps a model on the node that has it loaded rather than unload another model in use lately on an idle node", async () => {
    // Each node may hold one model: "swap" holds another, and would unload it to load this one.
    const nodes = measuredSetup([
      { id: "warm", slots: 4 },
      { id: "swap", holds: [otherModel], maxLoaded: 1 },
    ]);
    // Its own model is in use there lately.
    await nodes.send({}, new TestSink(), otherModel);
    const busy = await occupy(nodes, "warm");
    await nodes.send();
    await nodes.send();
    expect(nodes.tries).toEqual(["swap", "warm", "warm", "warm"]);
    await busy.done();
  });

  it("sends what the loaded node has no slot for to a node that unloads an idle model for it", async () => {
    const nodes = setup([
      { id: "warm", slots: 1 },
      { id: "swap", holds: [otherModel], maxLoaded: 1 },
    ]);
    const busy = await occupy(nodes, "warm");
    await nodes.send();
    expect(nodes.tries).toEqual(["warm", "swap"]);
    await busy.done();
  });

  it("queues at the full node that has the model loaded rather than unload a model still answering elsewhere", async () => {
    const nodes = setup([
      { id: "warm", slots: 1 },
      { id: "swap", holds: [otherModel], maxLoaded: 1 },
    ]);
    const other = await occupy(nodes, "swap", otherModel);
    const busy = await occupy(nodes, "warm");
    const queued = nodes.send();
    while (nodes.tries.length < 3) await new Promise((resolve) => setImmediate(resolve));
    expect(nodes.tries).toEqual(["swap", "warm", "warm"]);
    await Promise.all([busy.done(), other.done()]);
    expect((await queued).status).toBe(200);
  });

  it("among workers that would each unload a model in use lately, loads it on one and keeps it there", async () => {
    const { send, tries } = setup(
      [
        { id: "a", holds: [otherModel], maxLoaded: 1 },
        { id: "b", holds: [otherModel], maxLoaded: 1 },
      ],
      { clock: { now: () => 1_000 } },
    );
    await send({}, new TestSink(), otherModel);
    await send({}, new TestSink(), otherModel);
    for (let i = 0; i < 4; i++) expect((await send()).status).toBe(200);
    expect(tries).toEqual(["a", "b", "a", "a", "a", "a"]);
  });

  it("unloads for a model in use one idle there for a while: the model in use spreads again", async () => {
    // a (an older worker) has the model loaded; b may hold one model, and holds the other.
    const nodes = timedSetup([
      { id: "a", slots: 4 },
      { id: "b", holds: [otherModel], maxLoaded: 1 },
    ]);
    const busy = await occupy(nodes, "a");
    await nodes.send({}, new TestSink(), otherModel);
    // The other model's one request was over half a minute ago: b unloads it for the model in use.
    nodes.elapse(31_000);
    await nodes.send();
    expect(nodes.tries).toEqual(["a", "b", "b"]);
    await busy.done();
  });

  it("takes a worker's report over what was sent to it before that report", async () => {
    const nodes = timedSetup([
      { id: "old", slots: 4 },
      { id: "b", maxLoaded: 1 },
    ]);
    // b takes the other model (it alone has it), then reports holding nothing: it was unloaded.
    await nodes.send({}, new TestSink(), otherModel);
    nodes.elapse(100);
    nodes.routes[1]!.holds = [];
    nodes.routes[1]!.reportedAt = nodes.now();
    // b, empty, takes the model beside old's running request, rather than be passed over as full.
    const busy = await occupy(nodes, "old");
    await nodes.send();
    expect(nodes.tries).toEqual(["b", "old", "b"]);
    await busy.done();
  });

  it("counts a model it sent a worker lately as held there, before the worker reports it", async () => {
    // Two workers that may hold one model each, holding none at their last report.
    const nodes = setup(
      [
        { id: "a", maxLoaded: 1 },
        { id: "b", maxLoaded: 1 },
      ],
      { clock: { now: () => 1_000 } },
    );
    const busy = await occupy(nodes, "a");
    // a loads the model: the other goes to b rather than wait for a's request to unload it.
    await nodes.send({}, new TestSink(), otherModel);
    // a holds the model: the next goes there, rather than unload the other model at b.
    await nodes.send();
    expect(nodes.tries).toEqual(["a", "b", "a"]);
    await busy.done();
  });

  it("counts a worker's model unloaded once it was sent another in its place", async () => {
    // a may hold one model and holds this one; b (an older worker, no limit said) holds it too.
    const nodes = measuredSetup([
      { id: "a", holds: [model], maxLoaded: 1 },
      { id: "b", slots: 4 },
    ]);
    await nodes.send();
    await nodes.send();
    // a alone has the other model: it unloads this one for it.
    await nodes.send({}, new TestSink(), otherModel);
    // This one now goes to b, which holds it, rather than turn by turn to a, which would load it again.
    await nodes.send();
    await nodes.send();
    expect(nodes.tries).toEqual(["a", "b", "a", "b", "b"]);
  });

  it("counts a model with a request at a worker as held there, though its report since does not name it (it waits for room)", async () => {
    // old, an older worker, is slow; b, which may hold one model, is fast, and holds the model.
    const nodes = timedSetup([
      { id: "old", slots: 4 },
      { id: "b", holds: [model], maxLoaded: 1 },
    ]);
    nodes.answer.old = nodes.takes(100);
    nodes.answer.b = nodes.takes(1);
    await nodes.send();
    await nodes.send();
    // The other model goes to b and waits there for room; b's report since names only the model.
    const other = await occupy(nodes, "b", otherModel);
    nodes.elapse(10);
    nodes.routes[1]!.reportedAt = nodes.now();
    const busy = await occupy(nodes, "old");
    // Not to fast b: it holds the other model's request, and would unload it for this one.
    nodes.answer.b = nodes.takes(1);
    nodes.answer.old = nodes.takes(100);
    await nodes.send();
    expect(nodes.tries.slice(2)).toEqual(["b", "old", "old"]);
    await Promise.all([other.done(), busy.done()]);
  });

  it("spreads concurrent requests over equal nodes evenly", async () => {
    const { send, tries } = setup([{ id: "a" }, { id: "b" }], { slotsPerNode: 2 });
    for (let batch = 0; batch < 25; batch++) await Promise.all(Array.from({ length: 4 }, () => send()));
    expect(tries.filter((id) => id === "a")).toHaveLength(50);
    expect(tries.filter((id) => id === "b")).toHaveLength(50);
  });
});

describe("retries", () => {
  it("sends a request a node failed before answering to another node, and passes the failed one over for a while", async () => {
    const { send, tries, answer } = setup([{ id: "a" }, { id: "b" }]);
    answer.a = refuses();
    expect((await send()).status).toBe(200);
    await send();
    await send();
    expect(tries).toEqual(["a", "b", "b", "b"]);
  });

  it("tells the nodes' health of a node that failed, and of its first answer after", async () => {
    let now = 0;
    const { send, tries, answer, health } = setup([{ id: "a" }, { id: "b" }], { clock: { now: () => now } });
    answer.a = refuses();
    await send();
    expect(health.of({ id: "a", status: "online" })).toEqual({
      state: "failing",
      reason: `A request for ${model} failed before any answer (unreachable).`,
      since: new Date(0).toISOString(),
    });
    expect(health.of({ id: "b", status: "online" }).state).toBe("ok");

    // Past the time it is passed over for, it is tried again, and answers.
    answer.a = answers();
    now += 60_000;
    await send();
    await send();
    expect(tries.slice(2)).toContain("a");
    expect(health.of({ id: "a", status: "online" })).toEqual({
      state: "ok",
      reason: null,
      since: new Date(60_000).toISOString(),
    });
  });

  it("never replays a request whose node failed mid-answer: the client gets the error tail", async () => {
    const { send, tries, answer } = setup([{ id: "a" }, { id: "b" }]);
    answer.a = diesMidStream;
    const sink = await send();
    expect(tries).toEqual(["a"]);
    expect(sink.status).toBe(200);
    expect(sink.cutBy).toEqual({ code: "node.crashed", streaming: true });
  });

  it("answers 502 when every node failed before answering", async () => {
    const { send, tries, answer } = setup([{ id: "a" }, { id: "b" }]);
    answer.a = refuses(502);
    answer.b = refuses();
    const error = await errorOf(send());
    expect(error.code).toBe("balancer.no_node");
    expect(error.retryAfter).toBe(2);
    expect(tries).toEqual(["a", "b"]);
  });

  it("takes an endpoint's 404 as a route it lacks, not as a node down", async () => {
    await lacksRouteNotDown(
      setup([
        { id: "a", kind: "endpoint" },
        { id: "b", kind: "endpoint" },
      ]),
      refuses(404),
    );
  });

  it("takes a worker's 404 that says the route is missing as a route its older llmlb lacks, and another as the model gone", async () => {
    const { send, tries, answer } = await lacksRouteNotDown(
      setup([{ id: "a" }, { id: "b" }]),
      refuses(404, { missingRoute: true }),
    );

    // The model no longer there: a is passed over until it answers again.
    answer.a = refuses(404);
    tries.length = 0;
    for (let i = 0; i < 4; i++) await send();
    expect(tries.filter((id) => id === "a")).toHaveLength(1);
  });

  it("answers a 404 naming the route when every endpoint with the model lacks it", async () => {
    const { send, answer } = setup([
      { id: "a", kind: "endpoint" },
      { id: "b", kind: "endpoint" },
    ]);
    answer.a = refuses(404);
    answer.b = refuses(404);
    const error = await errorOf(send({ path: "/v1/messages" }));
    expect(error.code).toBe("request.not_found");
    expect(error.message).toBe(
      `POST /v1/messages is not served for model ${model} here: a-name, b-name answered 404 for it (an OpenAI-compatible server, or a worker of an older llmlb, may lack this route; its other routes are unaffected).`,
    );
  });
});

describe("admission", () => {
  it("queues what is beyond the nodes' slots, and runs it when one frees", async () => {
    const node = setup([{ id: "a" }], { slotsPerNode: 1 });
    const busy = await occupy(node, "a");
    const second = node.send();
    await new Promise((resolve) => setImmediate(resolve));
    expect(node.tries).toEqual(["a"]);
    await busy.done();
    expect((await second).status).toBe(200);
    expect(node.tries).toEqual(["a", "a"]);
  });

  it("never sends a request whose client left while it waited", async () => {
    const node = setup([{ id: "a" }], { slotsPerNode: 1 });
    const busy = await occupy(node, "a");
    const sink = new TestSink();
    const second = node.send({}, sink);
    sink.leave();
    await second;
    await busy.done();
    expect(node.tries).toEqual(["a"]);
    expect(sink.status).toBeUndefined();
  });
});

describe("refusals before any node", () => {
  it("refuses a request that already went through this llmlb (endpoints that list each other)", async () => {
    const { send, tries } = setup([{ id: "a" }]);
    const error = await errorOf(send({ via: `other-llmlb, ${instanceId}` }));
    expect(error.code).toBe("balancer.loop");
    expect(tries).toEqual([]);
  });

  it("refuses everything while paused, and serves again once resumed", async () => {
    const { send, tries, balancer } = setup([{ id: "a" }]);
    balancer.setPaused(true);
    expect((await errorOf(send())).code).toBe("serving.paused");
    balancer.setPaused(false);
    await send();
    expect(tries).toEqual(["a"]);
  });

  it("says an unknown model does not exist", async () => {
    const { balancer, tries } = setup([{ id: "a" }]);
    const json = { model: "org/other" };
    const error = await errorOf(
      balancer.forward(
        { path: "/v1/chat/completions", body: { raw: Buffer.from(JSON.stringify(json)), json } },
        new TestSink(),
      ),
    );
    expect(error.code).toBe("model.not_found");
    expect(error.message).toMatch(/^The model `org\/other` does not exist\./);
    expect(tries).toEqual([]);
  });
});

describe("why a model no node can take now is unavailable", () => {
  it("names the pin of a model pinned to an offline node before the endpoints that are offline too", async () => {
    const pinned = {
      name: model,
      nodes: [],
      settings: { nodes: ["old-machine-cpu0"] },
    } as unknown as Model;
    const { send } = setup([], {
      nodes: {
        routesFor: () => [],
        list: () =>
          ({
            data: [
              { id: "n1", name: "old-machine-cpu0", status: "offline", kind: "worker" },
              { id: "n2", name: "other", status: "offline", kind: "endpoint" },
              { id: "n3", name: "laptop-cpu0", status: "online", kind: "worker" },
            ],
          }) as unknown as NodeList,
      },
      workersExpected: () => true,
      models: { resolveName: (name) => name, get: () => pinned, didYouMean: () => "" },
      unavailable: () =>
        new AppError("model.not_ready", `Model ${model} is served only by an endpoint that is offline.`),
    });
    const error = await send().catch((caught: unknown) => caught);
    expect(isAppError(error) && error.message).toBe(
      `Model ${model} is pinned to old-machine-cpu0, and it is not online. Start it again, or let other nodes serve it (llmlb model set ${model} --nodes any).`,
    );
  });
});

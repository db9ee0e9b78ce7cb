import crypto from "node:crypto";
import { Agent } from "undici";
import { clientPathHeader, modelWaitHeader, viaHeader } from "../../contract";
import type { Clock } from "../../shared/clock";
import { cutText } from "../../shared/cutText";
import { AppError, isAppError, toHttpError } from "../../shared/errors";
import type { Logger } from "../../shared/logger";
import type { BalancerMetrics } from "../metrics";
import { toAppError } from "../../shared/httpErrors";
import type { ModelService } from "../models/modelService";
import type { NodeHealth } from "../nodes/nodeHealth";
import type { NodeRoute, NodeService } from "../nodes/nodeService";
import { createAdmission, type AdmissionOptions } from "./admission";
import type { AnswerSink, InferenceRequest } from "./answerSink";
import type { RequestRecord } from "../../contract";
import type { RequestLog } from "../requestLog";
import { takesLong, unavailableError } from "./explainUnavailable";
import { createNodeLoad } from "./nodeLoad";
import { inUseForMs, modelsHeld, pickNode, unreportedForMs } from "./routingPolicy";
import { proxyToNode, type PendingTry } from "./proxyToNode";
import { createTokenCounter, type TokenCounter } from "./tokenCounter";
import {
  endpointErrorOfAnswer,
  endpointRefusal,
  errorBytesRead,
  errorOfAnswer,
  recordedError,
} from "./answerError";

/** What became of one request, for its line in the log. */
interface RequestTrace {
  /** The node tried last: the one that answered, when one did. */
  node?: string;
  tries: number;
  /** From the request's arrival to the answer's head. */
  firstByteMs?: number;
  /** How long it waited in the admission queue, where it waited. */
  queuedMs?: number;
  /** Why each node tried before the last failed (`name: reason`). */
  failures?: string[];
  /** Tries at workers that could not be reached at all (one whose process died, which restarts). */
  unreachable?: number;
  streamed?: boolean;
  /** A whole answer's `usage.completion_tokens`; a stream's events after its first. */
  tokens?: number;
  /** The tokens the answer said it generated (its usage), a stream's too. */
  reported?: number;
  /** Why it failed, as the client was told. */
  error?: RequestRecord["error"];
  /**
   * What the log keeps of the error thrown, where it is less than the client was told: an endpoint's
   * own words may quote the request, and the log keeps no prompt text.
   */
  errorKept?: RequestRecord["error"];
  /** The answer broke off after its head went to the client. */
  brokeOff?: boolean;
}

export interface BalancerOptions {
  nodes: Pick<NodeService, "routesFor" | "list">;
  models: Pick<ModelService, "resolveName" | "get" | "didYouMean"> &
    Partial<Pick<ModelService, "parallelOf">>;
  log: Logger;
  clock: Clock;
  admission?: AdmissionOptions;
  /** Requests one node runs at once when its route does not say (a worker until it reports its sequences). Default: 4. */
  slotsPerNode?: number;
  /** Where request counts, latencies and speeds go. Default: nowhere. */
  metrics?: BalancerMetrics;
  /**
   * Why a model no node can take now is unavailable, when something outside the registry knows it
   * (endpoints that list it are offline). Default: an unregistered model is unknown (404).
   */
  unavailable?: (model: string) => AppError | undefined;
  /** Local workers are starting or running, so a node will come. Default: none will. */
  workersExpected?: () => boolean;
  /**
   * The names of the workers this llmlb runs, running or started again after they ended: one not
   * online comes back by itself. Default: none.
   */
  localWorkers?: () => string[];
  /** Where each request answered is kept for the dashboard (see `createRequestLog`). Default: nowhere. */
  requests?: Pick<RequestLog, "record">;
  /** This llmlb's instance id, added to `viaHeader` of what it forwards. Default: a random one. */
  instanceId?: string;
  /**
   * How long a request waits for a node to take its model up when one is on its way (a worker
   * starting or restarting, a model being verified), instead of failing at once. Not for a model
   * still downloading: that answers at once, with its progress. Default: 30 s.
   */
  nodeWaitMs?: number;
  /** The nodes' health: told of the requests that fail and are answered; asked whom to pass over. */
  health: NodeHealth;
  /**
   * How long a try at an endpoint may go without a byte (the answer's head, then each next chunk) before
   * it is given up as failed. Endpoints have no heartbeat: a server that holds a request without a word
   * while its model list still answers is found only this way (one that stops answering altogether is
   * found offline by its health check sooner, which calls off its requests). Workers are watched by
   * their heartbeats and have no such limit: a first load may compile kernels for minutes. Default:
   * 10 minutes, the OpenAI SDKs' own request timeout; 0: no limit.
   */
  endpointIdleTimeoutMs?: number;
  /**
   * How long a client may read nothing of its answer (its connection full) before it is let go of,
   * as nginx's send_timeout: a stopped reader would hold a slot for ever. Default: 60 s.
   */
  clientStallMs?: number;
  /** How one try reaches a node. Default: over HTTP (`proxyToNode`); the policy's tests stand in for it. */
  proxy?: typeof proxyToNode;
}

export interface Balancer {
  /**
   * Sends an inference request on to a node that has its model ready: routing, admission, retries
   * on another node, loop detection. The answer streams into the sink; an error before any node
   * answered is thrown, for the caller to answer as it answers errors.
   */
  forward(request: InferenceRequest, sink: AnswerSink): Promise<void>;
  /**
   * Requests running (sent to a node, or about to be) and waiting: for a slot, or for a node to take
   * the model up (one whose node went away under it waits too, not running anywhere).
   */
  queueDepth(model: string): { running: number; waiting: number };
  queueDepths(): { model: string; running: number; waiting: number }[];
  /** Generation speeds measured recently (in the last 30 s), by node id and model. */
  speeds(): { nodeId: string; model: string; tokensPerSecond: number }[];
  /** Requests sent to a node and not finished yet. */
  inFlight(nodeId: string): number;
  /**
   * A node is gone without closing its connections (it stopped heartbeating): the requests it has not
   * answered yet go to another node, and answers it was sending end with an error. `silentForMs`: only
   * the tries it has sent nothing to for that long (an endpoint whose health check failed may still be
   * streaming answers: those go on). Default: all of them.
   */
  nodeLost(nodeId: string, reason: string, silentForMs?: number): void;
  /**
   * llmlb is stopping: requests running go on to their end; those waiting for a slot or a node, and
   * any that comes, are answered 503 `serving.stopping` at once.
   */
  stop(): void;
  /**
   * Past the drain: what still runs is called off, a stream ending with an error that says llmlb
   * stopped, an answer not begun with 503 `serving.stopping` (never tried on another node). Resolves
   * once each has been answered so, or after a few seconds.
   */
  callOffRunning(): Promise<void>;
  /**
   * Nodes registered, reported or went away: requests waiting for a node look again. `removed`: models
   * removed now (from the registry, or with their endpoint), whose waiting requests are answered so.
   */
  nodesChanged(removed?: readonly string[]): void;
  /**
   * While paused, new inference requests get 503, and so do those waiting for a slot or a node;
   * requests already running finish.
   */
  setPaused(paused: boolean): void;
  paused(): boolean;
  dispose(): Promise<void>;
}

/** Where a node's URL and an OpenAI path lead, as undici takes them. */
interface Target {
  origin: string;
  path: string;
}

export function createBalancer(options: BalancerOptions): Balancer {
  const { nodes, models, log, clock, health } = options;
  const slotsPerNode = options.slotsPerNode ?? 4;
  const instanceId = options.instanceId ?? crypto.randomUUID();
  const admission = createAdmission(options.admission);
  const nodeWaitMs = options.nodeWaitMs ?? 30_000;
  const startedAt = clock.now();
  const endpointIdleTimeoutMs = options.endpointIdleTimeoutMs ?? 600_000;
  const clientStallMs = options.clientStallMs ?? 60_000;
  /** Requests waiting for a node to take their model up, woken when nodes change. */
  const nodeWaiters = new Set<() => void>();
  /** Requests waiting for a node to take their model up, by model: those admitted, and all. */
  const nodeWaits = new Map<string, { admitted: number; all: number }>();
  /** Nodes that answered 429, by id: passed over until then (this llmlb's clock) while others can take requests. */
  const limitedUntil = new Map<string, number>();
  /** Admission's depth, with what waits for a node counted as waiting, not running. */
  const depthOf = (model: string, depth: { running: number; waiting: number }) => {
    const waits = nodeWaits.get(model);
    return waits ? { running: depth.running - waits.admitted, waiting: depth.waiting + waits.all } : depth;
  };
  /** Forwards under way (from arrival to their answer's end), each with what resolves as it ends. */
  const forwarding = new Set<Promise<unknown>>();
  /** Set past the drain: a try called off then is not tried elsewhere. */
  let calledOff = false;
  /** Aborted once llmlb is stopping: the queue's waiters are let go of. */
  const stopping = new AbortController();
  const stoppingError = () =>
    new AppError(
      "serving.stopping",
      "llmlb is stopping: it finishes the requests it runs, and starts no new ones. Retry once it is back, or against another llmlb.",
      { retryAfter: 5 },
    );
  /** Aborted when serving is paused (and made anew when it resumes): the queue's waiters are let go of. */
  let pausing = new AbortController();
  const pausedError = () =>
    new AppError(
      "serving.paused",
      "Serving is paused: resume it with `llmlb resume`, from the dashboard, or from the desktop app's tray menu.",
      { retryAfter: 5 },
    );
  const load = createNodeLoad();
  const proxy = options.proxy ?? proxyToNode;
  // One keep-alive pool per node, reused across requests.
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64, headersTimeout: 0, bodyTimeout: 0 });
  let turn = 0;
  let paused = false;
  /** Tries in flight by node id, to call off when their node is lost. */
  const inFlight = new Map<string, Set<PendingTry>>();
  function pendingAt(nodeId: string): Set<PendingTry> {
    let pending = inFlight.get(nodeId);
    if (!pending) inFlight.set(nodeId, (pending = new Set()));
    return pending;
  }

  // Parsing a node's URL on every request shows in profiles; node URLs change only when nodes restart.
  // By URL, then path: no key string to build and hash per request.
  const targets = new Map<string, Map<string, Target>>();
  function targetOf(route: NodeRoute, path: string): Target {
    let byPath = targets.get(route.url);
    if (!byPath) {
      if (targets.size >= 256) targets.clear();
      targets.set(route.url, (byPath = new Map()));
    }
    let target = byPath.get(path);
    if (!target) {
      // A route's URL may carry a path prefix (an endpoint at https://host/openai/v1 is reached at
      // https://host/openai + /v1/chat/completions); undici takes the origin and the path apart.
      const url = new URL(`${route.url.replace(/\/+$/, "")}${path}`);
      byPath.set(path, (target = { origin: url.origin, path: url.pathname }));
    }
    return target;
  }

  /** A node as tried: a worker restarted after a crash listens at a new address, and counts as new. */
  const triedKey = (route: NodeRoute) => `${route.id} ${route.url}`;
  /** How long a node that answered 429 with no Retry-After is passed over, and the most for one that said. */
  const limitedDefaultMs = 5_000;
  const limitedMaxMs = 60_000;

  /**
   * Whether a node holds the model, and whether taking it unloads another (busy, or in use lately). An
   * endpoint serves what it lists; a worker says what it holds as it changes and every few seconds, and
   * what was sent to it since counts as held (it loads what it is sent).
   */
  function holding(route: NodeRoute, model: string, now: number) {
    if (route.kind === "endpoint") return { loaded: true };
    // A worker older than its limit's report: what it reported loaded (its sequences for the model).
    if (route.maxLoaded === undefined) return { loaded: route.slots !== undefined };
    const since = route.reportedAt ?? now - unreportedForMs;
    // What has requests there is held, or waits there for room (which no report names) and comes first.
    const sent = load.sentSince(route.id, -Infinity);
    const inUseThere = sent.filter((other) => load.outstanding(route.id, other) > 0);
    const sentSince = sent.filter((other) => (load.lastSent(route.id, other) ?? -Infinity) >= since);
    const held = modelsHeld(route.holds ?? [], [...inUseThere, ...sentSince], route.maxLoaded);
    if (held.models.includes(model)) return { loaded: true };
    if (held.loads < route.maxLoaded) return { loaded: false };
    // It unloads the least recently used of those idle there: a cost to their clients only when they
    // use it lately (a model asked for once, minutes ago, does not keep a worker from a busy one).
    const idle = held.models.filter((other) => load.outstanding(route.id, other) === 0);
    const inUse = (other: string) => now - (load.lastSent(route.id, other) ?? -Infinity) <= inUseForMs;
    return {
      loaded: false,
      unloadsAnother: idle.every(inUse),
      unloadsBusy: idle.length === 0,
    };
  }

  /** What a worker that has not loaded `model` yet will run of it at once: its setting, else the default. */
  const unreportedSlots = (model: string) => models.parallelOf?.(model) ?? slotsPerNode;

  /**
   * What the nodes that are up run of `model` at once: their reported sequences, else what they will;
   * 0 with none up.
   */
  function capacityOf(model: string, routes: NodeRoute[]): number {
    const now = clock.now();
    const unreported = unreportedSlots(model);
    let capacity = 0;
    for (const route of routes) if (!health.isFailing(route, now)) capacity += route.slots ?? unreported;
    return capacity;
  }

  /**
   * A worker's requests for `model` and for the models sharing its load there (one file registered
   * twice): those take the same sequences.
   */
  function outstandingOfLoad(route: NodeRoute, model: string): number {
    const holds = route.holds ?? [];
    const shared = holds.find((held) => held.model === model)?.sharesLoadWith ?? model;
    let count = load.outstanding(route.id, model);
    for (const held of holds)
      if (held.model !== model && (held.sharesLoadWith ?? held.model) === shared)
        count += load.outstanding(route.id, held.model);
    return count;
  }

  /** The node to try next among those not tried yet: one that is up, else any (it may be back). */
  function choose(routes: NodeRoute[], tried: Set<string>, model: string): NodeRoute | undefined {
    const now = clock.now();
    const fresh = routes.filter((candidate) => !tried.has(triedKey(candidate)));
    const up = fresh.filter(
      (candidate) => !health.isFailing(candidate, now) && (limitedUntil.get(candidate.id) ?? 0) <= now,
    );
    const reachable = up.length > 0 ? up : fresh;
    // The policy has nothing to weigh with one node (the usual case of one machine).
    if (reachable.length <= 1) return reachable[0];
    const unreported = unreportedSlots(model);
    const candidates = reachable.map((route) => ({
      id: route.id,
      route,
      outstanding: load.outstanding(route.id),
      // A worker's sequences are the model's own; an endpoint's parallel is shared by all it serves.
      ...(route.kind !== "endpoint" && { outstandingForModel: outstandingOfLoad(route, model) }),
      slots: route.slots ?? unreported,
      tokensPerSecond: load.tokensPerSecond(route.id, model, now),
      ...holding(route, model, now),
    }));
    return pickNode(candidates, turn++)?.route;
  }

  function modelOf(json: unknown): string {
    const model = (json as { model?: unknown } | null | undefined)?.model;
    if (typeof model !== "string" || model.length === 0) {
      const wrong =
        model === undefined || model === null || model === ""
          ? "is required"
          : `must be a string, not ${Array.isArray(model) ? "an array" : typeof model}`;
      throw new AppError(
        "request.invalid",
        `model: ${wrong}: the id of a registered model (see GET /v1/models).`,
        { param: "model" },
      );
    }
    return model;
  }

  /**
   * Why no node can take a request for `model` now (a 404 for a model nobody knows), and whether a
   * node is on its way for it.
   */
  function explainNoRoute(model: string): { error: AppError; nodeComing: boolean } {
    // Endpoints that list the model, all offline now, explain best when no online node knows it.
    const outside = options.unavailable?.(model);
    let registered;
    try {
      registered = models.get(model);
    } catch {
      const unknown = new AppError(
        "model.not_found",
        `The model \`${cutText(model, 200)}\` does not exist.${models.didYouMean(model) || " Register it first (POST /v0/models/register or `llmlb model add`)."}`,
        { param: "model" },
      );
      return { error: outside ?? unknown, nodeComing: false };
    }
    const online = registered.nodes.filter((node) => node.node_status === "online");
    // Offline endpoints explain a registered model only where its pin does not: pinned elsewhere, the
    // pin is why (a worker of a machine it was moved from, say), whatever the endpoints are doing.
    if (outside && online.length === 0 && registered.settings.nodes.length === 0)
      return { error: outside, nodeComing: false };
    const known = nodes.list().data;
    const error = unavailableError(registered, {
      nodesKnown: known.length,
      knownNodeNames: known.map((node) => node.name),
      onlineNodeNames: known.filter((node) => node.status === "online").map((node) => node.name),
      onlineEndpointNames: known
        .filter((node) => node.status === "online" && node.kind === "endpoint")
        .map((node) => node.name),
      drainingNodeNames: known
        .filter((node) => node.status === "online" && node.draining === true)
        .map((node) => node.name),
      workersExpected: options.workersExpected?.() ?? false,
      localWorkerNames: options.localWorkers?.() ?? [],
    });
    // A node is on its way (starting, restarting, verifying the file): worth a short wait. A download
    // is not, nor a wait for another model's: it may take hours, and its progress is the useful answer.
    // With no node online, one is on its way only while this llmlb starts its own workers, has just
    // started (joined nodes register again within seconds), or saw a node lately (a restarting one):
    // nodes silent for longer may never come back, and each request would wait in vain.
    const now = clock.now();
    const nodeMayCome =
      online.length > 0 ||
      // A worker online may take it up; an endpoint serves only what it lists.
      known.some((node) => node.status === "online" && node.kind !== "endpoint") ||
      (options.workersExpected?.() ?? false) ||
      now - startedAt < nodeWaitMs ||
      known.some((node) => node.kind !== "endpoint" && now - Date.parse(node.last_seen_at) < nodeWaitMs);
    const nodeComing = error.code === "model.not_ready" && !online.some(takesLong) && nodeMayCome;
    return { error, nodeComing };
  }

  /**
   * The nodes that can take a request for `model`. With none, a request whose node is on its way
   * waits for it (up to nodeWaitMs, while its client stays); any other gets why, at once.
   */
  async function routesOrExplain(
    model: string,
    sink: AnswerSink,
    admitted = false,
    deadline = clock.now() + nodeWaitMs,
  ): Promise<NodeRoute[]> {
    let routes = nodes.routesFor(model);
    if (routes.length > 0) return routes;
    const done = waitingForNode(model, admitted);
    try {
      for (;;) {
        throwIfStoppingOrPaused();
        const { error, nodeComing } = explainNoRoute(model);
        const left = deadline - clock.now();
        if (!nodeComing || left <= 0 || sink.gone) throw admitted ? goneWhileWaiting(model, error) : error;
        await nodesChangeOrTimeout(left, sink);
        routes = nodes.routesFor(model);
        if (routes.length > 0) return routes;
      }
    } finally {
      done();
    }
  }

  /**
   * Why a request admitted, or waiting to be, finds no node: a model that no longer exists existed when
   * it came (an endpoint's that was removed, or one removed from the registry), and is not to be
   * registered.
   */
  function goneWhileWaiting(model: string, error: AppError): AppError {
    if (error.code !== "model.not_found") return error;
    return new AppError(
      "model.not_found",
      `The model \`${cutText(model, 200)}\` is not served here any more: it was removed while this request waited, or the endpoint that served it no longer lists it.`,
      { param: "model" },
    );
  }

  /**
   * The routes but the llmlbs the request came through (`via`): two llmlbs that are each other's
   * endpoints do not send a request back where it came from. Where those are all there is, all of them:
   * the far end then says it is a loop.
   */
  function notBack(routes: NodeRoute[], via: string | undefined): NodeRoute[] {
    if (via === undefined) return routes;
    const senders = new Set(via.split(",").map((id) => id.trim()));
    const others = routes.filter((route) => route.instance === undefined || !senders.has(route.instance));
    return others.length > 0 ? others : routes;
  }

  /** Counts a request waiting for a node (a waiting one in the queue's depth); answers its uncount. */
  function waitingForNode(model: string, admitted: boolean): () => void {
    const waits = nodeWaits.get(model) ?? { admitted: 0, all: 0 };
    nodeWaits.set(model, waits);
    waits.all++;
    if (admitted) waits.admitted++;
    return () => {
      waits.all--;
      if (admitted) waits.admitted--;
      if (waits.all === 0) nodeWaits.delete(model);
    };
  }

  /** What waits for a node is let go of when llmlb stops, or serving is paused. */
  function throwIfStoppingOrPaused(): void {
    if (stopping.signal.aborted) throw stoppingError();
    if (paused) throw pausedError();
  }

  /** Resolves when nodes change, `ms` pass, or the client leaves, whichever is first. */
  function nodesChangeOrTimeout(ms: number, sink: AnswerSink): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        nodeWaiters.delete(done);
        unsubscribe();
        resolve();
      };
      const timer = setTimeout(done, ms);
      nodeWaiters.add(done);
      const unsubscribe = sink.onGone(done);
    });
  }

  /** One try at a node; resolves with the status the client got, or undefined to try another node. */
  async function attempt(
    requestStarted: number,
    route: NodeRoute,
    model: string,
    request: InferenceRequest,
    sink: AnswerSink,
    tries: {
      lacking: NodeRoute[];
      lackingSaid: Map<NodeRoute, string>;
      failures: string[];
      othersToTry: boolean;
      /** The Retry-After (ms, or undefined) of each 429 dropped for another node to take the request. */
      limited: (number | undefined)[];
    },
    trace: RequestTrace,
  ): Promise<number | undefined> {
    const { lacking, failures } = tries;
    const started = clock.now();
    trace.node = route.name;
    trace.tries++;
    const { path } = request;
    const { origin, path: targetPath } = targetOf(route, path);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: request.accept ?? "application/json",
      // Another llmlb this goes to sends it on with this mark, so a circle of endpoints ends.
      [viaHeader]: request.via !== undefined ? `${request.via}, ${instanceId}` : instanceId,
      // The node logs the request under the id its client has (a worker does; other servers may).
      ...(request.id !== undefined ? { "x-request-id": request.id } : {}),
      // A worker words its errors for the API the client called (Responses, run as a chat completion).
      ...(request.clientPath !== undefined && route.kind !== "endpoint"
        ? { [clientPathHeader]: request.clientPath }
        : {}),
    };
    if (route.token) headers.authorization = `Bearer ${route.token}`;
    let streaming = false;
    let tokens: TokenCounter | undefined;
    /** When the first chunk of a stream came: its speed is its chunks' pace after that. */
    let firstChunk: number | undefined;
    /** What a whole answer says it waited for its model (a load): no part of the node's speed. */
    let modelWaitMs = 0;
    /** A refusal's body, read for its error. */
    let refusal: Buffer[] | undefined;
    let refusalBytes = 0;
    const outcome = await proxy(
      agent,
      {
        origin,
        path: targetPath,
        headers,
        body: request.body.raw,
        idleTimeoutMs: route.kind === "endpoint" ? endpointIdleTimeoutMs : undefined,
        clientStallMs,
        // An endpoint's refusal in another shape than an API's (a proxy's page): in the client's API's.
        ...(route.kind === "endpoint" && { endpoint: true, reword: endpointRefusal(route.name, path) }),
        othersToTry: tries.othersToTry,
      },
      sink,
      {
        onHead(status, answerHeaders) {
          streaming = String(answerHeaders["content-type"] ?? "").startsWith("text/event-stream");
          modelWaitMs = Math.max(0, Number(answerHeaders[modelWaitHeader] ?? 0) || 0);
          tokens = createTokenCounter(streaming, status);
          if (status >= 400 && !streaming) refusal = [];
          const firstByte = clock.now();
          trace.firstByteMs = firstByte - requestStarted;
          trace.streamed = streaming;
          // Once the bytes that came with the head are written: the client need not wait for this.
          queueMicrotask(() => {
            // A 500 passed on says nothing of the node's health either way.
            if (status < 500) health.answered(route.id);
            // A stream's first event is its first token's; a whole answer's first byte is its end, and
            // a refusal's is no token at all.
            if (streaming && status < 400)
              options.metrics?.firstByte(model, (firstByte - requestStarted) / 1000);
          });
        },
        onChunk(chunk) {
          if (refusal && refusalBytes < errorBytesRead) {
            refusal.push(chunk);
            refusalBytes += chunk.length;
          }
          if (streaming && firstChunk === undefined) {
            // The first event once the model is loaded and the prompt read; it is not counted.
            firstChunk = clock.now();
            return;
          }
          tokens!.add(chunk);
        },
      },
      pendingAt(route.id),
    );
    options.metrics?.nodeTry(
      route.name,
      outcome.type !== "unavailable" ? outcome.type : outcome.status === 429 ? "limited" : "failed",
    );
    switch (outcome.type) {
      case "answered":
        trace.tokens = tokens!.count();
        trace.reported = tokens!.reported();
        if (refusal)
          trace.error =
            route.kind === "endpoint"
              ? endpointErrorOfAnswer(Buffer.concat(refusal), route.name, outcome.status)
              : errorOfAnswer(Buffer.concat(refusal));
        // A stream by its pace once it flows; a whole answer by its time, less the wait for its model that
        // the worker says (a load: a node that loaded the model is not passed over as slow for it).
        recordSpeed(
          route.id,
          model,
          trace.tokens,
          firstChunk !== undefined ? clock.now() - firstChunk : clock.now() - started - modelWaitMs,
        );
        return outcome.status;
      case "left":
        // What it had sent before its client left.
        trace.tokens = tokens?.count();
        trace.reported = tokens?.reported();
        return 499;
      case "unavailable":
        // An endpoint lacks this route (or the model there); a worker of an older llmlb lacks the
        // route (its 404 says so; one for a model it no longer has does not): no sign that it is
        // down for the other routes.
        if (outcome.status === 404 && (route.kind === "endpoint" || outcome.missingRoute)) {
          lacking.push(route);
          if (outcome.said) tries.lackingSaid.set(route, cutText(outcome.said, 200));
          (request.log ?? log).info(
            { node: route.name, node_id: route.id, model, path },
            `${route.kind === "endpoint" ? "endpoint" : "node"} answered 404 for this route; trying another`,
          );
          return undefined;
        }
        if (outcome.status === 429) {
          // Its rate limit, or its full queue: not a failure of its health. Passed over for its
          // Retry-After (a few seconds where it said none) while other nodes can take requests.
          const waitMs = Math.min(outcome.retryAfterMs ?? limitedDefaultMs, limitedMaxMs);
          limitedUntil.set(route.id, clock.now() + waitMs);
          failures.push(`${route.name}: answered 429 (rate-limited or full)`);
          tries.limited.push(outcome.retryAfterMs);
          (request.log ?? log).info(
            { node: route.name, node_id: route.id, model, retry_after_ms: outcome.retryAfterMs },
            "node answered 429; trying another",
          );
          return undefined;
        }
        // A reason may be a sentence of its own (a health check's): its full stop is the list's to add.
        failures.push(`${route.name}: ${outcome.reason.replace(/\.+$/, "")}`);
        if (outcome.unreachable && route.kind !== "endpoint")
          trace.unreachable = (trace.unreachable ?? 0) + 1;
        health.failed(route, `A request for ${model} failed before any answer (${outcome.reason}).`);
        (request.log ?? log).warn(
          { node: route.name, node_id: route.id, model, err: `node ${route.name} ${outcome.reason}` },
          "node failed before answering; trying another",
        );
        return undefined;
      case "cut": {
        const cut = calledOff ? cutByDrain() : cutByNode(route, model, outcome.cause, request.log ?? log);
        sink.cut(cut, streaming);
        trace.brokeOff = true;
        const told = toHttpError(cut);
        trace.error = recordedError(told.body.error.code, told.body.error.message);
        trace.tokens = tokens?.count();
        trace.reported = tokens?.reported();
        return told.status;
      }
    }
  }

  /** An answer llmlb itself cut, its drain timeout over: nothing its node did, and no crash. */
  const cutByDrain = () =>
    new AppError(
      "serving.stopping",
      "llmlb stopped before this answer ended: its drain timeout (--drain-timeout) ran out. Retry the request once llmlb is back, or against another llmlb.",
    );

  /**
   * An answer its node broke off: which node, and what became of it (it crashed, went silent, stalled
   * past the idle timeout), counted against the node's health.
   */
  function cutByNode(route: NodeRoute, model: string, cause: Error, requestLog: Logger): AppError {
    health.failed(route, `An answer for ${model} broke off (${cause.message.replace(/\.$/, "")}).`);
    requestLog.warn(
      { node: route.name, node_id: route.id, model, err: cause.message },
      "node failed mid-answer",
    );
    return new AppError(
      "node.crashed",
      `The node serving this request (${route.name}) stopped midway: ${cause.message.replace(/^It /, "it ").replace(/\.$/, "")}. Retry the request.`,
    );
  }

  function recordSpeed(nodeId: string, model: string, tokens: number, elapsedMs: number): void {
    if (tokens > 0 && elapsedMs > 0)
      load.recordSpeed(nodeId, model, (tokens * 1000) / elapsedMs, clock.now());
  }

  /** Admits the request, then tries nodes until one answers; resolves with the status sent. */
  async function route(
    request: InferenceRequest,
    sink: AnswerSink,
    model: string,
    started: number,
    trace: RequestTrace,
  ): Promise<number> {
    const { path } = request;
    let routes = await routesOrExplain(model, sink);
    // Paused while it waited for a node: it is not sent now.
    if (paused) throw pausedError();
    // After the model is known to be served here: the metrics label only such models.
    if (request.via?.includes(instanceId)) {
      throw new AppError(
        "balancer.loop",
        `This request for ${model} already went through this llmlb: endpoints that list each other's models sent it back. Remove one of them.`,
      );
    }
    // None up (all failing): as many as one node would take, so requests still go out and find out.
    const capacity = capacityOf(model, routes) || unreportedSlots(model);
    let release = admission.tryEnter(model, capacity);
    if (!release) {
      const queued = clock.now();
      try {
        release = await waitForSlot(sink, model, capacity);
      } finally {
        trace.queuedMs = clock.now() - queued;
      }
      // Nodes change while it waits (drained, restarted at a new address, joined): it goes by them now.
      routes = nodes.routesFor(model);
    }
    // The client left while queued: there is nobody to answer.
    if (!release) return 499;
    const tried = new Set<string>();
    /** Endpoints that answered 404 to this route: they lack it (an OpenAI-only server asked for /v1/messages). */
    const lacking: NodeRoute[] = [];
    /** What those said of it, where they said more than "Not Found" (a model they no longer have). */
    const lackingSaid = new Map<NodeRoute, string>();
    const limited: (number | undefined)[] = [];
    /** Why each node tried failed, in the order tried: what a client told "every node failed" is told. */
    const failures: string[] = [];
    trace.failures = failures;
    let waitedForNode = false;
    try {
      for (;;) {
        // The routes looked up for admission serve the first try; a retry looks again.
        const current = notBack(tried.size === 0 ? routes : nodes.routesFor(model), request.via);
        let chosen = choose(current, tried, model);
        // Every worker tried could not be reached, and is still listed: its process died a moment ago.
        const deadOnly = tried.size > 0 && trace.unreachable === tried.size;
        if (!chosen && (current.length === 0 || deadOnly) && !waitedForNode) {
          // Every node that had the model is gone (its worker died under this request, and restarts;
          // its file was deleted, and it downloads it again): the request, unanswered, waits once for
          // one to come back; should none, it gets why (restarting, downloading 40%), not a 502.
          waitedForNode = true;
          const back =
            current.length === 0
              ? await routesOrExplain(model, sink, true)
              : await nodeBack(model, tried, sink);
          // What came back is worth one more try, a node tried before included (its file downloaded
          // again); a restarted worker has a new URL and counts as new anyway.
          tried.clear();
          chosen = choose(notBack(back, request.via), tried, model);
        }
        if (!chosen && lacking.length > 0 && lacking.length === tried.size) {
          const names = lacking
            .map((route) =>
              lackingSaid.has(route) ? `${route.name} ("${lackingSaid.get(route)}")` : route.name,
            )
            .join(", ");
          if (lackingSaid.size > 0)
            trace.errorKept = recordedError(
              "request.not_found",
              `POST ${path} is not served for model ${model} here: ${lacking.map((route) => route.name).join(", ")} answered 404 for it; what it said went to the client, and is not kept here as it may quote the request.`,
            );
          throw new AppError(
            "request.not_found",
            lackingSaid.size > 0
              ? `POST ${path} is not served for model ${model} here: ${names} answered 404 for it (a server that no longer has the model, or lacks this route; its other routes are unaffected).`
              : `POST ${path} is not served for model ${model} here: ${names} answered 404 for it (an OpenAI-compatible server, or a worker of an older llmlb, may lack this route; its other routes are unaffected).`,
          );
        }
        if (!chosen && limited.length > 0 && limited.length === failures.length) {
          // Every node tried answered 429, the last one's dropped as others were left then: a 429 still.
          const waits = limited.filter((ms): ms is number => ms !== undefined);
          const seconds = Math.max(
            1,
            Math.ceil((waits.length > 0 ? Math.min(...waits) : limitedDefaultMs) / 1000),
          );
          throw new AppError(
            "balancer.rate_limited",
            `Every node that has model ${model} is rate-limited or full (${failures.join("; ")}); retry in ${seconds} s.`,
            { retryAfter: seconds },
          );
        }
        if (!chosen) {
          const why = failures.length > 0 ? ` (${failures.join("; ")})` : "";
          throw new AppError(
            "balancer.no_node",
            `Every node that has model ${model} failed this request${why}; retry shortly.`,
            { retryAfter: 2 },
          );
        }
        tried.add(triedKey(chosen));
        const sentAt = clock.now();
        load.begin(chosen.id, model, sentAt);
        try {
          // Another node left to try: a 429 here sends the request there.
          const othersToTry = current.some(
            (route) => route !== chosen && !tried.has(triedKey(route)) && !lacking.includes(route),
          );
          const status = await attempt(
            started,
            chosen,
            model,
            request,
            sink,
            { lacking, lackingSaid, failures, othersToTry, limited },
            trace,
          );
          if (status !== undefined) return status;
          // Failed before any answer: the node may not have taken the model up.
          load.unsend(chosen.id, model, sentAt);
          if (calledOff) throw stoppingError();
        } finally {
          load.end(chosen.id, model);
        }
      }
    } finally {
      release();
    }
  }

  /**
   * The workers tried are still listed, though none could be reached (a process that died a moment
   * ago): waits, up to nodeWaitMs, for one listed anew (restarted, at a new address) or another node
   * to take the model up; with none listed any more, for why, as a request with no node waits.
   * Resolves with the nodes not tried, or none when the wait ran out or the client left.
   */
  async function nodeBack(model: string, tried: Set<string>, sink: AnswerSink): Promise<NodeRoute[]> {
    const failedAt = clock.now();
    const deadline = failedAt + nodeWaitMs;
    const done = waitingForNode(model, true);
    try {
      for (;;) {
        throwIfStoppingOrPaused();
        const left = deadline - clock.now();
        if (left <= 0 || sink.gone) return [];
        await nodesChangeOrTimeout(left, sink);
        throwIfStoppingOrPaused();
        const routes = nodes.routesFor(model);
        if (routes.length === 0) break;
        const fresh = routes.filter((route) => !tried.has(triedKey(route)));
        if (fresh.length > 0) return fresh;
        // A node tried that heartbeats since, at the same address, is alive, and unreachable from here
        // (a firewall, a wrong advertised address): no restart is coming.
        if (routes.some((route) => (route.reportedAt ?? -Infinity) > failedAt)) return [];
      }
    } finally {
      done();
    }
    // Gone from the list (offline now): waits for it as a request with no node does, in what is left.
    return routesOrExplain(model, sink, true, deadline);
  }

  /** Waits in the queue for a slot: its release, or undefined when the client left meanwhile. */
  async function waitForSlot(
    sink: AnswerSink,
    model: string,
    capacity: number,
  ): Promise<(() => void) | undefined> {
    if (sink.gone) return undefined;
    // Only queued requests need a signal: AbortControllers cost, and most requests never wait.
    const abort = new AbortController();
    const unsubscribe = sink.onGone(() => abort.abort(new Error("client disconnected")));
    const pause = pausing.signal;
    try {
      return await admission.enter(model, capacity, AbortSignal.any([abort.signal, stopping.signal, pause]));
    } catch (error) {
      if (stopping.signal.aborted && !abort.signal.aborted) throw stoppingError();
      if (pause.aborted && !abort.signal.aborted) throw pausedError();
      if (abort.signal.aborted && !isAppError(error)) return undefined;
      throw error;
    } finally {
      unsubscribe();
    }
  }

  /** The id of the registered model a request names, or undefined where it names none. */
  function registeredId(json: unknown): string | undefined {
    const named = (json as { model?: unknown } | null | undefined)?.model;
    if (typeof named !== "string" || named === "") return undefined;
    const id = models.resolveName(named);
    try {
      models.get(id);
      return id;
    } catch {
      return undefined;
    }
  }

  /** One inference request, from its arrival to its answer's end (or its refusal). */
  async function forward(request: InferenceRequest, sink: AnswerSink): Promise<void> {
    const started = clock.now();
    const { body, path } = request;
    // Labels only ever carry registered model ids, so clients cannot flood the metrics with names.
    let label = "unknown";
    let status = 500;
    const trace: RequestTrace = { tries: 0 };
    try {
      if (stopping.signal.aborted) throw stoppingError();
      if (paused) throw pausedError();
      const named = modelOf(body.json);
      const model = models.resolveName(named);
      // An alias: nodes and endpoints know the model by its id, which the answer then names (as
      // OpenAI's answers name the dated model an alias stands for).
      if (model !== named) {
        body.raw = Buffer.from(JSON.stringify({ ...(body.json as object), model }));
      }
      status = await route(request, sink, model, started, trace);
      label = model;
    } catch (error) {
      const told = toHttpError(toAppError(error));
      status = told.status;
      trace.error = trace.errorKept ?? recordedError(told.body.error.code, told.body.error.message);
      // Only a registered model's id is a label (refused before any lookup, while paused or
      // stopping, the name is checked here); a 404 or 400 names none.
      if (status !== 404 && status !== 400) label = registeredId(body.json) ?? label;
      throw error;
    } finally {
      const seconds = (clock.now() - started) / 1000;
      const named = (body.json as { model?: unknown } | undefined)?.model;
      options.metrics?.requestDone(label, request.clientPath ?? path, status, seconds, trace.reported);
      // The access log: one line a request, as a load balancer writes (LLMLB_LOG_LEVEL=warn leaves it
      // out), and the dashboard's Requests page.
      const entry: RequestRecord = {
        id: request.id ?? "",
        at: new Date(clock.now()).toISOString(),
        ...(request.client !== undefined ? { client: request.client } : {}),
        model: label,
        // The name a client got wrong is what someone looking into its 404 needs first.
        ...(label === "unknown" && typeof named === "string" && named !== ""
          ? { requested_model: named.slice(0, 200) }
          : {}),
        path: request.clientPath ?? path,
        status,
        ms: Math.round(seconds * 1000),
        ...(trace.node !== undefined ? { node: trace.node } : {}),
        ...(trace.tries > 1 ? { tries: trace.tries } : {}),
        ...(trace.failures?.length
          ? { failed_tries: trace.failures.slice(0, 8).map((failure) => failure.slice(0, 300)) }
          : {}),
        ...(trace.brokeOff ? { broke_off: true as const } : {}),
        ...(trace.error && status >= 400 && status !== 499 ? { error: trace.error } : {}),
        ...((body.json as { stream?: unknown } | undefined)?.stream === true
          ? { stream: true as const }
          : {}),
        ...(trace.queuedMs !== undefined ? { queued_ms: Math.round(trace.queuedMs) } : {}),
        ...(trace.firstByteMs !== undefined ? { first_byte_ms: Math.round(trace.firstByteMs) } : {}),
        // Where counted: 0 is an answer that says nothing of its tokens (an embedding, an error).
        ...(trace.reported
          ? { completion_tokens: trace.reported }
          : trace.streamed && trace.tokens
            ? { stream_events: trace.tokens }
            : {}),
      };
      const { id: _id, at: _at, ...line } = entry;
      // A failure of llmlb's or its nodes' (5xx) is a warning too: LLMLB_LOG_LEVEL=warn keeps it.
      (request.log ?? log)[status >= 500 ? "warn" : "info"](line, "inference request");
      options.requests?.record(entry);
    }
  }

  return {
    forward(request, sink) {
      const forwarded = forward(request, sink);
      const done = forwarded.catch(() => undefined);
      forwarding.add(done);
      void done.finally(() => forwarding.delete(done));
      return forwarded;
    },
    async callOffRunning() {
      calledOff = true;
      const reason = new Error(
        "llmlb stopped before this answer ended (its drain timeout, --drain-timeout, ran out)",
      );
      for (const pending of inFlight.values()) for (const attempt of pending) attempt.cancel(reason);
      await Promise.race([
        Promise.all(forwarding),
        new Promise((resolve) => setTimeout(resolve, 3000).unref()),
      ]);
    },
    nodeLost(nodeId, reason, silentForMs = 0) {
      const pending = inFlight.get(nodeId);
      const lost = [...(pending ?? [])].filter((attempt) => attempt.silentForMs() >= silentForMs);
      if (lost.length === 0) return;
      log.warn(
        { node_id: nodeId, requests: lost.length, err: reason },
        "calling off requests at a lost node",
      );
      for (const attempt of lost) attempt.cancel(new Error(reason));
    },
    nodesChanged(removed = []) {
      for (const wake of [...nodeWaiters]) wake();
      // What waits in the queue may run on what came (a node undrained, back, loaded with more sequences).
      // With no node up for it now, the queue stays as it was: what would it be let in to?
      // With none because the model was removed (or its endpoint was), the waiting are told so now, not
      // once a running request ends. With none up for now (drained, restarting, an endpoint's list that
      // left it out at one look), they wait.
      for (const { model, waiting } of admission.depths()) {
        if (waiting === 0) continue;
        const capacity = capacityOf(model, nodes.routesFor(model));
        if (capacity > 0) admission.setCapacity(model, capacity);
        else if (removed.includes(model)) {
          const { error } = explainNoRoute(model);
          if (error.code === "model.not_found") admission.dismiss(model, goneWhileWaiting(model, error));
        }
      }
    },
    queueDepth: (model) => depthOf(model, admission.depth(model)),
    stop() {
      stopping.abort();
      for (const wake of [...nodeWaiters]) wake();
    },
    queueDepths() {
      const depths = new Map(admission.depths().map((depth) => [depth.model, depth]));
      for (const model of nodeWaits.keys())
        depths.set(model, depths.get(model) ?? { model, running: 0, waiting: 0 });
      return [...depths.values()].map((depth) => ({ ...depth, ...depthOf(depth.model, depth) }));
    },
    speeds: () => load.speeds(clock.now()),
    inFlight: (nodeId) => load.outstanding(nodeId),
    setPaused(value) {
      if (value && !paused) pausing.abort();
      if (!value && paused) pausing = new AbortController();
      paused = value;
      // Those waiting for a node are let go of too.
      if (paused) for (const wake of [...nodeWaiters]) wake();
      log.info({ paused }, paused ? "serving paused" : "serving resumed");
    },
    paused: () => paused,
    dispose() {
      return agent.close();
    },
  };
}

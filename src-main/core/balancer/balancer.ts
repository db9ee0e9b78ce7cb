import { once } from "node:events";
import type { FastifyReply, FastifyRequest } from "fastify";
import { Agent, type Dispatcher } from "undici";
import type { Clock } from "../clock";
import { AppError, isAppError, toHttpError } from "../errors";
import type { Logger } from "../logger";
import type { BalancerMetrics } from "../metrics";
import { toAppError } from "../server/errorHandler";
import type { ModelService } from "../models/modelService";
import type { NodeRoute, NodeService } from "../nodes/nodeService";
import { createAdmission, type AdmissionOptions } from "./admission";
import { unavailableError } from "./explainUnavailable";
import { createNodeLoad } from "./nodeLoad";
import { createHealthProbe, type HealthProbeOptions } from "./healthProbe";
import { pickNode } from "./routingPolicy";

export interface BalancerOptions {
  nodes: NodeService;
  models: ModelService;
  log: Logger;
  clock: Clock;
  admission?: AdmissionOptions;
  /** Requests one node runs at once until it reports its parallel sequences. Default: 4. */
  slotsPerNode?: number;
  /** Where request counts, latencies and speeds go. Default: nowhere. */
  metrics?: BalancerMetrics;
  /**
   * Why a model no node can take now is unavailable, when something outside the registry knows it
   * (endpoints that list it are offline). Default: an unregistered model is unknown (404).
   */
  unavailable?: (model: string) => AppError | undefined;
  /** How down nodes are checked. Default: from 500 ms apart, doubling up to 10 s. */
  healthProbe?: Pick<HealthProbeOptions, "intervalMs" | "maxIntervalMs" | "timeoutMs">;
}

export interface Balancer {
  /** Sends an OpenAI request on to a node that has its model ready, streaming the answer back. */
  forward(request: FastifyRequest, reply: FastifyReply, path: string): Promise<void>;
  queueDepth(model: string): { running: number; waiting: number };
  queueDepths(): { model: string; running: number; waiting: number }[];
  /** Measured generation speeds by node id and model. */
  speeds(): { nodeId: string; model: string; tokensPerSecond: number }[];
  /** While paused, new inference requests get 503; requests already running finish. */
  setPaused(paused: boolean): void;
  paused(): boolean;
  dispose(): Promise<void>;
}

// Hop-by-hop headers are the connection's own, not the answer's.
const hopByHop = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-connection",
]);

/** Failed before the client saw a byte: another node may take the request. */
class NodeUnavailable extends Error {}

export function createBalancer(options: BalancerOptions): Balancer {
  const { nodes, models, log, clock } = options;
  const slotsPerNode = options.slotsPerNode ?? 4;
  const admission = createAdmission(options.admission);
  const load = createNodeLoad();
  // One keep-alive pool per node, reused across requests.
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64, headersTimeout: 0, bodyTimeout: 0 });
  let turn = 0;
  let paused = false;
  const health = createHealthProbe({
    agent,
    onHealthy: (nodeId) => {
      load.markUp(nodeId);
      log.info({ node: nodeId }, "node healthy again");
    },
    ...options.healthProbe,
  });

  function markDown(route: NodeRoute): void {
    load.markDown(route, clock.now());
    health.watch(route);
  }

  function modelOf(request: FastifyRequest): string {
    const model = (request.body as { model?: unknown } | undefined)?.model;
    if (typeof model !== "string" || model.length === 0) {
      throw new AppError(
        "request.invalid",
        "`model` is required: the id of a registered model (see GET /v1/models).",
        {
          param: "model",
        },
      );
    }
    return model;
  }

  function routesOrExplain(model: string): NodeRoute[] {
    const routes = nodes.routesFor(model);
    if (routes.length > 0) return routes;
    // Endpoints that list the model, all offline now, explain best when no online node knows it.
    const outside = options.unavailable?.(model);
    let registered;
    try {
      registered = models.get(model);
    } catch {
      if (outside) throw outside;
      throw new AppError(
        "model.not_found",
        `The model \`${model}\` does not exist. Register it first (POST /v0/models/register or \`llmlb model add\`).`,
        { param: "model" },
      );
    }
    if (outside && !registered.nodes.some((node) => node.node_status === "online")) throw outside;
    throw unavailableError(registered);
  }

  async function attempt(
    requestStarted: number,
    route: NodeRoute,
    model: string,
    request: FastifyRequest,
    reply: FastifyReply,
    path: string,
    body: string,
    signal: AbortSignal,
  ): Promise<number> {
    const started = clock.now();
    // A route's URL may carry a path prefix (an endpoint at https://host/openai/v1 is reached at
    // https://host/openai + /v1/chat/completions); undici takes the origin and the path apart.
    const target = new URL(`${route.url.replace(/\/+$/, "")}${path}`);
    let answer: Dispatcher.ResponseData;
    try {
      answer = await agent.request({
        origin: target.origin,
        path: target.pathname,
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: request.headers.accept ?? "application/json",
          ...(route.token ? { authorization: `Bearer ${route.token}` } : {}),
        },
        body,
        signal,
      });
    } catch (cause) {
      if (signal.aborted) throw cause;
      throw new NodeUnavailable(`node ${route.id} unreachable: ${(cause as Error).message}`);
    }
    // 5xx, and a node that no longer has the model or no longer knows our token, are the node's
    // trouble, not the request's: another node may answer.
    if (answer.statusCode >= 500 || answer.statusCode === 401 || answer.statusCode === 404) {
      await answer.body.dump();
      throw new NodeUnavailable(`node ${route.id} answered ${answer.statusCode}`);
    }
    load.markUp(route.id);
    health.forget(route.id);
    // From here on the client gets bytes: never replayed elsewhere.
    const streaming = String(answer.headers["content-type"] ?? "").startsWith("text/event-stream");
    reply.hijack();
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !hopByHop.has(name)) headers[name] = value;
    }
    reply.raw.writeHead(answer.statusCode, headers);
    options.metrics?.firstByte(model, (clock.now() - requestStarted) / 1000);
    let events = 0;
    const jsonChunks: Buffer[] = [];
    try {
      for await (const chunk of answer.body as AsyncIterable<Buffer>) {
        if (streaming) events += chunk.toString("latin1").split("\ndata: ").length;
        else if (answer.statusCode === 200 && jsonChunks.length < 64) jsonChunks.push(chunk);
        // A client that stops reading slows the node down; one that leaves aborts the wait.
        if (!reply.raw.write(chunk)) await once(reply.raw, "drain", { signal });
      }
      reply.raw.end();
    } catch (cause) {
      if (signal.aborted) {
        answer.body.destroy();
        return 499;
      }
      markDown(route);
      log.warn({ node: route.id, model, err: (cause as Error).message }, "node failed mid-answer");
      if (streaming) {
        const error = {
          error: {
            message: "The node serving this request failed; retry the request.",
            type: "server_error",
            code: "node.crashed",
          },
        };
        reply.raw.end(`data: ${JSON.stringify(error)}\n\n`);
      } else {
        reply.raw.destroy();
      }
      return 502;
    }
    recordSpeed(route.id, model, streaming ? events : completionTokens(jsonChunks), clock.now() - started);
    return answer.statusCode;
  }

  function completionTokens(chunks: Buffer[]): number {
    try {
      return (
        (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { usage?: { completion_tokens?: number } })
          .usage?.completion_tokens ?? 0
      );
    } catch {
      return 0;
    }
  }

  function recordSpeed(nodeId: string, model: string, tokens: number, elapsedMs: number): void {
    if (tokens > 0 && elapsedMs > 0) load.recordSpeed(nodeId, model, (tokens * 1000) / elapsedMs);
  }

  /** Admits the request, then tries nodes until one answers; resolves with the status sent. */
  async function route(
    request: FastifyRequest,
    reply: FastifyReply,
    path: string,
    model: string,
    started: number,
  ) {
    const routes = routesOrExplain(model);
    const abort = new AbortController();
    // A client that goes away aborts its request at the node, which frees the sequence.
    const onClose = () => reply.raw.writableFinished || abort.abort(new Error("client disconnected"));
    if (reply.raw.destroyed) onClose();
    else reply.raw.once("close", onClose);
    const body = JSON.stringify(request.body);
    // What the nodes that are up run at once: their reported sequences, or the default until loaded.
    const up = routes.filter((route) => !load.isDown(route, clock.now()));
    const capacity = up.reduce((sum, route) => sum + (route.slots ?? slotsPerNode), 0) || slotsPerNode;
    let release = () => {};
    const tried = new Set<string>();
    try {
      release = await admission.enter(model, capacity, abort.signal);
      for (;;) {
        const now = clock.now();
        // The routes looked up for admission serve the first try; a retry looks again.
        const fresh = (tried.size === 0 ? routes : nodes.routesFor(model)).filter(
          (candidate) => !tried.has(candidate.id),
        );
        const up = fresh.filter((candidate) => !load.isDown(candidate, now));
        const pool = (up.length > 0 ? up : fresh).map((candidate) => ({
          ...candidate,
          outstanding: load.outstanding(candidate.id),
          tokensPerSecond: load.tokensPerSecond(candidate.id, model),
        }));
        const chosen = pickNode(pool, turn++);
        if (!chosen) {
          throw new AppError(
            "balancer.no_node",
            `Every node that has model ${model} failed this request; retry shortly.`,
            {
              retryAfter: 2,
            },
          );
        }
        tried.add(chosen.id);
        load.begin(chosen.id);
        try {
          return await attempt(started, chosen, model, request, reply, path, body, abort.signal);
        } catch (error) {
          if (!(error instanceof NodeUnavailable)) throw error;
          markDown(chosen);
          log.warn(
            { node: chosen.id, model, err: error.message },
            "node failed before answering; trying another",
          );
        } finally {
          load.end(chosen.id);
        }
      }
    } catch (error) {
      // The client left (while queued or waiting for a node): there is nobody to answer.
      if (abort.signal.aborted && !isAppError(error)) return 499;
      throw error;
    } finally {
      release();
    }
  }

  return {
    async forward(request, reply, path) {
      const started = clock.now();
      // Labels only ever carry registered model ids, so clients cannot flood the metrics with names.
      let label = "unknown";
      let status = 500;
      try {
        if (paused) {
          throw new AppError(
            "serving.paused",
            "Serving is paused: resume it from the dashboard, the tray menu or `llmlb resume`.",
            { retryAfter: 5 },
          );
        }
        const model = modelOf(request);
        status = await route(request, reply, path, model, started);
        label = model;
      } catch (error) {
        status = toHttpError(toAppError(error)).status;
        // Requests for models that are not registered never reach here with their name.
        if (status !== 404 && status !== 400) label = (request.body as { model?: string }).model ?? label;
        throw error;
      } finally {
        options.metrics?.requestDone(label, path, status, (clock.now() - started) / 1000);
      }
    },
    queueDepth: (model) => admission.depth(model),
    queueDepths: () => admission.depths(),
    speeds: () => load.speeds(),
    setPaused(value) {
      paused = value;
      log.info({ paused }, paused ? "serving paused" : "serving resumed");
    },
    paused: () => paused,
    dispose() {
      health.dispose();
      return agent.close();
    },
  };
}

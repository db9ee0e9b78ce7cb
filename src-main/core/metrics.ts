import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { NodeService } from "./nodes/nodeService";

/** What the balancer reports as it forwards requests. */
export interface BalancerMetrics {
  /** `completionTokens`: what the answer's usage said it generated, where it said. */
  requestDone(model: string, route: string, status: number, seconds: number, completionTokens?: number): void;
  firstByte(model: string, seconds: number): void;
  /**
   * One try at a node, by the node's name, and how it ended: `answered` (whatever its status),
   * `failed` before any answer (tried elsewhere), `cut` midway, or `left` (the client went).
   */
  nodeTry(node: string, outcome: NodeTryOutcome): void;
}

/** `limited`: it answered 429 (its rate limit, or its full queue), and another node was tried. */
export type NodeTryOutcome = "answered" | "failed" | "limited" | "cut" | "left";

export interface MetricsOptions {
  nodes: NodeService;
  /**
   * The models clients may ask for (registered, or served by an endpoint), read at scrape time: each
   * has a queue depth, 0 while idle. Default: none (only models with requests have one).
   */
  models?: () => readonly string[];
  /** Waiting and running requests per model, read at scrape time (a model without any may be left out). */
  queueDepths: () => { model: string; running: number; waiting: number }[];
  /** Generation speeds the balancer measured, by node id and model, read at scrape time. */
  speeds: () => { nodeId: string; model: string; tokensPerSecond: number }[];
  /** Requests sent to a node and not finished yet, by node id, read at scrape time. Default: none. */
  inFlight?: (nodeId: string) => number;
  /** The llmlb this is (`llmlb_build_info`). Default: none said. */
  version?: string;
  /** Whether serving is paused (/v1 answers 503), read at scrape time. Default: never. */
  paused?: () => boolean;
}

export interface Metrics extends BalancerMetrics {
  contentType: string;
  render(): Promise<string>;
}

// Up to 10 minutes: a long generation after a wait in the queue takes minutes.
const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

let processRegistry: Registry | undefined;

/**
 * The process's own metrics: memory, CPU, event-loop lag, handles (process_*, nodejs_*), as any Node
 * service has. Collected once a process, however many servers it runs (each would watch the event
 * loop again).
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Prometheus metrics (`GET /metrics`): requests, latency, time to first token, speed, queues, nodes, downloads. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  /** Models with requests at the last scrape: each reads 0 at the next, registered or not. */
  let hadRequests = new Set<string>();
  new Gauge({
    name: "llmlb_build_info",
    help: "The llmlb this is: 1, with its version as a label.",
    labelNames: ["version"],
    registers: [registry],
    collect() {
      this.set({ version: options.version ?? "unknown" }, 1);
    },
  });
  new Gauge({
    name: "llmlb_serving_paused",
    help: "1 while serving is paused (llmlb pause): /v1 answers 503 and running requests finish.",
    registers: [registry],
    collect() {
      this.set(options.paused?.() ? 1 : 0);
    },
  });
  const completionTokens = new Counter({
    name: "llmlb_completion_tokens_total",
    help: "Tokens generated, as the answers' usage reported them (a stream without usage says none), by model.",
    labelNames: ["model"],
    registers: [registry],
  });
  const requests = new Counter({
    name: "llmlb_requests_total",
    help: "Inference requests by model, route and HTTP status.",
    labelNames: ["model", "route", "status"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "llmlb_request_duration_seconds",
    help: "Time from receiving an inference request to its last byte.",
    labelNames: ["model", "route"],
    buckets: latencyBuckets,
    registers: [registry],
  });
  const nodeTries = new Counter({
    name: "llmlb_node_requests_total",
    help: "Requests the balancer sent to each node, by how they ended (answered, failed before any answer, limited: a 429 tried elsewhere, cut midway, left by the client).",
    labelNames: ["node", "outcome"],
    registers: [registry],
  });
  new Gauge({
    name: "llmlb_node_requests_in_flight",
    help: "Requests sent to each online node and not finished yet.",
    labelNames: ["node"],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of options.nodes.list().data)
        if (node.status === "online") this.set({ node: node.name }, options.inFlight?.(node.id) ?? 0);
    },
  });
  const firstByte = new Histogram({
    name: "llmlb_time_to_first_token_seconds",
    help: "Time from receiving an inference request to its streamed answer's first event (its first token), for streams that began.",
    labelNames: ["model"],
    buckets: latencyBuckets,
    registers: [registry],
  });
  new Gauge({
    name: "llmlb_tokens_per_second",
    help: "Generation speed the balancer measured in the last 30 s, per online node and model.",
    labelNames: ["node", "model"],
    registers: [registry],
    collect() {
      this.reset();
      // Named like the other node metrics; nodes gone offline drop out.
      const names = new Map(
        options.nodes
          .list()
          .data.filter((n) => n.status === "online")
          .map((n) => [n.id, n.name]),
      );
      for (const speed of options.speeds()) {
        const node = names.get(speed.nodeId);
        if (node) this.set({ node, model: speed.model }, speed.tokensPerSecond);
      }
    },
  });
  new Gauge({
    name: "llmlb_queue_depth",
    help: "Inference requests per model, waiting for a slot or running.",
    labelNames: ["model", "state"],
    registers: [registry],
    collect() {
      this.reset();
      // The admission queue forgets a model whose last request ended: a series that vanished would
      // leave graphs at its last value until they go stale. Each model reads 0 instead, and one with
      // requests at the last scrape that is no longer registered reads 0 once more, then drops out.
      const depths = new Map(options.queueDepths().map((depth) => [depth.model, depth]));
      for (const model of new Set([...(options.models?.() ?? []), ...hadRequests, ...depths.keys()])) {
        const depth = depths.get(model);
        this.set({ model, state: "waiting" }, depth?.waiting ?? 0);
        this.set({ model, state: "running" }, depth?.running ?? 0);
      }
      hadRequests = new Set(depths.keys());
    },
  });
  new Gauge({
    name: "llmlb_nodes",
    help: "Nodes by status.",
    labelNames: ["status"],
    registers: [registry],
    collect() {
      const nodes = options.nodes.list().data;
      for (const status of ["online", "offline"] as const) {
        this.set({ status }, nodes.filter((node) => node.status === status).length);
      }
    },
  });
  new Gauge({
    name: "llmlb_nodes_drained",
    help: "Online nodes an operator drained: out of rotation until put back (counted in llmlb_nodes as online).",
    registers: [registry],
    collect() {
      this.set(options.nodes.list().data.filter((node) => node.status === "online" && node.drained).length);
    },
  });
  new Gauge({
    name: "llmlb_node_up",
    help: "Each node, worker or endpoint: 1 while online, 0 while offline (an alert can name the node).",
    labelNames: ["node", "kind"],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of options.nodes.list().data)
        this.set({ node: node.name, kind: node.kind }, node.status === "online" ? 1 : 0);
    },
  });
  new Gauge({
    name: "llmlb_node_taking_requests",
    help: "Each node: 1 while new requests may go to it (online, not drained or stopping, not failing), else 0.",
    labelNames: ["node", "kind"],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of options.nodes.list().data) {
        const taking = node.status === "online" && !node.draining && node.health.state === "ok";
        this.set({ node: node.name, kind: node.kind }, taking ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "llmlb_node_models",
    help: "Models on online nodes, by state.",
    labelNames: ["node", "state"],
    registers: [registry],
    collect() {
      this.reset();
      // An offline node has nothing ready, whatever it last said (as `llmlb node list` counts it).
      for (const node of options.nodes.list().data.filter((n) => n.status === "online")) {
        const counts = new Map<string, number>();
        for (const model of node.models) counts.set(model.state, (counts.get(model.state) ?? 0) + 1);
        for (const [state, count] of counts) this.set({ node: node.name, state }, count);
      }
    },
  });
  new Gauge({
    name: "llmlb_download_bytes",
    help: "Bytes downloaded so far of models online nodes are downloading.",
    labelNames: ["node", "model"],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of options.nodes.list().data.filter((n) => n.status === "online")) {
        for (const model of node.models) {
          if (model.state === "downloading")
            this.set({ node: node.name, model: model.model }, model.bytes_done);
        }
      }
    },
  });

  // This server's metrics with the process's, in one scrape.
  const scraped = Registry.merge([registry, processMetrics()]);
  return {
    contentType: scraped.contentType,
    render: () => scraped.metrics(),
    requestDone(model, route, status, seconds, generated) {
      requests.inc({ model, route, status: String(status) });
      latency.observe({ model, route }, seconds);
      if (generated) completionTokens.inc({ model }, generated);
    },
    firstByte: (model, seconds) => firstByte.observe({ model }, seconds),
    nodeTry: (node, outcome) => nodeTries.inc({ node, outcome }),
  };
}

import type { Model, ModelOnNode } from "../../contract";
import { AppError } from "../../shared/errors";
import { formatBytes, formatDuration } from "../../contract/units";

/** What the control plane knows beyond the model itself. */
export interface UnavailableContext {
  /** Nodes registered here, online or not. */
  nodesKnown: number;
  /** Their names, endpoints' included: a pin naming none of them names a node removed. Default: unknown. */
  knownNodeNames?: string[];
  /** Local workers are starting or running, so a node will come. */
  workersExpected: boolean;
  /** Names of the nodes online now. */
  onlineNodeNames: string[];
  /** Names of the endpoints among them, which serve only the models they list. Default: none. */
  onlineEndpointNames?: string[];
  /** Names of the online nodes that take no new requests (stopping, or drained). Default: none. */
  drainingNodeNames?: string[];
  /** Names of the workers this llmlb runs (restarted when they end): one offline comes back. Default: none. */
  localWorkerNames?: string[];
}

/**
 * Whether a node's state of a model may take hours to change: a download, or a wait for another
 * model's. A request does not wait for those; their progress is its answer.
 */
export function takesLong(node: ModelOnNode): boolean {
  return (
    node.state === "downloading" ||
    (node.state === "pending" && (node.queued_behind !== undefined || node.waiting_for !== undefined))
  );
}

/** A transient state: a client's retry after this many seconds may succeed (two SDK retries stay short). */
const shortWait = 2;

/**
 * Why a registered model cannot be served right now, as a 503 a client can act on. Where waiting helps
 * (a download, a node starting) it says for how long, briefly, so an SDK's own retries end in an answer
 * within seconds; where it does not (no node can run the model, no node will ever come) it says so at
 * once and asks clients not to retry (`x-should-retry: false`, no Retry-After).
 */
export function unavailableError(model: Model, context: UnavailableContext): AppError {
  const id = model.name;
  const online = model.nodes.filter((node) => node.node_status === "online");
  const downloading = online.filter((node) => node.state === "downloading");
  if (downloading.length > 0) {
    const best = downloading.reduce((a, b) =>
      b.bytes_done / (b.bytes_total || 1) > a.bytes_done / (a.bytes_total || 1) ? b : a,
    );
    const percent = best.bytes_total > 0 ? Math.floor((best.bytes_done / best.bytes_total) * 100) : 0;
    const left =
      best.bytes_per_second > 0 ? (best.bytes_total - best.bytes_done) / best.bytes_per_second : undefined;
    const interrupted =
      best.interrupted !== undefined ? `; the connection broke (${best.interrupted}) and it tries again` : "";
    return new AppError(
      "model.not_ready",
      `Model ${id} is still downloading on ${best.node_name}: ${percent}% (${formatBytes(best.bytes_done)} of ${formatBytes(best.bytes_total)}${left !== undefined ? `, about ${formatDuration(left)} left` : ""})${interrupted}. Retry later.`,
      { param: "model", retryAfter: left !== undefined && left < shortWait ? 1 : shortWait },
    );
  }
  const queued = online.find((node) => node.state === "pending" && node.queued_behind !== undefined);
  if (queued?.state === "pending") {
    return new AppError(
      "model.not_ready",
      `Model ${id} waits for the download of ${queued.queued_behind} on ${queued.node_name} (a node downloads one model at a time). Retry later.`,
      { param: "model", retryAfter: shortWait },
    );
  }
  const waiting = online.find((node) => node.state === "pending" && node.waiting_for !== undefined);
  if (waiting?.state === "pending") {
    return new AppError(
      "model.not_ready",
      `Model ${id} waits on ${waiting.node_name} for ${waiting.waiting_for}. Retry later.`,
      { param: "model", retryAfter: shortWait },
    );
  }
  const preparing = online.find((node) => node.state === "pending" || node.state === "verifying");
  if (preparing) {
    return new AppError(
      "model.not_ready",
      `Model ${id} is being prepared on ${preparing.node_name} (${preparing.state}). Retry shortly.`,
      { param: "model", retryAfter: shortWait },
    );
  }
  const draining = context.drainingNodeNames ?? [];
  // Where its pin lets it be served: a node it excludes (an endpoint listing the same id) is no answer.
  const pin = model.settings.nodes;
  const readyOn = online.filter(
    (node) => node.state === "ready" && (pin.length === 0 || pin.includes(node.node_name)),
  );
  if (readyOn.length > 0 && readyOn.every((node) => draining.includes(node.node_name))) {
    const names = readyOn.map((node) => node.node_name).join(", ");
    return new AppError(
      "model.unavailable",
      `Model ${id} is ready only on ${names}, which ${readyOn.length === 1 ? "takes" : "take"} no new requests (stopping, or drained: \`llmlb node undrain <name>\`). Retry once a node serves it.`,
      { param: "model", retryAfter: shortWait },
    );
  }
  const problems = online.flatMap((node) =>
    node.state === "error"
      ? [`${node.node_name}: ${node.message}`]
      : node.state === "unsupported"
        ? [`${node.node_name}: ${node.reason}`]
        : [],
  );
  if (problems.length > 0) {
    // A node's reason is a sentence of its own, its full stop included or not.
    const told = problems.join("; ").replace(/\.?$/, ".");
    return new AppError("model.unavailable", `No node can run model ${id}: ${told}`, {
      param: "model",
      retryable: false,
    });
  }
  if (context.nodesKnown === 0 && !context.workersExpected) {
    return new AppError(
      "model.unavailable",
      "No node serves models here: this llmlb runs no workers (it was started with --workers none) and " +
        "no node has joined it. Start it with --workers auto, or run `llmlb node --join` on a machine " +
        "with a GPU, or add an OpenAI-compatible endpoint (`llmlb endpoint add`).",
      { param: "model", retryable: false },
    );
  }
  const pinned = model.settings.nodes;
  if (pinned.length > 0 && !pinned.some((name) => context.onlineNodeNames.includes(name))) {
    // This llmlb's own worker, starting (or started again after its process ended): it is on its way.
    const restarting = pinned.find((name) => context.localWorkerNames?.includes(name));
    if (restarting !== undefined) {
      return new AppError(
        "model.not_ready",
        `Model ${id} is pinned to ${pinned.join(", ")}, and ${restarting}, a worker of this llmlb, is starting. Retry shortly.`,
        { param: "model", retryAfter: shortWait },
      );
    }
    // Pinned only to names no node has any more (removed: `llmlb node rm`, `llmlb endpoint rm`).
    const known = context.knownNodeNames;
    if (known !== undefined && pinned.every((name) => !known.includes(name))) {
      return new AppError(
        "model.unavailable",
        `Model ${id} is pinned to ${pinned.join(", ")}, and ${pinned.length === 1 ? "that node was" : "those nodes were"} removed. ` +
          `Pin it anew (llmlb model set ${id} --nodes <names>), or let any node serve it (--nodes any).`,
        { param: "model", retryable: false },
      );
    }
    return new AppError(
      "model.unavailable",
      `Model ${id} is pinned to ${pinned.join(", ")}, and ${pinned.length === 1 ? "it is not" : "none of them is"} online. ` +
        `Start ${pinned.length === 1 ? "it" : "one"} again, or let other nodes serve it (llmlb model set ${id} --nodes any).`,
      { param: "model", retryAfter: shortWait },
    );
  }
  // Pinned to endpoints that are up but do not list it: they never will by themselves (an endpoint
  // serves only what it lists), and no other node may take it.
  const pinnedOnline = pinned.filter((name) => context.onlineNodeNames.includes(name));
  const endpoints = context.onlineEndpointNames ?? [];
  if (
    pinnedOnline.length > 0 &&
    pinnedOnline.every((name) => endpoints.includes(name)) &&
    !model.nodes.some((node) => pinnedOnline.includes(node.node_name))
  ) {
    const one = pinnedOnline.length === 1;
    return new AppError(
      "model.unavailable",
      `Model ${id} is pinned to ${pinnedOnline.join(", ")}, ${one ? "an endpoint that does not serve it" : "endpoints that do not serve it"} (an endpoint serves only the models it lists). ` +
        `Pin it to nodes that serve it, or let any node serve it (llmlb model set ${id} --nodes any).`,
      { param: "model", retryable: false },
    );
  }
  if (context.onlineNodeNames.length === 0 && context.nodesKnown > 0 && !context.workersExpected) {
    // Only nodes that joined could serve it, and none is online: it is theirs to come back.
    const had = [...new Set(model.nodes.map((node) => node.node_name))];
    const again = had.length > 0 ? `start ${had.join(" or ")} again, ` : "";
    return new AppError(
      "model.not_ready",
      `Model ${id} is registered, but no node is online to serve it, and this llmlb runs no workers of its own (--workers none): ${again}join a node (\`llmlb node --join\`) or add an endpoint (\`llmlb endpoint add\`).`,
      { param: "model", retryAfter: shortWait },
    );
  }
  const why =
    context.onlineNodeNames.length > 0
      ? "no node has taken it up yet"
      : context.nodesKnown === 0
        ? "llmlb is still starting its workers"
        : "no node is online to serve it";
  return new AppError("model.not_ready", `Model ${id} is registered, but ${why}. Retry shortly.`, {
    param: "model",
    retryAfter: shortWait,
  });
}

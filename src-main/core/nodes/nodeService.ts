import crypto from "node:crypto";
import type {
  LoadedModel,
  HeartbeatRequest,
  HeartbeatResponse,
  NodeList,
  NodeRegisterRequest,
  NodeRegisterResponse,
} from "../../contract";
import type { Clock } from "../clock";
import { AppError } from "../errors";
import type { Logger } from "../logger";
import type { NodeRepository } from "../registry/nodeRepository";
import type { RegistryVersion } from "../registry/registryVersion";

export interface NodeServiceOptions {
  nodes: NodeRepository;
  registryVersion: RegistryVersion;
  clock: Clock;
  log: Logger;
  /** How often nodes report. Default: 2000 ms. */
  heartbeatIntervalMs?: number;
  /** How often nodes sync the registry even without being told to. Default: 5000 ms. */
  syncIntervalMs?: number;
  /** Silence after which a node is offline. Default: three heartbeat intervals. */
  offlineAfterMs?: number;
  /** A node registered, reported or went offline; `models` are those whose state on it changed. Default: nothing. */
  onChange?: (change: NodeChange) => void;
}

export interface NodeChange {
  nodeId: string;
  models: string[];
}

/** Where a request for a model can go. */
export interface NodeRoute {
  id: string;
  /** Prefixed to the OpenAI path (`/v1/chat/completions`): an origin, or an origin and a path. */
  url: string;
  /** Sent as `Authorization: Bearer …`; an endpoint without an API key has none. */
  token?: string;
}

export interface NodeService {
  register(request: NodeRegisterRequest): NodeRegisterResponse;
  heartbeat(id: string, token: string, beat: HeartbeatRequest): HeartbeatResponse;
  /** The node a token belongs to, if any. */
  nodeForToken(token: string): string | undefined;
  list(): NodeList;
  /** The largest memory of any online node, or undefined with none online. */
  largestMemory(): number | undefined;
  /** Online nodes with the model ready, with the token to call them with. */
  routesFor(modelId: string): NodeRoute[];
  /** Tells every online node to sync now (the registry changed). */
  notifySync(): void;
  dispose(): void;
}

function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}

export function createNodeService(options: NodeServiceOptions): NodeService {
  const { nodes, clock, log } = options;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 2000;
  const syncIntervalMs = options.syncIntervalMs ?? 5000;
  const offlineAfterMs = options.offlineAfterMs ?? 3 * heartbeatIntervalMs;
  // Only hashes are stored; the tokens themselves are kept in memory to call nodes back with.
  const tokens = new Map<string, string>();
  // What each node holds in memory: live state, as fresh as its last heartbeat.
  const loaded = new Map<string, LoadedModel[]>();
  const now = () => new Date(clock.now()).toISOString();

  // The last state each node reported for each model, to tell listeners only what changed.
  const reported = new Map<string, Map<string, string>>();
  const wentOffline = new Set<string>();

  function changedModels(id: string, states: HeartbeatRequest["models"]): string[] {
    const before = reported.get(id) ?? new Map<string, string>();
    const after = new Map(states.map((state) => [state.model, JSON.stringify(state)]));
    reported.set(id, after);
    const changed = [...after]
      .filter(([model, state]) => before.get(model) !== state)
      .map(([model]) => model);
    return [...changed, ...[...before.keys()].filter((model) => !after.has(model))];
  }

  const sweeper = setInterval(() => {
    const gone = nodes.markOffline(new Date(clock.now() - offlineAfterMs).toISOString());
    if (gone.length === 0) return;
    log.warn({ nodes: gone.map((node) => node.name) }, "nodes missed their heartbeats; marked offline");
    for (const node of gone) {
      wentOffline.add(node.id);
      options.onChange?.({ nodeId: node.id, models: [...(reported.get(node.id)?.keys() ?? [])] });
    }
  }, heartbeatIntervalMs);
  sweeper.unref();

  return {
    register(request) {
      const token = `llmlb_nt_${crypto.randomBytes(24).toString("base64url")}`;
      const { id } = nodes.register(request, hashToken(token), now());
      tokens.set(id, token);
      loaded.delete(id);
      options.onChange?.({ nodeId: id, models: changedModels(id, []) });
      log.info(
        { node: id, name: request.name, backend: request.backend, url: request.url },
        "node registered",
      );
      return {
        node_id: id,
        node_token: token,
        heartbeat_interval_ms: heartbeatIntervalMs,
        sync_interval_ms: syncIntervalMs,
      };
    },
    heartbeat(id, token, beat) {
      if (!nodes.heartbeat(id, beat, now())) {
        throw new AppError("node.not_found", `Node ${id} is not registered; register again.`, {
          param: "id",
        });
      }
      tokens.set(id, token);
      loaded.set(id, beat.loaded);
      const changed = changedModels(id, beat.models);
      // Back from offline: every model's state on it reads differently (node_status) even if unchanged.
      const back = wentOffline.delete(id);
      options.onChange?.({ nodeId: id, models: back ? beat.models.map((state) => state.model) : changed });
      return { registry_version: options.registryVersion.current() };
    },
    nodeForToken(token) {
      return nodes.idByTokenHash(hashToken(token));
    },
    list: () => ({
      data: nodes
        .list()
        .map((node) => ({ ...node, loaded: node.status === "online" ? (loaded.get(node.id) ?? []) : [] })),
    }),
    largestMemory: () => nodes.largestMemory(),
    routesFor(modelId) {
      // A node whose token this process has not seen yet (it restarted) is reachable after its next heartbeat.
      return nodes.readyNodesFor(modelId).flatMap((node) => {
        const token = tokens.get(node.id);
        return token ? [{ ...node, token }] : [];
      });
    },
    notifySync() {
      for (const node of nodes.list()) {
        const token = tokens.get(node.id);
        if (node.status !== "online" || !token) continue;
        fetch(`${node.url}/v0/sync`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(2000),
        })
          .then((response) => response.body?.cancel())
          .catch((error: unknown) => log.debug({ node: node.id, err: error }, "sync notice not delivered"));
      }
    },
    dispose() {
      clearInterval(sweeper);
    },
  };
}

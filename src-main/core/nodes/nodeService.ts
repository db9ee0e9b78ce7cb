import crypto from "node:crypto";
import { Agent, fetch } from "undici";
import type {
  LoadedModel,
  LlamaCppBuild,
  HeartbeatRequest,
  ModelLoadResponse,
  ModelUnloadResponse,
  HeartbeatResponse,
  NodeInfo,
  NodeList,
  NodeRegisterRequest,
  NodeRegisterResponse,
  NodeRemoved,
} from "../../contract";
import {
  errorBodySchema,
  nodeProtocol,
  nodeProtocolVersion,
  protocolMismatch,
  protocolOf,
  type NodeRoute as NodeProtocolRoute,
  type NodeRouteRequest,
} from "../../contract";
import type { z } from "zod";
import type { Clock } from "../../shared/clock";
import { AppError, isDiskFull } from "../../shared/errors";
import type { Logger } from "../../shared/logger";
import type { NodeRepository } from "../registry/nodeRepository";
import type { RegistryVersion } from "../registry/registryVersion";
import type { NodeHealth } from "./nodeHealth";

/** How long a load asked for may take: a first load on a GPU compiles kernels for a minute or more. */
const loadCallMs = 15 * 60_000;
/** The control plane's calls to nodes: each bounded by its own timeout, none by the agent's. */
const nodeCalls = new Agent({ headersTimeout: 0, bodyTimeout: 0 });

export interface NodeServiceOptions {
  nodes: NodeRepository;
  registryVersion: RegistryVersion;
  clock: Clock;
  log: Logger;
  /** Told when nodes go offline and come back; what listings say of each node's health. */
  health: NodeHealth;
  /** How often nodes report. Default: 2000 ms. */
  heartbeatIntervalMs?: number;
  /** How often nodes sync the registry even without being told to. Default: 5000 ms. */
  syncIntervalMs?: number;
  /** Silence after which a node is offline. Default: three heartbeat intervals. */
  offlineAfterMs?: number;
  /**
   * A node registered, reported, went offline or was removed; `models` are those whose state on it
   * changed. Default: nothing.
   */
  onChange?: (change: NodeChange) => void;
  /** A node was just marked offline (missed heartbeats, or its process ended), and why. Default: nothing. */
  onOffline?: (nodeId: string, reason: string) => void;
  /** Whether an endpoint has this name: a node may not take it (lists and pinned settings name both). Default: none has. */
  endpointNamed?: (name: string) => boolean;
  /** Whether a worker of this llmlb itself has this name (it cannot be removed while it runs). Default: none has. */
  localWorkerNamed?: (name: string) => boolean;
  /** The llmlb this control plane is, told to nodes as they register. */
  version?: string;
}

export interface NodeChange {
  nodeId: string;
  models: string[];
  /** The node is gone from listings (removed by hand). Default: false. */
  removed?: boolean;
}

/** Where a request for a model can go. */
/** A model a worker holds, and the model whose load it shares (registered for one file, in one setting). */
export interface HeldModel {
  model: string;
  sharesLoadWith?: string;
}

export interface NodeRoute {
  id: string;
  /** The node's name (an endpoint's is the one it was added under): what settings pin models to. */
  name: string;
  /** Prefixed to the OpenAI path (`/v1/chat/completions`): an origin, or an origin and a path. */
  url: string;
  /** Sent as `Authorization: Bearer …`; an endpoint without an API key has none. */
  token?: string;
  /** An llmlb worker (checked at `/v0/health`) or an endpoint (checked at `/v1/models`). Default: worker. */
  kind?: "worker" | "endpoint";
  /**
   * Requests it runs at once for this model: a worker's, as it reported once loaded; an endpoint's, its
   * `parallel`. Default: unknown (the balancer's `slotsPerNode`).
   */
  slots?: number;
  /**
   * A worker's: the models it said it holds at its last report (by id, with the model whose load each
   * shares, where it shares one), and the most it holds at once (loading one more unloads another).
   * Default: none said; no limit known.
   */
  holds?: HeldModel[];
  maxLoaded?: number;
  /** When that report came, by this llmlb's clock: what was sent to it before, it counted. */
  reportedAt?: number;
  /** An endpoint that is another llmlb: its instance id, by which a request it sent here is known. */
  instance?: string;
}

export interface NodeService {
  /**
   * A worker registers with `credential`: the node token (or the admin token, or this llmlb's own
   * workers' secret), or its own token from its last registration, which is good for its own name only.
   */
  register(request: NodeRegisterRequest, credential?: string): NodeRegisterResponse;
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
  /**
   * Asks every online worker node to try a failed model again now (one that crashed its worker, one
   * whose download failed); says what each did. A node that does not answer counts as not retried.
   */
  retry(modelId: string): Promise<{ node_name: string; retried: boolean }[]>;
  /**
   * Asks every online worker node to load a model now, and answers once each has (a first load on a
   * GPU may take minutes) or said why not.
   */
  load(modelId: string, nodeName?: string, ttlSeconds?: number): Promise<ModelLoadResponse["nodes"]>;
  /** Asks every online worker node to let a model go (now, or once its running requests end). */
  unload(modelId: string, nodeName?: string): Promise<ModelUnloadResponse["nodes"]>;
  /**
   * The process of this node (a local worker, by name) is gone: offline now, not once its
   * heartbeats are missed.
   */
  workerGone(name: string): void;
  /**
   * Removes a worker node (by id, else by name) and its models' states: it is listed nowhere any
   * more, and its token stops working, so should it come back it registers afresh. `node.not_found`
   * when no worker node has that id or name; `node.online` for one online, unless `force` (another
   * machine's: one of this llmlb's own workers is refused while it runs).
   */
  remove(idOrName: string, options?: { force?: boolean }): NodeRemoved;
  /**
   * An operator takes a worker node out of rotation (its running requests finish; nothing new goes to
   * it) or puts it back; kept until undone, across restarts. The node as listed now.
   */
  setDraining(idOrName: string, draining: boolean): NodeInfo;
  /**
   * Stops marking silent nodes offline: a control plane that drains no longer accepts connections,
   * its nodes' heartbeats among them, while those nodes still answer its running requests.
   */
  stopWatching(): void;
  dispose(): void;
}

function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}

export function createNodeService(options: NodeServiceOptions): NodeService {
  const { nodes, clock, log, health } = options;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 2000;
  const syncIntervalMs = options.syncIntervalMs ?? 5000;
  const offlineAfterMs = options.offlineAfterMs ?? 3 * heartbeatIntervalMs;
  // Only hashes are stored; the tokens themselves are kept in memory to call nodes back with.
  const tokens = new Map<string, string>();
  // What each node holds in memory and the llama.cpp it runs: live state, as fresh as its last
  // heartbeat (a restarted worker says again).
  const live = new Map<
    string,
    {
      loaded: LoadedModel[];
      llama_cpp?: LlamaCppBuild;
      draining?: true;
      max_loaded_models?: number;
      /** When this report came, by this llmlb's clock (not listed). */
      reportedAt: number;
    }
  >();
  /** The llmlb each node runs (by id), as it said when it registered last. */
  const versions = new Map<string, string>();
  /** Worker nodes an operator drained (by id): out of rotation whatever they say, until put back. */
  const drained = new Set<string>(nodes.drainedIds());
  if (drained.size > 0) {
    const names = nodes
      .list()
      .filter((node) => drained.has(node.id))
      .map((node) => node.name);
    log.warn(
      { nodes: names },
      "nodes an operator drained stay out of rotation: llmlb node undrain <name> puts one back",
    );
  }
  const now = () => new Date(clock.now()).toISOString();
  // Where each model is ready, as of a registry version (every change of readiness bumps it).
  let readyCache = {
    version: -1,
    byModel: new Map<string, { id: string; name: string; url: string }[]>(),
  };

  function wentOffline(node: { id: string }, reason: string): void {
    health.wentOffline(node.id, reason);
    options.onOffline?.(node.id, reason);
    options.onChange?.({
      nodeId: node.id,
      models: (nodes.list().find((listed) => listed.id === node.id)?.models ?? []).map((m) => m.model),
    });
  }

  // Nodes the last run heard from have not spoken to this one yet: until they do (within a heartbeat;
  // a restarted worker registers anew), their models are not ready here, and nothing is sent to the
  // addresses they had. Said as it is, not "online" for the seconds until the sweep below.
  const lastRun = nodes.markOffline(new Date(clock.now() + 1).toISOString());
  if (lastRun.length > 0)
    log.info({ nodes: lastRun.map((node) => node.name) }, "nodes of the last run wait to be heard from");

  // A node is silent only when it was not heard while this control plane was there to hear it. A
  // laptop that slept, or a control plane stopped (SIGSTOP) or starved of its thread, heard nobody
  // meanwhile: its nodes get a whole offline cutoff from its return to speak again, rather than being
  // marked offline for a silence that was its own, with their requests called off.
  let lastSweep = clock.now();
  let awakeSince = lastSweep;
  const sweeper = setInterval(() => {
    const sweptAt = clock.now();
    if (sweptAt - lastSweep > 2 * heartbeatIntervalMs) awakeSince = sweptAt;
    lastSweep = sweptAt;
    if (sweptAt - awakeSince < offlineAfterMs) return;
    // Heartbeats heard but not recorded lately (a full disk): their nodes' silence in the registry is
    // not theirs. Some writes may still get through meanwhile, this sweep's among them.
    if (unrecordedBeatAt !== undefined && sweptAt - unrecordedBeatAt < offlineAfterMs) return;
    let gone: ReturnType<typeof nodes.markOffline>;
    try {
      gone = nodes.markOffline(new Date(sweptAt - offlineAfterMs).toISOString());
    } catch (error) {
      // The registry cannot be written (a full disk): the nodes stay as they were, and this is tried
      // again at the next sweep. A timer's throw would end the whole control plane.
      registryUnwritable(error);
      return;
    }
    if (gone.length === 0) return;
    log.warn({ nodes: gone.map((node) => node.name) }, "nodes missed their heartbeats; marked offline");
    for (const node of gone) {
      // One that said it was stopping has stopped, as its machine asked: not a node gone silent.
      const stopped = live.get(node.id)?.draining === true;
      live.delete(node.id);
      wentOffline(
        node,
        stopped
          ? "It was stopped on its machine."
          : `It stopped sending heartbeats (silent for over ${offlineAfterMs / 1000} s).`,
      );
    }
  }, heartbeatIntervalMs);
  sweeper.unref();

  /**
   * Says once (until a write succeeds again) that the registry cannot be written: with a full disk,
   * llmlb goes on serving with what it knows, as it can.
   */
  let unwritable = false;
  /** When a heartbeat was last heard and not recorded (the registry could not be written). */
  let unrecordedBeatAt: number | undefined;
  function registryUnwritable(error: unknown): void {
    if (!isDiskFull(error)) {
      log.error({ err: error }, "the registry could not be written");
      return;
    }
    if (!unwritable)
      log.error(
        { err: (error as Error).message },
        "the disk holding llmlb's data directory is full: nodes' reports are not recorded until there is room; models already ready keep serving",
      );
    unwritable = true;
  }

  /**
   * A heartbeat recorded, or, where the registry cannot be written (a full disk), taken as changing
   * nothing recorded: the node is heard (its loaded models, its draining), and what it reports of its
   * models waits for a write that succeeds. Undefined for a node not registered.
   */
  function recordHeartbeat(id: string, beat: HeartbeatRequest) {
    try {
      const result = nodes.heartbeat(id, beat, now());
      unwritable = false;
      return result;
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      registryUnwritable(error);
      unrecordedBeatAt = clock.now();
      // Read, which a full disk allows: a node not registered is told so, to register again.
      if (!nodes.list().some((node) => node.id === id)) return undefined;
      return { cameOnline: false, changed: [] as string[], recorded: [] as string[] };
    }
  }

  /** Online nodes this control plane can call (it holds their token). */
  /**
   * Sync notices on their way, by node: one at a time per node, and one more after it for whatever
   * changed meanwhile (a node syncs the whole registry). A burst of changes (a script that registers
   * a thousand models) otherwise opened a connection per change per node.
   */
  const notices = new Map<string, "sent" | "again">();
  function notifySyncTo(node: { id: string; name: string; url: string }): void {
    if (notices.has(node.id)) {
      notices.set(node.id, "again");
      return;
    }
    notices.set(node.id, "sent");
    callNode(node, nodeProtocol.sync, undefined, 2000)
      .then((response) => response.body?.cancel())
      .catch((error: unknown) =>
        log.debug({ node: node.name, node_id: node.id, err: error }, "sync notice not delivered"),
      )
      .finally(() => {
        const again = notices.get(node.id) === "again";
        notices.delete(node.id);
        // As it is now: it may have registered again meanwhile, at another address.
        const current = again ? onlineWorkers().find((online) => online.id === node.id) : undefined;
        if (current) notifySyncTo(current);
      });
  }

  /**
   * Whether this control plane can reach a node that just registered, at the address it gave: one
   * behind a firewall, or advertising an address only it knows, would be listed online and healthy
   * until the first request failed there. Unreachable, it is failing from the start, with why (and
   * checked until it answers).
   */
  function checkReachable(route: NodeRoute): void {
    fetch(`${route.url}${nodeProtocol.health.path}`, { signal: AbortSignal.timeout(5000) })
      .then((response) => response.body?.cancel())
      .catch((error: unknown) => {
        if (tokens.get(route.id) !== route.token) return;
        const why =
          (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : String(error);
        log.warn(
          { node: route.name, node_id: route.id, url: route.url, err: why },
          "cannot reach a node that registered",
        );
        health.failed(
          route,
          `This llmlb cannot reach it at ${route.url} (${why}): check its --advertise-host, and that its firewall lets this machine in.`,
        );
      });
  }

  const onlineWorkers = () => nodes.list().filter((node) => node.status === "online" && tokens.has(node.id));
  /**
   * A call to a node's own server (the node protocol's push side), with its token, bounded by
   * `timeoutMs` alone (Node's fetch would give up on a load's answer after 5 minutes).
   */
  const callNode = <R extends NodeProtocolRoute>(
    node: { id: string; url: string },
    route: R,
    body: NodeRouteRequest<R>,
    timeoutMs: number,
  ) =>
    fetch(`${node.url}${route.path}`, {
      method: route.method,
      headers: {
        authorization: `Bearer ${tokens.get(node.id)!}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      dispatcher: nodeCalls,
    });

  /**
   * Asks each of `workers` the same at once: `answered` reads an answer, `refused` makes what a
   * worker that refused says (its message; undefined where the call did not get through).
   */
  async function askWorkers<R extends NodeProtocolRoute & { response: z.ZodType }, T>(
    workers: { id: string; name: string; url: string }[],
    route: R,
    body: NodeRouteRequest<R>,
    timeoutMs: number,
    read: {
      answered: (node: { name: string }, answer: z.output<R["response"]>) => T;
      refused: (node: { name: string }, message: string | undefined) => T;
    },
  ): Promise<T[]> {
    return Promise.all(
      workers.map(async (node) => {
        let response: Awaited<ReturnType<typeof callNode>>;
        try {
          response = await callNode(node, route, body, timeoutMs);
        } catch (error) {
          log.warn(
            { node: node.name, node_id: node.id, path: route.path, err: error },
            "call to a node not delivered",
          );
          return read.refused(node, undefined);
        }
        const json: unknown = await response.json().catch(() => undefined);
        if (response.ok) {
          const answer = route.response.safeParse(json);
          if (answer.success) return read.answered(node, answer.data as z.output<R["response"]>);
        }
        const message =
          // Said under the node's name: "gpu-1: It runs an llmlb older…".
          response.status === 404
            ? "It runs an llmlb older than this one, which cannot do this."
            : response.ok
              ? "It answered something this llmlb does not understand."
              : (errorBodySchema.safeParse(json).data?.error.message ?? `It answered ${response.status}.`);
        log.warn(
          { node: node.name, node_id: node.id, path: route.path, status: response.status },
          "a node refused a call",
        );
        return read.refused(node, message);
      }),
    );
  }

  /** A load's or unload's outcome at a worker that refused (its words) or could not be asked. */
  const refusedOutcome = (node: { name: string }, message: string | undefined) =>
    message === undefined
      ? { node_name: node.name, outcome: "unreachable" as const }
      : { node_name: node.name, outcome: "failed" as const, message };

  /**
   * The online workers a load or unload goes to: all but the drained ones, or the one named (which
   * must be online).
   */
  function asked(nodeName: string | undefined) {
    // A drained node takes no requests: nothing is loaded there unless it is named.
    if (nodeName === undefined) {
      const drained = new Set(nodes.drainedIds());
      return onlineWorkers().filter((node) => !drained.has(node.id));
    }
    const node = nodes.list().find((candidate) => candidate.name === nodeName || candidate.id === nodeName);
    if (!node && options.endpointNamed?.(nodeName))
      throw new AppError(
        "node.is_endpoint",
        `${nodeName} is an endpoint, which loads and unloads its models itself.`,
        { param: "node" },
      );
    if (!node)
      throw new AppError("node.not_found", `There is no worker node named ${nodeName}.`, { param: "node" });
    const online = onlineWorkers().find((candidate) => candidate.id === node.id);
    if (!online) throw new AppError("node.offline", `Node ${node.name} is offline.`, { param: "node" });
    return [online];
  }

  /** A worker node by its id, else its name; `node.not_found` for none. */
  function workerNamed(idOrName: string) {
    const listed = nodes.list();
    const node =
      listed.find((candidate) => candidate.id === idOrName) ??
      listed.find((candidate) => candidate.name === idOrName);
    if (!node)
      throw new AppError("node.not_found", `There is no node named or with id ${idOrName}.`, { param: "id" });
    return node;
  }

  /** Every node as listed: its health, and what an online one holds and says now. */
  const list = (): NodeList => ({
    data: nodes.list().map((node) => {
      const listed = {
        ...node,
        health: health.of(node),
        loaded: [],
        ...(drained.has(node.id) && { draining: true, drained: true }),
        ...(options.localWorkerNamed?.(node.name) && { local: true }),
      };
      // What it says (draining when stopping) adds to the operator's drain; it never takes it back.
      if (node.status !== "online") return listed;
      const version = versions.get(node.id);
      const { reportedAt: _reportedAt, ...reported } = live.get(node.id) ?? {};
      return { ...listed, ...reported, ...(version !== undefined && { llmlb_version: version }) };
    }),
  });

  return {
    register(request, credential) {
      // A node of another protocol would misread this control plane, and be misread: told at once.
      const theirs = protocolOf(request.protocol);
      if (theirs !== nodeProtocolVersion) {
        throw new AppError(
          "node.protocol_mismatch",
          protocolMismatch(
            { who: "This node", version: request.llmlb_version, protocol: theirs },
            { who: "this control plane", version: options.version, protocol: nodeProtocolVersion },
          ),
          { param: "protocol" },
        );
      }
      // A worker started again, with the token it was given last: itself, whatever the node token is now.
      const holder = credential === undefined ? undefined : nodes.idByTokenHash(hashToken(credential));
      if (holder !== undefined && nodes.list().find((node) => node.id === holder)?.name !== request.name) {
        throw new AppError("auth.invalid_token", "This node token belongs to another node.");
      }
      if (options.endpointNamed?.(request.name)) {
        throw new AppError(
          "node.name_taken",
          `An endpoint is named ${request.name}: give this node another name (llmlb node --join … --name <name>), or remove the endpoint (llmlb endpoint rm ${request.name}).`,
          { param: "name" },
        );
      }
      const known = nodes.list().find((node) => node.name === request.name);
      // Another node online under this name (two machines with one host name): each would take the
      // other's row back at its next heartbeat, forever. It gets the name once that one is gone. (A row
      // left online by a control plane that stopped, whose node has not been heard from since, is gone.)
      // One that is stopping (its machine restarting it) gives its name up at once. Its own token is no
      // exception: two processes sharing a data directory (a service started twice, a cloned disk)
      // hold the same one, and would take the row from each other forever.
      if (
        known?.status === "online" &&
        tokens.has(known.id) &&
        known.url !== request.url &&
        !live.get(known.id)?.draining
      ) {
        throw new AppError(
          "node.name_taken",
          holder === known.id
            ? // Its own token: most often a worker killed and started again at once (on a new port).
              `This node's last run (at ${known.url}) is still listed online: this one joins once that one's heartbeats stop (within seconds). If it still runs (a second process on the same data directory), stop one of them.`
            : `A node named ${request.name} is online at ${known.url} already. Give this one another name (llmlb node --join … --name <name>), or stop the other one.`,
          { param: "name" },
        );
      }
      const token = `llmlb_nt_${crypto.randomBytes(24).toString("base64url")}`;
      // A worker that restarted starts over: what it had is re-reported by its first heartbeat.
      const had = known?.models ?? [];
      const { id } = nodes.register(request, hashToken(token), now());
      tokens.set(id, token);
      live.delete(id);
      if (request.llmlb_version !== undefined) versions.set(id, request.llmlb_version);
      else versions.delete(id);
      health.cameOnline(id);
      checkReachable({ id, name: request.name, url: request.url, token });
      options.onChange?.({ nodeId: id, models: had.map((state) => state.model) });
      log.info(
        { node: request.name, node_id: id, backend: request.backend, url: request.url },
        "node registered",
      );
      return {
        node_id: id,
        node_token: token,
        heartbeat_interval_ms: heartbeatIntervalMs,
        sync_interval_ms: syncIntervalMs,
        ...(options.version !== undefined && { llmlb_version: options.version }),
        protocol: nodeProtocolVersion,
      };
    },
    heartbeat(id, token, beat) {
      const result = recordHeartbeat(id, beat);
      if (!result) {
        throw new AppError("node.not_found", `Node ${id} is not registered; register again.`, {
          param: "id",
        });
      }
      tokens.set(id, token);
      const wasDraining = live.get(id)?.draining === true;
      const named = () => nodes.list().find((node) => node.id === id)?.name;
      if (result.cameOnline) {
        health.cameOnline(id);
        log.info({ node: named(), node_id: id }, "node back online: it heartbeats again");
      }
      live.set(id, {
        reportedAt: clock.now(),
        loaded: beat.loaded,
        ...(beat.llama_cpp ? { llama_cpp: beat.llama_cpp } : {}),
        ...(beat.draining ? { draining: true } : {}),
        ...(beat.max_loaded_models !== undefined ? { max_loaded_models: beat.max_loaded_models } : {}),
      });
      if (beat.draining && !wasDraining)
        log.info({ node: named(), node_id: id }, "node stopping: no new requests go to it");
      // Back from offline: every model on it reads differently (node_status) even if its state did not change.
      options.onChange?.({ nodeId: id, models: result.cameOnline ? result.recorded : result.changed });
      return { registry_version: options.registryVersion.current() };
    },
    nodeForToken(token) {
      return nodes.idByTokenHash(hashToken(token));
    },
    list,
    largestMemory: () => nodes.largestMemory(),
    routesFor(modelId) {
      // The balancer asks on every request: the registry is read once per model and registry version.
      if (readyCache.version !== options.registryVersion.current()) {
        readyCache = { version: options.registryVersion.current(), byModel: new Map() };
      }
      let ready = readyCache.byModel.get(modelId);
      if (!ready) {
        ready = nodes.readyNodesFor(modelId);
        // Only models some node has: clients can name any model, and must not grow this map.
        if (ready.length > 0) readyCache.byModel.set(modelId, ready);
      }
      // A node whose token this process has not seen yet (it restarted) is reachable after its next heartbeat.
      // A plain loop, no spreads: this runs for every inference request.
      const routes: NodeRoute[] = [];
      for (const node of ready) {
        const token = tokens.get(node.id);
        // Stopping, or drained: what it runs finishes there, nothing new goes to it.
        if (!token || live.get(node.id)?.draining || drained.has(node.id)) continue;
        const route: NodeRoute = { id: node.id, name: node.name, url: node.url, token };
        const state = live.get(node.id);
        const slots = state?.loaded.find((entry) => entry.model === modelId)?.sequences;
        if (slots) route.slots = slots;
        if (state) route.reportedAt = state.reportedAt;
        if (state?.max_loaded_models !== undefined) {
          route.holds = state.loaded.map((entry) => ({
            model: entry.model,
            ...(entry.shares_load_with !== undefined ? { sharesLoadWith: entry.shares_load_with } : {}),
          }));
          route.maxLoaded = state.max_loaded_models;
        }
        routes.push(route);
      }
      return routes;
    },
    notifySync() {
      for (const node of onlineWorkers()) notifySyncTo(node);
    },
    async retry(modelId) {
      return askWorkers(onlineWorkers(), nodeProtocol.retry, { model: modelId }, 5000, {
        answered: (node, answer) => ({ node_name: node.name, retried: answer.retried }),
        // Not delivered: not retried there.
        refused: (node) => ({ node_name: node.name, retried: false }),
      });
    },
    async load(modelId, nodeName, ttlSeconds) {
      const body = { model: modelId, ...(ttlSeconds !== undefined && { ttl: ttlSeconds }) };
      return askWorkers(asked(nodeName), nodeProtocol.load, body, loadCallMs, {
        answered: (node, answer): ModelLoadResponse["nodes"][number] => ({ node_name: node.name, ...answer }),
        refused: refusedOutcome,
      });
    },
    async unload(modelId, nodeName) {
      return askWorkers(asked(nodeName), nodeProtocol.unload, { model: modelId }, 10_000, {
        answered: (node, answer): ModelUnloadResponse["nodes"][number] => ({
          node_name: node.name,
          outcome: answer.outcome,
        }),
        refused: refusedOutcome,
      });
    },
    workerGone(name) {
      let node: ReturnType<typeof nodes.markNamedOffline>;
      try {
        node = nodes.markNamedOffline(name);
      } catch (error) {
        // Called as the process exits, where a throw would end the control plane: said, not thrown.
        registryUnwritable(error);
        return;
      }
      if (!node) return;
      live.delete(node.id);
      log.warn({ node: name, node_id: node.id }, "worker process gone; marked offline");
      wentOffline(node, "Its worker process ended.");
    },
    remove(idOrName, { force = false } = {}) {
      const node = workerNamed(idOrName);
      const online = node.status === "online";
      // This llmlb's own worker that runs would register again at once, with this llmlb's own secret.
      if (online && options.localWorkerNamed?.(node.name)) {
        throw new AppError(
          "node.online",
          `Node ${node.name} is one of this llmlb's own workers, and runs: it would join again at once. The workers llmlb starts are chosen with --workers.`,
          { param: "id" },
        );
      }
      // Its next heartbeat would be refused and it would register again at once, with the node token
      // it joined with: removed for nothing, unless that token was replaced (a machine to keep out).
      if (online && !force) {
        throw new AppError(
          "node.online",
          `Node ${node.name} is online: it would register again at its next heartbeat. Stop it first (its \`llmlb serve\` or \`llmlb node --join\`), then remove it once it shows offline; or, to keep its machine out, replace the node token (llmlb node token --replace), then remove it with --force.`,
          { param: "id" },
        );
      }
      const models = (nodes.remove(node.id) ?? []).sort();
      tokens.delete(node.id);
      live.delete(node.id);
      versions.delete(node.id);
      drained.delete(node.id);
      health.forget(node.id);
      log.info({ node: node.name, node_id: node.id, url: node.url, online }, "node removed");
      options.onChange?.({ nodeId: node.id, models, removed: true });
      return { id: node.id, name: node.name, url: node.url, models, ...(online && { was_online: true }) };
    },
    setDraining(idOrName, draining) {
      const node = workerNamed(idOrName);
      if (draining === drained.has(node.id)) return list().data.find((entry) => entry.id === node.id)!;
      nodes.setDrained(node.id, draining);
      if (draining) drained.add(node.id);
      else drained.delete(node.id);
      log.info(
        { node: node.name, node_id: node.id, draining },
        draining ? "node drained" : "node back in rotation",
      );
      options.onChange?.({ nodeId: node.id, models: [] });
      return list().data.find((entry) => entry.id === node.id)!;
    },
    stopWatching: () => clearInterval(sweeper),
    dispose() {
      clearInterval(sweeper);
    },
  };
}

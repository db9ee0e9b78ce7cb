import crypto from "node:crypto";
import path from "node:path";
import { systemClock, type Clock } from "../shared/clock";
import { checkExposure, type Config } from "./config";
import { isLoopbackHost } from "../shared/httpGuards";
import os from "node:os";
import {
  clearServerInfo,
  dataFiles,
  ensureDataDir,
  loadOrCreateAdminToken,
  writeServerInfo,
} from "./dataDir";
import { lockDataDir } from "./dataDirLock";
import { createHubClient, type HubClient } from "./hub/hubClient";
import { readCachedRepo } from "./hub/cachedRepo";
import { createMetadataService } from "./hub/metadataService";
import type { Logger } from "../shared/logger";
import { createModelService, type ModelService } from "./models/modelService";
import { createHubCacheRepository } from "./registry/hubCacheRepository";
import { createBalancer, type BalancerOptions } from "./balancer/balancer";
import { createMetrics } from "./metrics";
import { createNodeHealth } from "./nodes/nodeHealth";
import { createNodeService, type NodeService } from "./nodes/nodeService";
import { createModelRepository } from "./registry/modelRepository";
import { createNodeRepository } from "./registry/nodeRepository";
import { createEndpointRepository } from "./registry/endpointRepository";
import { createResponseRepository } from "./registry/responseRepository";
import { createEndpointService } from "./endpoints/endpointService";
import { withEndpoints } from "./endpoints/withEndpoints";
import { createRegistryVersion } from "./registry/registryVersion";
import { createGpuBuildService, type GpuBuildServiceOptions } from "./gpuBuild/gpuBuildService";
import type { Supervisor, WorkerStatus } from "./supervisor/supervisor";
import { startLocalWorkers } from "./supervisor/startLocalWorkers";
import type { WorkerLauncher } from "./supervisor/workerLauncher";
import { openDatabase, type DatabaseUpgrade } from "./registry/openDatabase";
import { createHttpServer, type HttpApp } from "./server/createHttpServer";
import { type BackendLeftOut, type ServerEvent, type Status } from "../contract";
import { createRequestLog } from "./requestLog";
import { createEventBus, type EventBus } from "./events/eventBus";
import { createDisposeStack, type DisposeStack } from "../shared/disposeStack";
import { plainHfTokenStore, type SecretStore } from "./settings/secretStore";
import { createSettingsService, type LoginItem, type SettingsService } from "./settings/settingsService";
import { createJoinToken, joinInfo } from "./nodes/joinToken";

export interface CoreOptions {
  config: Config;
  log: Logger;
  version: string;
  /** The hub; tests may pass their own. Default: `@huggingface/hub` against config.hubEndpoint. */
  hub?: HubClient;
  clock?: Clock;
  /** The built dashboard folder. Default: none (a plain-text page at `/`). */
  rendererDir?: string;
  /** Starts local worker processes (config.workers says how many). Default: none are started. */
  workerLauncher?: WorkerLauncher;
  /**
   * Quits the app the way its host does (the tray's Quit, Ctrl-C): asked for by `POST /v0/quit`.
   * Default: none, and that route refuses.
   */
  requestQuit?: () => void;
  /** Each line a local worker prints, with its node name. Default: its output is this process's. */
  onWorkerOutput?: (name: string, line: string) => void;
  /** Admission queue and node slots. Default: 4 slots a node, 64 waiting a model, 30 s wait. */
  balancer?: Pick<
    BalancerOptions,
    "admission" | "slotsPerNode" | "nodeWaitMs" | "endpointIdleTimeoutMs" | "clientStallMs"
  >;
  /**
   * How long a local worker found offline (its heartbeats missed) while its process lives may stay
   * silent before it is ended and started again. Default: 10000 ms (some 16 s of silence in all).
   */
  unresponsiveWorkerGraceMs?: number;
  /** Node timings, shortened by tests. Default: heartbeats every 2 s, syncs every 5 s. */
  nodeTimings?: { heartbeatIntervalMs?: number; syncIntervalMs?: number; offlineAfterMs?: number };
  /** Endpoint health checks, shortened by tests. Default: every 10 s, each given 5 s to answer. */
  endpointTimings?: { healthIntervalMs?: number; probeTimeoutMs?: number };
  /** Where a Hugging Face token set from the app is kept. Default: a 0600 file in the data directory. */
  hfTokenStore?: SecretStore;
  /** Start at login (the desktop app). Default: none. */
  loginItem?: LoginItem;
  /** How long quitting waits for running requests before stopping the workers. Default: the config's. */
  drainTimeoutMs?: number;
  /**
   * The port is in use: `fail` (llmlb serve: a script means that port), or `use-another` (the desktop
   * app, which a user cannot restart with --port): the next few ports, then any free one, with a
   * warning. Default: fail.
   */
  whenPortTaken?: "fail" | "use-another";
  /**
   * Building llama.cpp for this GPU from the dashboard (`/v0/gpu/build`): why it cannot be done
   * here (`unavailable`), and, for tests, the tools' environment and the build to run. Default:
   * available, node-llama-cpp's source build with this process's environment.
   */
  gpuBuild?: Omit<GpuBuildServiceOptions, "log" | "clock" | "onChange">;
}

export interface Core {
  readonly adminToken: string;
  readonly app: HttpApp;
  readonly models: ModelService;
  readonly nodes: NodeService;
  readonly settings: SettingsService;
  /** Model, node and serving changes (what `GET /v0/events` streams). */
  readonly events: Pick<EventBus, "subscribe">;
  /** The base URL once listening. */
  url(): string | undefined;
  status(): Status;
  /** Pauses or resumes serving inference: /v1 answers 503 while paused; running requests finish. */
  setPaused(paused: boolean): void;
  /** Local workers and their states. */
  workers(): WorkerStatus[];
  /** GPU backends this machine's device probe left out, and why (known once workers have started). */
  backendsLeftOut(): BackendLeftOut[];
  /** The database an older llmlb wrote, migrated at this start, and where it is kept as it was. */
  upgradedDatabase(): DatabaseUpgrade | undefined;
  /**
   * Starts listening and resolves with the base URL (http://host:port); the local workers start after
   * that, in the background (finding the GPUs may take a while).
   */
  listen(): Promise<string>;
  /** Resolves once the local workers have started (or none will). */
  workersStarted(): Promise<void>;
  /**
   * Stops accepting, lets running requests finish (up to the drain timeout), stops the workers, closes
   * the server and the database; safe to call twice.
   */
  dispose(): Promise<void>;
}

/** Ports tried after a taken one before any free port: clients set to one of them may find it again. */
const nextPortsTried = 10;

/** The next free port of the few after `taken`, else any free one. Throws what is not "in use". */
async function listenOnAnotherPort(app: HttpApp, log: Logger, host: string, taken: number): Promise<void> {
  const candidates = Array.from({ length: nextPortsTried }, (_, index) => taken + 1 + index).filter(
    (port) => port <= 65535,
  );
  for (const port of [...candidates, 0]) {
    try {
      await app.listen({ host, port });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") continue;
      throw error;
    }
    const address = app.server.address();
    const now = typeof address === "object" && address ? address.port : port;
    log.warn(
      { port: taken, listening: now },
      `Port ${taken} is in use (another llmlb, or another program): listening on ${now} instead. Settings (or LLMLB_PORT) chooses the port.`,
    );
    return;
  }
  throw new Error(`Port ${taken} on ${host} is in use, and no other port could be had.`);
}

/**
 * The composition root: builds everything, each part registering its teardown as it is made, and
 * disposes it in reverse order; a start that fails part way undoes what it had built (the data
 * directory's lock, the database, timers) before it throws.
 */
export async function createCore(options: CoreOptions): Promise<Core> {
  const teardown = createDisposeStack();
  try {
    return await buildCore(options, teardown);
  } catch (error) {
    await teardown
      .dispose()
      .catch((cleanup: unknown) => options.log.warn({ err: cleanup }, "cleaning up after a failed start"));
    throw error;
  }
}

async function buildCore(options: CoreOptions, teardown: DisposeStack): Promise<Core> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  checkExposure(config);
  ensureDataDir(config.dataDir);
  teardown.defer(lockDataDir(config.dataDir));
  const adminToken = loadOrCreateAdminToken(config.dataDir, config.adminToken);
  const joinToken = createJoinToken({ dataDir: config.dataDir, configured: config.nodeToken });
  const registryVersion = createRegistryVersion();
  const events = createEventBus();
  const startedAt = clock.now();
  const instanceId = crypto.randomUUID();
  const uptimeSeconds = () => Math.round((clock.now() - startedAt) / 1000);
  /** The base URL once listening. */
  let listeningUrl: string | undefined;
  const listeningPort = () => (listeningUrl === undefined ? config.port : Number(new URL(listeningUrl).port));
  const settings = await createSettingsService({
    config,
    hfTokenStore:
      options.hfTokenStore ?? plainHfTokenStore(config.dataDir, log.child({ module: "settings" })),
    loginItem: options.loginItem,
    log: log.child({ module: "settings" }),
    // Running workers are told; the token is in the environment of those started later.
    onHfTokenChange: (token) => supervisor?.setHfToken(token),
    listeningPort: () => (listeningUrl === undefined ? undefined : Number(new URL(listeningUrl).port)),
  });
  let upgradedDatabase: DatabaseUpgrade | undefined;
  const db = openDatabase({
    file: path.join(config.dataDir, dataFiles.database),
    log: log.child({ module: "registry" }),
    onUpgraded: (upgrade) => (upgradedDatabase = upgrade),
  });
  teardown.defer(() => void db.close());
  const hub =
    options.hub ??
    createHubClient({
      endpoint: config.hubEndpoint,
      token: () => settings.hfToken(),
      tokenSource: () => settings.hfTokenSource(),
    });
  const metadata = createMetadataService({
    hub,
    cache: createHubCacheRepository(db),
    clock,
    log: log.child({ module: "hub" }),
    readCache: (repo, revision) => readCachedRepo(config.hubCacheDir, repo, revision),
    offline: config.hubOffline,
  });
  // One health per node, workers and endpoints alike: what their services and the balancer learn.
  const nodeHealth = createNodeHealth({
    clock,
    log: log.child({ module: "nodes" }),
    onChange: (nodeId) => {
      balancer.nodesChanged();
      publishNodeChange(nodeId, [], false);
    },
  });
  teardown.defer(() => nodeHealth.dispose());
  const workerNodes = createNodeService({
    nodes: createNodeRepository(db, registryVersion),
    registryVersion,
    clock,
    log: log.child({ module: "nodes" }),
    health: nodeHealth,
    version: options.version,
    ...options.nodeTimings,
    onChange: (change) => {
      balancer.nodesChanged();
      publishNodeChange(change.nodeId, change.models, change.removed ?? false);
    },
    // A node gone silent (hung, cut off) or whose process ended: what it has not answered will not come.
    onOffline: (nodeId, reason) => {
      balancer.nodeLost(nodeId, reason);
      balancer.nodesChanged();
      watchUnresponsive(nodeId);
    },
    endpointNamed: (name) => endpoints.list().data.some((endpoint) => endpoint.name === name),
    localWorkerNamed: (name) => supervisor?.status().some((worker) => worker.name === name) ?? false,
  });
  /**
   * A node (worker or endpoint) and the models whose state on it changed, as listings show them now.
   * Heartbeats arrive every few seconds from every node: with nobody listening, nothing is read.
   */
  function publishNodeChange(nodeId: string, changedModels: string[], removed: boolean): void {
    if (events.listenerCount() === 0) return;
    const node = removed ? undefined : nodes.list().data.find((candidate) => candidate.id === nodeId);
    if (node) events.publish({ type: "node.updated", node });
    else if (removed) events.publish({ type: "node.removed", id: nodeId });
    for (const id of changedModels) publishModel(id);
  }
  /** The model as listings show it now; gone when neither registered nor served by an endpoint. */
  function publishModel(id: string): void {
    if (events.listenerCount() === 0) return;
    let event: ServerEvent;
    try {
      event = { type: "model.updated", model: models.get(id) };
    } catch {
      event = { type: "model.removed", name: id };
    }
    events.publish(event);
  }
  const endpoints = createEndpointService({
    endpoints: createEndpointRepository(db),
    registryVersion,
    clock,
    log: log.child({ module: "endpoints" }),
    nodeHealth,
    ...options.endpointTimings,
    onChange: (change) => {
      // Its models go with an endpoint removed; at a look, one it no longer lists may come back.
      balancer.nodesChanged(change.removed ? change.models : []);
      publishNodeChange(change.endpointId, change.models, change.removed);
    },
    // An answer it is still streaming goes on; what it holds without a word is called off.
    onOffline: (endpointId, reason, silentForMs) => balancer.nodeLost(endpointId, reason, silentForMs),
    selfInstance: instanceId,
  });
  // Workers and endpoints, as everything that lists or routes to nodes sees them.
  const nodes = withEndpoints(workerNodes, endpoints, (model) => models.pinnedNodes(model));
  const models = createModelService({
    models: createModelRepository(db, registryVersion),
    metadata,
    hub,
    clock,
    log: log.child({ module: "models" }),
    hubEndpoint: config.hubEndpoint,
    external: endpoints,
    nodeNames: () => nodes.list().data.map((node) => node.name),
    largestNodeMemory: () => nodes.largestMemory(),
    onRegistryChange: (change) => {
      nodes.notifySync();
      if (change.removed) {
        balancer.nodesChanged([change.id]);
        events.publish({ type: "model.removed", name: change.id });
      } else publishModel(change.id);
    },
  });
  const metrics = createMetrics({
    nodes,
    // What clients may ask for: each has a queue depth, 0 while idle.
    models: () => models.openAiList().data.map((model) => model.id),
    queueDepths: () => balancer.queueDepths(),
    speeds: () => balancer.speeds(),
    inFlight: (nodeId) => balancer.inFlight(nodeId),
    version: options.version,
    paused: () => balancer.paused(),
  });
  teardown.defer(() => workerNodes.dispose());
  teardown.defer(() => endpoints.dispose());
  const requestLog = createRequestLog({ publish: (event) => events.publish(event) });
  teardown.defer(() => requestLog.dispose());
  const balancer = createBalancer({
    metrics,
    requests: requestLog,
    nodes,
    models,
    log: log.child({ module: "balancer" }),
    clock,
    health: nodeHealth,
    unavailable: (model) => endpoints.unavailable(model),
    workersExpected: () => options.workerLauncher !== undefined && config.workers !== "none",
    localWorkers: () =>
      supervisor?.status().flatMap((worker) => (worker.state.type === "stopped" ? [] : [worker.name])) ?? [],
    instanceId,
    ...options.balancer,
  });
  teardown.defer(() => balancer.dispose());
  function status(): Status {
    const nodeList = nodes.list().data;
    const counts = models.counts();
    return {
      version: options.version,
      uptime_seconds: uptimeSeconds(),
      paused: balancer.paused(),
      api_key_required: config.apiKeys.length > 0,
      models: counts,
      nodes: { total: nodeList.length, online: nodeList.filter((node) => node.status === "online").length },
      queues: balancer
        .queueDepths()
        .map((queue) => ({ model: queue.model, in_flight: queue.running, waiting: queue.waiting })),
      can_quit: options.requestQuit !== undefined,
    };
  }
  const gpuBuild = createGpuBuildService({
    ...options.gpuBuild,
    log: log.child({ module: "gpu-build" }),
    clock,
    onChange: (build) => events.publish({ type: "gpu.build", build }),
  });
  teardown.defer(() => gpuBuild.dispose());
  /**
   * A worker this llmlb runs that no online node is yet, started within the last minute and not
   * crashing over and over (one that keeps crashing is not "starting").
   */
  function workersStarting(): boolean {
    const now = clock.now();
    const local =
      supervisor
        ?.status()
        .filter(
          (worker) =>
            worker.state.type === "running" && now - worker.state.since < 60_000 && worker.restarts < 3,
        ) ?? [];
    if (local.length === 0) return false;
    const online = new Set(
      nodes
        .list()
        .data.filter((node) => node.status === "online")
        .map((node) => node.name),
    );
    return local.some((worker) => !online.has(worker.name));
  }
  function setPaused(paused: boolean): void {
    if (balancer.paused() === paused) return;
    balancer.setPaused(paused);
    events.publish({ type: "serving", paused });
  }

  const app = await createHttpServer({
    uptimeSeconds,
    instanceId,
    endpoints,
    models,
    nodes,
    balancer,
    responses: { responses: createResponseRepository(db), clock },
    metrics,
    requests: requestLog,
    app: { status, setPaused, settings, gpuBuild, requestQuit: options.requestQuit, workersStarting },
    events,
    joining: {
      info: () => joinInfo(joinToken, config.host, listeningPort()),
      replaceToken() {
        joinToken.replace();
        log.info("node token replaced: machines already joined stay, new ones need the new token");
        // Another window showing the join command would show one that no longer works.
        events.publish({ type: "node.token_replaced" });
        return joinInfo(joinToken, config.host, listeningPort());
      },
    },
    credentials: {
      adminToken,
      acceptsJoin: (given) => joinToken.accepts(given),
      apiKeys: config.apiKeys,
      nodeForToken: (token) => nodes.nodeForToken(token),
    },
    log,
    version: options.version,
    allowedHosts: config.allowedHosts,
    acceptAddresses: !isLoopbackHost(config.host),
    corsOrigins: config.corsOrigins,
    bodyLimitBytes: config.bodyLimitBytes,
    rendererDir: options.rendererDir,
  });
  let supervisor: Supervisor | undefined;
  /**
   * A local worker offline while its process lives has stopped answering (hung, not ended: an ended
   * one is reported gone and restarted by the supervisor). Given a grace to speak again, it is ended
   * and started again, so a hang does not keep its models down until someone restarts llmlb.
   */
  const unresponsiveGraceMs = options.unresponsiveWorkerGraceMs ?? 10_000;
  const unresponsiveTimers = new Set<NodeJS.Timeout>();
  teardown.defer(() => unresponsiveTimers.forEach(clearTimeout));
  function watchUnresponsive(nodeId: string): void {
    const name = workerNodes.list().data.find((node) => node.id === nodeId)?.name;
    const local = supervisor?.status().find((worker) => worker.name === name);
    if (!name || local?.state.type !== "running" || local.state.pid === undefined) return;
    const { pid } = local.state;
    const timer = setTimeout(() => {
      unresponsiveTimers.delete(timer);
      const node = workerNodes.list().data.find((candidate) => candidate.id === nodeId);
      if (node?.status !== "offline") return;
      const silentFor = Math.round((clock.now() - Date.parse(node.last_seen_at)) / 1000);
      supervisor?.endUnresponsive(
        name,
        pid,
        `it stopped answering (no heartbeat for ${silentFor} s) and was ended`,
      );
    }, unresponsiveGraceMs);
    timer.unref();
    unresponsiveTimers.add(timer);
  }
  let backendsLeftOut: BackendLeftOut[] = [];
  let workersStarted: Promise<void> = Promise.resolve();
  /** Aborted by dispose: a device probe still running is ended, and no worker starts after it. */
  const stopping = new AbortController();

  async function startWorkers(url: string): Promise<void> {
    const launcher = options.workerLauncher;
    if (!launcher || config.workers === "none") return;
    const started = await startLocalWorkers({
      mode: config.workers,
      launcher,
      log: log.child({ module: "supervisor" }),
      clock,
      namePrefix: os.hostname(),
      signal: stopping.signal,
      stateDir: path.join(config.dataDir, "nodes"),
      // Honest at once: its models stop being ready, its requests go elsewhere.
      onWorkerExit: (name) => nodes.workerGone(name),
      onWorkerOutput: options.onWorkerOutput,
      launch: {
        controlUrl: url,
        nodeToken: joinToken.local,
        logLevel: config.logLevel,
        hubCacheDir: config.hubCacheDir,
        ...(config.maxLoadedModels !== undefined ? { maxLoadedModels: config.maxLoadedModels } : {}),
        ...(settings.hfToken() ? { hfToken: settings.hfToken()! } : {}),
      },
    });
    if (!started) return;
    backendsLeftOut = started.leftOut;
    supervisor = started.supervisor;
  }

  let disposed: Promise<void> | undefined;
  return {
    adminToken,
    app,
    models,
    nodes,
    settings,
    events,
    url: () => listeningUrl,
    status,
    setPaused,
    workers: () => supervisor?.status() ?? [],
    backendsLeftOut: () => backendsLeftOut,
    upgradedDatabase: () => upgradedDatabase,
    async listen() {
      try {
        await app.listen({ host: config.host, port: config.port });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
        if (options.whenPortTaken !== "use-another")
          throw new Error(
            `Port ${config.port} on ${config.host} is in use (another llmlb, or another program): ` +
              "choose another with --port or LLMLB_PORT (0 picks a free one), or stop what uses it.",
          );
        await listenOnAnotherPort(app, log, config.host, config.port);
      }
      const address = app.server.address();
      const port = typeof address === "object" && address ? address.port : config.port;
      // Bound to every address: clients on this machine still reach it, and name it, by loopback.
      const reachable = config.host === "0.0.0.0" ? "127.0.0.1" : config.host === "::" ? "::1" : config.host;
      const host = reachable.includes(":") ? `[${reachable}]` : reachable;
      const url = `http://${host}:${port}`;
      writeServerInfo(config.dataDir, {
        url,
        pid: process.pid,
        startedAt: new Date(clock.now()).toISOString(),
      });
      listeningUrl = url;
      teardown.defer(() => clearServerInfo(config.dataDir, process.pid));
      // The API and the dashboard answer at once; finding the GPUs can take a minute.
      workersStarted = startWorkers(url).catch((error: unknown) =>
        log.error({ err: error }, "local workers could not start"),
      );
      return url;
    },
    workersStarted: () => workersStarted,
    dispose() {
      disposed ??= (async () => {
        // Closing stops new requests at once and resolves when the running ones are done; workers
        // stop after that, or after the drain timeout, which ends whatever still runs.
        stopping.abort();
        supervisor?.holdRestarts();
        // Heartbeats find the server closed from now on: its nodes are not lost for that, and what
        // they run finishes; what waits for a slot or a node is told at once that llmlb is stopping.
        workerNodes.stopWatching();
        balancer.stop();
        const closed = app.close();
        let timer: NodeJS.Timeout | undefined;
        const drained = await Promise.race([
          closed.then(() => true),
          new Promise<false>(
            (resolve) =>
              (timer = setTimeout(
                () => resolve(false),
                options.drainTimeoutMs ?? config.drainTimeoutSeconds * 1000,
              )),
          ),
        ]);
        clearTimeout(timer);
        // Past the drain: what still runs is told llmlb stopped, before its workers and connections go.
        if (!drained) await balancer.callOffRunning();
        await workersStarted;
        await supervisor?.dispose();
        // Past the drain: whatever connection is still open ends now.
        app.server.closeAllConnections();
        await closed;
        // The rest, last made first: the GPU build, the balancer, node and endpoint timers, the
        // database, the data directory's lock.
        await teardown.dispose();
      })();
      return disposed;
    },
  };
}

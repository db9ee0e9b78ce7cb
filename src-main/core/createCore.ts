import path from "node:path";
import type { FastifyInstance } from "fastify";
import { systemClock, type Clock } from "./clock";
import type { Config } from "./config";
import os from "node:os";
import {
  clearServerInfo,
  dataFiles,
  ensureDataDir,
  loadOrCreateAdminToken,
  loadOrCreateNodeToken,
  writeServerInfo,
} from "./dataDir";
import { createHubClient, type HubClient } from "./hub/hubClient";
import { createMetadataService } from "./hub/metadataService";
import type { Logger } from "./logger";
import { createModelService, type ModelService } from "./models/modelService";
import { createHubCacheRepository } from "./registry/hubCacheRepository";
import { createBalancer, type BalancerOptions } from "./balancer/balancer";
import { createMetrics } from "./metrics";
import { createNodeService, type NodeService } from "./nodes/nodeService";
import { createModelRepository } from "./registry/modelRepository";
import { createNodeRepository } from "./registry/nodeRepository";
import { createRegistryVersion } from "./registry/registryVersion";
import { detectDevices } from "./supervisor/detectDevices";
import { createSupervisor, type Supervisor, type WorkerStatus } from "./supervisor/supervisor";
import type { WorkerLauncher } from "./supervisor/workerLauncher";
import { noDevices, planWorkers } from "./supervisor/workerPlan";
import { openDatabase } from "./registry/openDatabase";
import { createHttpServer } from "./server/createHttpServer";

export interface CoreOptions {
  config: Config;
  log: Logger;
  version: string;
  /** The hub; tests may pass their own. Default: `@huggingface/hub` against config.hubEndpoint. */
  hub?: HubClient;
  clock?: Clock;
  /** The built dashboard folder. Default: none (a plain-text page at `/`). */
  rendererDir?: string;
  /** better-sqlite3 addon for Electron's ABI. Default: the package's own build. */
  sqliteNativeBinding?: string;
  /** Starts local worker processes (config.workers says how many). Default: none are started. */
  workerLauncher?: WorkerLauncher;
  /** Admission queue and node slots. Default: 4 slots a node, 64 waiting a model, 30 s wait. */
  balancer?: Pick<BalancerOptions, "admission" | "slotsPerNode">;
  /** Node timings, shortened by tests. Default: heartbeats every 2 s, syncs every 5 s. */
  nodeTimings?: { heartbeatIntervalMs?: number; syncIntervalMs?: number; offlineAfterMs?: number };
}

export interface Core {
  readonly adminToken: string;
  readonly app: FastifyInstance;
  readonly models: ModelService;
  readonly nodes: NodeService;
  /** Local workers and their states. */
  workers(): WorkerStatus[];
  /** Starts listening, then the local workers; resolves with the base URL (http://host:port). */
  listen(): Promise<string>;
  /** Stops accepting, closes the server and the database; safe to call twice. */
  dispose(): Promise<void>;
}

/** The composition root: builds everything, and disposes it in reverse order. */
export async function createCore(options: CoreOptions): Promise<Core> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  ensureDataDir(config.dataDir);
  const adminToken = loadOrCreateAdminToken(config.dataDir, config.adminToken);
  const nodeToken = loadOrCreateNodeToken(config.dataDir, config.nodeToken);
  const registryVersion = createRegistryVersion();
  const db = openDatabase({
    file: path.join(config.dataDir, dataFiles.database),
    log: log.child({ module: "registry" }),
    nativeBinding: options.sqliteNativeBinding,
  });
  const hub = options.hub ?? createHubClient({ endpoint: config.hubEndpoint, token: config.hfToken });
  const metadata = createMetadataService({
    hub,
    cache: createHubCacheRepository(db),
    clock,
    log: log.child({ module: "hub" }),
  });
  const nodes = createNodeService({
    nodes: createNodeRepository(db, registryVersion),
    registryVersion,
    clock,
    log: log.child({ module: "nodes" }),
    ...options.nodeTimings,
  });
  const models = createModelService({
    models: createModelRepository(db, registryVersion),
    metadata,
    hub,
    clock,
    log: log.child({ module: "models" }),
    hubEndpoint: config.hubEndpoint,
    largestNodeMemory: () => nodes.largestMemory(),
    onRegistryChange: () => nodes.notifySync(),
  });
  const metrics = createMetrics({
    nodes,
    queueDepths: () => balancer.queueDepths(),
    speeds: () => balancer.speeds(),
  });
  const balancer = createBalancer({
    metrics,
    nodes,
    models,
    log: log.child({ module: "balancer" }),
    clock,
    ...options.balancer,
  });
  const app = await createHttpServer({
    models,
    nodes,
    balancer,
    metrics,
    credentials: { adminToken, nodeToken, nodeForToken: (token) => nodes.nodeForToken(token) },
    log,
    version: options.version,
    allowedHosts: config.allowedHosts,
    bodyLimitBytes: config.bodyLimitBytes,
    rendererDir: options.rendererDir,
  });
  let supervisor: Supervisor | undefined;

  async function startWorkers(url: string): Promise<void> {
    const launcher = options.workerLauncher;
    if (!launcher || config.workers === "none") return;
    const workerLog = log.child({ module: "supervisor" });
    const devices = config.workers === "auto" ? await detectDevices(launcher, workerLog) : noDevices;
    const specs = planWorkers(config.workers, devices, os.availableParallelism(), os.hostname());
    supervisor = createSupervisor({
      launcher,
      specs,
      log: workerLog,
      clock,
      env: {
        LLMLB_CONTROL_URL: url,
        LLMLB_NODE_TOKEN: nodeToken,
        LLMLB_WORKER_STATE_DIR: path.join(config.dataDir, "nodes"),
        LLMLB_LOG_LEVEL: config.logLevel,
        HF_HUB_CACHE: config.hubCacheDir,
        ...(config.hfToken ? { HF_TOKEN: config.hfToken } : {}),
      },
    });
    supervisor.start();
  }

  let disposed: Promise<void> | undefined;
  return {
    adminToken,
    app,
    models,
    nodes,
    workers: () => supervisor?.status() ?? [],
    async listen() {
      await app.listen({ host: config.host, port: config.port });
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
      await startWorkers(url);
      return url;
    },
    dispose() {
      disposed ??= (async () => {
        await supervisor?.dispose();
        nodes.dispose();
        await app.close();
        await balancer.dispose();
        clearServerInfo(config.dataDir, process.pid);
        db.close();
      })();
      return disposed;
    },
  };
}

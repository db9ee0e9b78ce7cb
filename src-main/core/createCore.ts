import path from "node:path";
import type { FastifyInstance } from "fastify";
import { systemClock, type Clock } from "./clock";
import type { Config } from "./config";
import {
  clearServerInfo,
  dataFiles,
  ensureDataDir,
  loadOrCreateAdminToken,
  writeServerInfo,
} from "./dataDir";
import { createHubClient, type HubClient } from "./hub/hubClient";
import { createMetadataService } from "./hub/metadataService";
import type { Logger } from "./logger";
import { createModelService, type ModelService } from "./models/modelService";
import { createHubCacheRepository } from "./registry/hubCacheRepository";
import { createModelRepository } from "./registry/modelRepository";
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
}

export interface Core {
  readonly adminToken: string;
  readonly app: FastifyInstance;
  readonly models: ModelService;
  /** Starts listening; resolves with the base URL (http://host:port). */
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
  const models = createModelService({
    models: createModelRepository(db),
    metadata,
    hub,
    clock,
    log: log.child({ module: "models" }),
    hubEndpoint: config.hubEndpoint,
  });
  const app = await createHttpServer({
    models,
    adminToken,
    log,
    version: options.version,
    allowedHosts: config.allowedHosts,
    bodyLimitBytes: config.bodyLimitBytes,
    rendererDir: options.rendererDir,
  });

  let disposed: Promise<void> | undefined;
  return {
    adminToken,
    app,
    models,
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
      return url;
    },
    dispose() {
      disposed ??= (async () => {
        await app.close();
        clearServerInfo(config.dataDir, process.pid);
        db.close();
      })();
      return disposed;
    },
  };
}

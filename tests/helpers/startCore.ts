import fs from "node:fs";
import { request as undiciRequest } from "undici";
import { resolveConfig, type ConfigInput } from "../../src-main/core/config";
import { createCore, type Core, type CoreOptions } from "../../src-main/core/createCore";
import { createLogger } from "../../src-main/shared/logger";
import { startFakeHub, type FakeHub, type FakeRepo } from "../fixtures/fakeHub";
import { testRepos } from "./hubRepos";
import { makeTempDir } from "./tempDir";

export interface TestResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is (no JSON encoding): for malformed bodies. */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
  /** Send no admin token. Default: false. */
  anonymous?: boolean;
}

export interface TestServer {
  core: Core;
  url: string;
  token: string;
  /** The node token nodes show to join. */
  nodeToken: string;
  dataDir: string;
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<TestResponse<T>>;
  close(): Promise<void>;
}

export interface StartCoreOptions {
  hubEndpoint: string;
  config?: Partial<ConfigInput>;
  dataDir?: string;
  core?: Partial<CoreOptions>;
}

/** A core and the fake hub it registers from: what most contract tests stand on. */
export interface TestServerWithHub extends TestServer {
  hub: FakeHub;
}

/**
 * The real core over a fake hub holding the test repos (or `repos`); `close()` stops both. With a
 * setup that fails part way, what started is stopped.
 */
export async function startCoreWithHub(
  options: Omit<StartCoreOptions, "hubEndpoint"> & { repos?: FakeRepo[] } = {},
): Promise<TestServerWithHub> {
  const { repos, ...coreOptions } = options;
  const hub = await startFakeHub({ repos: repos ?? testRepos() });
  try {
    const server = await startCore({ ...coreOptions, hubEndpoint: hub.url });
    return {
      ...server,
      hub,
      async close() {
        await server.close();
        await hub.close();
      },
    };
  } catch (error) {
    await hub.close();
    throw error;
  }
}

/** The real core on 127.0.0.1:0 with a temp data directory, pointed at a (fake) hub. */
export async function startCore(options: StartCoreOptions): Promise<TestServer> {
  const temp = options.dataDir ? undefined : await makeTempDir();
  const dataDir = options.dataDir ?? temp!.path;
  const config = resolveConfig({
    env: {},
    flags: {
      port: 0,
      dataDir,
      hubCacheDir: `${dataDir}/hub`,
      hubEndpoint: options.hubEndpoint,
      logLevel: "silent",
      // A test's request left running at close waits no longer than this.
      drainTimeoutSeconds: 10,
      // What a test passes is plumbing, not a user's flags: Settings treats the port as saved.
      overridden: [],
      ...options.config,
    },
  });
  const core = await createCore({
    config,
    log: createLogger({ level: "silent" }),
    version: "0.0.0-test",
    ...options.core,
  });
  let url: string;
  try {
    url = await core.listen();
  } catch (error) {
    await core.dispose();
    await temp?.remove();
    throw error;
  }
  return {
    core,
    url,
    token: core.adminToken,
    nodeToken: options.config?.nodeToken ?? fs.readFileSync(`${dataDir}/node-token`, "utf8").trim(),
    dataDir,
    async request(method, path, requestOptions = {}) {
      const headers: Record<string, string> = { ...requestOptions.headers };
      if (
        !requestOptions.anonymous &&
        !Object.keys(headers).some((h) => h.toLowerCase() === "authorization")
      ) {
        headers.authorization = `Bearer ${core.adminToken}`;
      }
      let body: string | Buffer | undefined = requestOptions.rawBody;
      if (requestOptions.body !== undefined) {
        body = JSON.stringify(requestOptions.body);
        headers["content-type"] ??= "application/json";
      }
      const response = await undiciRequest(url + path, { method: method as "GET", headers, body });
      const text = await response.body.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: response.statusCode, headers: response.headers, body: parsed as any, text };
    },
    async close() {
      await core.dispose();
      await temp?.remove();
    },
  };
}

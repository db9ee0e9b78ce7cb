import { startFakeHub, type FakeHub, type FakeRepo } from "../fixtures/fakeHub";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { adminRequest, registerAndWaitReady, type ServeProcess } from "./cliProcess";
import { serveInTempDir } from "./serveInTempDir";

/** The tiny llama model the serve tests register: real node-llama-cpp inference, trained on 512 tokens. */
export const tinyModel = "acme/tiny-llama-GGUF";
/** The tiny model with a context that holds a prompt with tools (4,096 tokens). */
export const toolModel = "acme/tiny-tools-GGUF";

export interface TinyModelServe {
  hub: FakeHub;
  serve: ServeProcess;
  dataDir: string;
  /** What `llmlb` commands against this server need (the hub, the cache, the data directory). */
  env: NodeJS.ProcessEnv;
  admin<T = any>(method: string, url: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Stops the server and the hub, and removes the temp folder. */
  close(): Promise<void>;
}

/**
 * `llmlb serve --workers <n>` in a temp folder, over a fake hub holding the tiny model (and `repos`),
 * with the model registered and ready on every worker.
 */
export async function serveTinyModel(options: {
  workers: number;
  repos?: FakeRepo[];
  logLevel?: string;
  ownGroup?: boolean;
  /** More `llmlb serve` options (`--api-key K`). */
  args?: string[];
  /** More environment for `llmlb serve` (`LLMLB_MAX_LOADED_MODELS`). */
  env?: NodeJS.ProcessEnv;
  /** Also registers `toolModel`, for tests of tools. */
  withToolModel?: boolean;
}): Promise<TinyModelServe> {
  const toolRepo: FakeRepo = {
    id: toolModel,
    files: [
      { path: "tools-Q4_K_M.gguf", content: generateTinyGguf({ seed: 3, shape: { contextLength: 4096 } }) },
    ],
  };
  const hub = await startFakeHub({
    repos: [
      { id: tinyModel, files: [{ path: "tiny-llama-Q4_K_M.gguf", content: generateTinyGguf({ seed: 1 }) }] },
      ...(options.withToolModel ? [toolRepo] : []),
      ...(options.repos ?? []),
    ],
  });
  const served = await serveInTempDir({
    hubUrl: hub.url,
    args: ["--port", "0", "--workers", String(options.workers), ...(options.args ?? [])],
    env: { LLMLB_LOG_LEVEL: options.logLevel ?? "warn", ...options.env },
    ownGroup: options.ownGroup ?? false,
    alsoClose: () => hub.close(),
  });
  const { serve, dataDir, close } = served;
  const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: served.env.HF_HUB_CACHE!, LLMLB_DATA_DIR: dataDir };
  try {
    await registerAndWaitReady(serve.url, dataDir, tinyModel, options.workers);
    if (options.withToolModel) await registerAndWaitReady(serve.url, dataDir, toolModel, options.workers);
  } catch (error) {
    await close();
    throw error;
  }
  const url = serve.url;
  return {
    hub,
    serve,
    dataDir,
    env,
    admin: (method, route, body) => adminRequest(url, dataDir, method, route, body),
    close,
  };
}

import fs from "node:fs";
import path from "node:path";
import { startServeProcess, type ServeProcess } from "./cliProcess";
import { makeTempDir } from "./tempDir";

export interface ServedInTempDir {
  serve: ServeProcess;
  /** The temp folder: `data/` (the data directory) and `hub/` (the Hugging Face cache) are in it. */
  root: string;
  dataDir: string;
  /** What `llmlb` commands against this server need (the hub, the cache, the data directory). */
  env: NodeJS.ProcessEnv;
  /** Stops the server, then whatever else the test started with it, and removes the temp folder. */
  close(): Promise<void>;
}

/**
 * `llmlb serve <args>` in a fresh temp folder, pointed at a (fake) hub. `alsoClose` runs at close
 * (the hub, fake servers), and at once if the start fails.
 */
export async function serveInTempDir(options: {
  hubUrl: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  built?: boolean;
  ownGroup?: boolean;
  /**
   * The cache folder saved in config.json rather than set by HF_HUB_CACHE, which would make it
   * read-only in Settings for this start. Default: HF_HUB_CACHE.
   */
  cacheInConfig?: boolean;
  alsoClose?: () => Promise<void>;
}): Promise<ServedInTempDir> {
  const temp = await makeTempDir();
  const dataDir = path.join(temp.path, "data");
  const hub = path.join(temp.path, "hub");
  if (options.cacheInConfig) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(dataDir, "config.json"), JSON.stringify({ hubCacheDir: hub }));
  }
  const env = {
    HF_ENDPOINT: options.hubUrl,
    HF_HUB_CACHE: options.cacheInConfig ? undefined : hub,
    LLMLB_DATA_DIR: dataDir,
    LLMLB_LOG_LEVEL: "warn",
    ...options.env,
  };
  let serve: ServeProcess | undefined;
  const close = async () => {
    await serve?.stop();
    await options.alsoClose?.();
    await temp.remove();
  };
  try {
    serve = await startServeProcess(options.args, env, {
      built: options.built ?? false,
      ownGroup: options.ownGroup ?? false,
    });
  } catch (error) {
    await close();
    throw error;
  }
  return { serve, root: temp.path, dataDir, env, close };
}

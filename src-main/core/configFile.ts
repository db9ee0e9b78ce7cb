import fs from "node:fs";
import path from "node:path";
import { resolveConfig, type Config, type ResolveConfigOptions } from "./config";
import { unknownConfigKeys, unknownConfigKeyWarning } from "./configMessages";
import { fileOnTheWay } from "../shared/fileOnTheWay";

/** `<data dir>/config.json`: settings saved by hand or from the dashboard, in the config schema's keys. */
export const configFilePath = (dataDir: string) => path.join(dataDir, "config.json");

/**
 * The saved settings, or undefined when there is no file; a file that is not JSON, or holds no
 * object, is an error.
 */
export function readConfigFile(dataDir: string): Record<string, unknown> | undefined {
  const file = configFilePath(dataDir);
  let parsed: unknown;
  try {
    // Windows PowerShell 5 writes UTF-8 with a byte order mark, which JSON.parse refuses unseen.
    parsed = JSON.parse(fs.readFileSync(file, "utf8").replace(/^\uFEFF/, ""));
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === "ENOENT") return undefined;
    // A data directory under a file: the start cannot go on, and the fix is another directory.
    if (code === "ENOTDIR") {
      throw new Error(
        `The data directory ${dataDir} cannot be used: ${fileOnTheWay(dataDir)} is a file, not a folder. Choose another with --data-dir or LLMLB_DATA_DIR.`,
        { cause: error },
      );
    }
    throw new Error(`Cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    const held = parsed === null ? "null" : Array.isArray(parsed) ? "an array" : `a ${typeof parsed}`;
    throw new Error(`${file} holds ${held}; it must hold one JSON object of settings, like {"port": 8080}.`);
  }
  return parsed as Record<string, unknown>;
}

export interface ResolveConfigWithFileOptions extends Omit<ResolveConfigOptions, "file" | "filePath"> {
  /** Told, one line each, of what config.json holds that llmlb does not read. Default: nothing. */
  onWarning?: (message: string) => void;
}

/**
 * defaults < `<data dir>/config.json` < environment < flags. The data directory itself comes from
 * the environment or flags (or the default), never from the file inside it.
 */
export function resolveConfigWithFile(options: ResolveConfigWithFileOptions): Config {
  const { onWarning, ...resolveOptions } = options;
  const first = resolveConfig(resolveOptions);
  const file = readConfigFile(first.dataDir);
  if (!file) return first;
  const filePath = configFilePath(first.dataDir);
  for (const unknown of unknownConfigKeys(file)) onWarning?.(unknownConfigKeyWarning(filePath, unknown));
  const { dataDir, ...settings } = file;
  if (dataDir !== undefined)
    onWarning?.(
      `${filePath}: "dataDir" is not read from the file inside the data directory, so it is ignored; choose the data directory with --data-dir or LLMLB_DATA_DIR.`,
    );
  // Relative to where llmlb happens to start (a terminal, a launcher, a service), models would be
  // downloaded again into another folder at each. Taken as before (from the folder it starts in), and
  // said, so a setup that relied on it still starts.
  const cache = settings.hubCacheDir;
  if (typeof cache === "string" && cache !== "" && !path.isAbsolute(cache)) {
    const resolved = path.resolve(cache);
    onWarning?.(
      `${filePath}: "hubCacheDir" is ${JSON.stringify(cache)}, a relative path, taken from the folder llmlb started in as ${resolved}; started elsewhere, it would be another folder. Give the cache folder's absolute path.`,
    );
    settings.hubCacheDir = resolved;
  }
  return resolveConfig({ ...resolveOptions, file: settings, filePath });
}

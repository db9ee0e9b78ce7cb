import fs from "node:fs";
import path from "node:path";
import { resolveConfig, type Config, type ResolveConfigOptions } from "./config";
import { unknownConfigKeys, unknownConfigKeyWarning } from "./configMessages";
import { fileOnTheWay } from "../shared/fileOnTheWay";

/** `<data dir>/config.json`: settings saved by hand or from the dashboard, in the config schema's keys. */
export const configFilePath = (dataDir: string) => path.join(dataDir, "config.json");

/** The saved settings, or undefined when there is no file; a file that is not JSON is an error. */
export function readConfigFile(dataDir: string): Record<string, unknown> | undefined {
  const file = configFilePath(dataDir);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
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
  return resolveConfig({ ...resolveOptions, file, filePath });
}

import fs from "node:fs";
import path from "node:path";
import { ZodError } from "zod";
import { resolveConfig, type Config, type ConfigInput } from "../core/config";
import { CliError } from "./apiClient";

export type ConfigFlags = Partial<Record<keyof ConfigInput, unknown>>;

/** Reads `<dataDir>/config.json` if there is one; its keys are those of the config schema. */
function readConfigFile(dataDir: string): ConfigFlags | undefined {
  const file = path.join(dataDir, "config.json");
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as ConfigFlags;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`Cannot read ${file}: ${(error as Error).message}`);
  }
}

/** defaults < config file < environment < flags, resolved once here at the edge. */
export function loadConfig(env: NodeJS.ProcessEnv, flags: ConfigFlags): Config {
  try {
    const first = resolveConfig({ env, flags });
    return resolveConfig({ env, flags, file: readConfigFile(first.dataDir) });
  } catch (error) {
    if (error instanceof ZodError) {
      const issue = error.issues[0]!;
      throw new CliError(`Invalid configuration: ${issue.path.join(".")}: ${issue.message}`, 2);
    }
    throw error;
  }
}

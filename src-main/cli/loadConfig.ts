import { ZodError } from "zod";
import type { Config, ConfigInput } from "../core/config";
import { resolveConfigWithFile } from "../core/configFile";
import { CliError } from "./apiClient";

export type ConfigFlags = Partial<Record<keyof ConfigInput, unknown>>;

/** defaults < `<dataDir>/config.json` < environment < flags, resolved once here at the edge. */
export function loadConfig(env: NodeJS.ProcessEnv, flags: ConfigFlags): Config {
  try {
    return resolveConfigWithFile({ env, flags });
  } catch (error) {
    if (error instanceof ZodError) {
      const issue = error.issues[0]!;
      throw new CliError(`Invalid configuration: ${issue.path.join(".")}: ${issue.message}`, 2);
    }
    throw new CliError((error as Error).message);
  }
}

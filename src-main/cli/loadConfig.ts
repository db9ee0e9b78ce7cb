import type { Config, ConfigInput } from "../core/config";
import { resolveConfigWithFile } from "../core/configFile";
import { AppError } from "../shared/errors";
import { CliError } from "./apiClient";

export type ConfigFlags = Partial<Record<keyof ConfigInput, unknown>>;

/** The flags that set configuration, as a user types them: what an error about one names. */
const flagNames: Partial<Record<keyof ConfigInput, string>> = {
  host: "--host",
  port: "--port",
  dataDir: "--data-dir",
  workers: "--workers",
  drainTimeoutSeconds: "--drain-timeout",
  apiKeys: "--api-key",
  allowedHosts: "--allow-host",
  corsOrigins: "--cors-origin",
};

/**
 * defaults < `<dataDir>/config.json` < environment < flags, resolved once here at the edge. `warn`
 * gets a line for each key of config.json llmlb does not read.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv,
  flags: ConfigFlags,
  warn?: (line: string) => void,
): Config {
  try {
    return resolveConfigWithFile({
      env,
      flags,
      flagNames,
      onWarning: (message) => warn?.(`warning: ${message}`),
    });
  } catch (error) {
    if (error instanceof AppError && error.code === "config.invalid") throw new CliError(error.message, 2);
    throw new CliError((error as Error).message);
  }
}

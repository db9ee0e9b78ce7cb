import { pino, destination, type Logger } from "pino";

export type { Logger };

export interface CreateLoggerOptions {
  /** pino level. Default: info. */
  level?: string;
  /** Where lines go. Default: standard error, so standard output stays for the CLI's own output. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  return pino(
    { level: options.level ?? "info", base: { app: "llmlb" } },
    options.destination ?? destination(2),
  );
}

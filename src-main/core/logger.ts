import { pino, destination, type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger };

export interface CreateLoggerOptions {
  /** pino level. Default: info. */
  level?: string;
  /**
   * Where lines go. Default: standard error, so standard output stays for the CLI's own output: one
   * line of text per entry on a terminal, JSON lines otherwise (a file, a pipe, a log collector).
   */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  return pino(
    { level: options.level ?? "info", base: { app: "llmlb" } },
    options.destination ?? (process.stderr.isTTY ? forTerminal() : destination(2)),
  );
}

/** `12:00:01 INFO (models): model registered {"model": "org/repo"}`, written as it happens. */
function forTerminal(): NodeJS.WritableStream {
  return pretty({
    destination: 2,
    sync: true,
    singleLine: true,
    translateTime: "SYS:HH:MM:ss",
    ignore: "pid,hostname,app,module",
    messageFormat: (log, messageKey) =>
      `${typeof log.module === "string" ? `(${log.module}) ` : ""}${String(log[messageKey] ?? "")}`,
  });
}

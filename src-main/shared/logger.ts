import fs from "node:fs";
import path from "node:path";
import { pino, destination, multistream, type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger };

export interface CreateLoggerOptions {
  /** pino level. Default: info. */
  level?: string;
  /**
   * Where lines go. Default: standard error, so standard output stays for the CLI's own output: one
   * line of text per entry on a terminal, JSON lines otherwise (a file, a pipe, a log collector).
   */
  destination?: DestinationStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  return pino(
    { level: options.level ?? "info", base: { app: "llmlb" } },
    options.destination ?? (process.stderr.isTTY ? forTerminal() : destination(2)),
  );
}

/**
 * Where the lines a worker prints (its log, JSON lines) go in a terminal command (`serve`, `node
 * --join`): on a terminal, as one line of text each like the command's own; otherwise as they are.
 */
export function workerLinesOut(): (name: string, line: string) => void {
  if (!process.stderr.isTTY) return (_name, line) => void process.stderr.write(`${line}\n`);
  // pino-pretty reads JSON lines and passes any other line on as it is.
  const terminal = forTerminal();
  return (_name, line) => void terminal.write(`${line}\n`);
}

/** A log file is set aside (as `<name>.1.log`, the one before it dropped) once it has grown past this. */
const logFileLimitBytes = 10 * 1024 * 1024;
/** How often a running app looks at its log's size. */
const logFileCheckMs = 60_000;

export interface LogFile {
  /** For createLogger. */
  destination: DestinationStream;
  /** A line a worker printed: into the file as it is, and onto the terminal when there is one. */
  writeRaw(line: string): void;
}

export interface LogFileOptions {
  /** Default: 10 MiB. */
  limitBytes?: number;
  /** Default: every minute. */
  checkEveryMs?: number;
}

/**
 * The desktop app's log: JSON lines appended to `file`, and on a terminal (a development run) also
 * one line of text per entry. A GUI process may have no usable standard error at all (a packaged
 * Windows app), so nothing goes there unless it is a terminal. Past its limit the file is set aside
 * and a new one begun, at start and while the app runs (an app left running for weeks, its log
 * growing with every refused request), so the two together stay near twice the limit.
 */
export function openLogFile(file: string, options: LogFileOptions = {}): LogFile {
  const limit = options.limitBytes ?? logFileLimitBytes;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const setAsideIfFull = () => {
    try {
      if (fs.statSync(file).size <= limit) return false;
      fs.renameSync(file, file.replace(/(\.log)?$/, ".1.log"));
      return true;
    } catch {
      return false; // No log yet, or it cannot be set aside: it grows on.
    }
  };
  setAsideIfFull();
  const toFile = destination({ dest: file, append: true, sync: false });
  const watch = setInterval(() => {
    // Renamed, the file still takes what is written to it until it is opened again by name.
    if (setAsideIfFull()) toFile.reopen();
  }, options.checkEveryMs ?? logFileCheckMs);
  watch.unref();
  const terminal = process.stderr.isTTY;
  return {
    destination: terminal ? multistream([{ stream: toFile }, { stream: forTerminal() }]) : toFile,
    writeRaw(line) {
      toFile.write(`${line}\n`);
      if (terminal) process.stderr.write(`${line}\n`);
    },
  };
}

/** `12:00:01 INFO (models): model registered {"model": "org/repo"}`, written as it happens. */
function forTerminal(): DestinationStream {
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

import { fork } from "node:child_process";
import { createLineSplitter } from "../lines";
import type { WorkerMessage } from "../../contract/workerMessages";

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** `signal SIGKILL`, `exit code 1`: how a worker ended, for logs and messages. */
export const describeExit = (exit: WorkerExit) =>
  exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;

/** A running worker process, whatever started it. */
export interface WorkerProcess {
  /** The process id, read when asked: undefined until the process has spawned (Electron's utility
   * processes have none before their `spawn` event) and once it has exited. */
  readonly pid: number | undefined;
  /** Resolves with the pid once the process runs; with undefined if it never started. */
  readonly spawned: Promise<number | undefined>;
  readonly exited: Promise<WorkerExit>;
  kill(signal?: NodeJS.Signals): void;
  /** Tells the running worker something (see WorkerMessage); dropped once it has exited. */
  send(message: WorkerMessage): void;
}

export interface LaunchOptions {
  args: string[];
  env: Record<string, string>;
  /** Where the worker's standard output and error go, line by line. Default: the control plane's. */
  onOutput?: (line: string) => void;
  /** What the worker sends its parent (see WorkerReport), unchecked. Default: ignored. */
  onMessage?: (message: unknown) => void;
}

/**
 * Starts worker processes: a child process under Node (`llmlb serve`), a utility process under
 * Electron. Both give the worker a channel to its parent, whose end it watches: a worker whose
 * control plane died exits instead of running on alone.
 */
export interface WorkerLauncher {
  launch(options: LaunchOptions): WorkerProcess;
}

export interface NodeWorkerLauncherOptions {
  /** The worker entry: the built `out/main/worker.js`, or the TypeScript source under tsx. */
  entry: string;
  /** Node flags for the worker, e.g. `["--import", "tsx"]` for the sources. Default: none. */
  execArgv?: string[];
}

export function createNodeWorkerLauncher(options: NodeWorkerLauncherOptions): WorkerLauncher {
  return {
    launch({ args, env, onOutput, onMessage }) {
      const child = fork(options.entry, args, {
        env: { ...process.env, ...env },
        execArgv: options.execArgv ?? [],
        stdio: onOutput ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "inherit", "inherit", "ipc"],
        serialization: "json",
      });
      if (onOutput) {
        for (const stream of [child.stdout, child.stderr]) {
          const lines = createLineSplitter(onOutput);
          stream?.setEncoding("utf8");
          stream?.on("data", (chunk: string) => lines.push(chunk));
          stream?.on("end", () => lines.end());
        }
      }
      if (onMessage) child.on("message", onMessage);
      const spawned = new Promise<number | undefined>((resolve) => {
        child.once("spawn", () => resolve(child.pid));
        child.once("error", () => resolve(undefined));
      });
      const exited = new Promise<WorkerExit>((resolve) => {
        // With its output piped, the exit counts once the output is read to its end ('close'): its
        // last lines say why it ended.
        child.once(onOutput ? "close" : "exit", (code: number | null, signal: NodeJS.Signals | null) =>
          resolve({ code, signal }),
        );
        child.once("error", () => resolve({ code: child.exitCode ?? 1, signal: null }));
      });
      return {
        get pid() {
          return child.exitCode === null && child.signalCode === null ? child.pid : undefined;
        },
        spawned,
        exited,
        kill: (signal = "SIGTERM") => void child.kill(signal),
        send(message) {
          if (child.connected) child.send(message);
        },
      };
    },
  };
}

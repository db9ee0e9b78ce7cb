import type { ForkOptions, UtilityProcess } from "electron";
import { workerEnvName } from "../contract";
import { createLineSplitter } from "../core/lines";
import type { WorkerExit, WorkerLauncher } from "../core/supervisor/workerLauncher";
import type { WorkerMessage } from "../contract/workerMessages";

/** The part of Electron's `utilityProcess.fork` the launcher uses; tests pass a stand-in. */
export type UtilityFork = (
  modulePath: string,
  args: string[],
  options: ForkOptions,
) => Pick<UtilityProcess, "pid" | "stdout" | "stderr" | "postMessage" | "kill" | "on" | "once">;

export interface UtilityWorkerLauncherOptions {
  /** The worker entry (`out/main/worker.js`). */
  entry: string;
  /** Electron's `utilityProcess.fork`. */
  fork: UtilityFork;
}

/**
 * Workers under Electron: utility processes run the same worker entry as `llmlb serve`'s child
 * processes, and Electron ends them with the app. Electron's ways differ from Node's child processes:
 * the pid is there only from the `spawn` event to the `exit` event, and the output listeners are
 * removed at `exit`, so output still in flight then is lost (answers come over the parent port).
 */
export function createUtilityWorkerLauncher(options: UtilityWorkerLauncherOptions): WorkerLauncher {
  return {
    launch({ args, env, onOutput, onMessage }) {
      const child = options.fork(options.entry, args, {
        env: { ...process.env, ...env },
        stdio: onOutput ? "pipe" : "inherit",
        serviceName: env[workerEnvName("name")] ?? "llmlb worker",
      });
      if (onOutput) {
        for (const stream of [child.stdout, child.stderr]) {
          if (!stream) continue;
          const lines = createLineSplitter(onOutput);
          stream.setEncoding("utf8");
          stream.on("data", (chunk: string) => lines.push(chunk));
          stream.on("end", () => lines.end());
        }
      }
      if (onMessage) child.on("message", onMessage);
      // A V8 fatal error (out of heap, say) in the worker: the exit that follows is the supervisor's to
      // handle. Unheard, Electron would raise it in the main process as an uncaught error.
      child.on("error", (type, location) =>
        onOutput?.(`llmlb worker: ${type} at ${location}; the worker is ending`),
      );

      // Messages sent before the process runs wait for it; once it has exited they are dropped.
      let phase: "starting" | "running" | "exited" = "starting";
      const pending: WorkerMessage[] = [];
      const spawned = new Promise<number | undefined>((resolve) => {
        child.once("spawn", () => {
          if (phase !== "starting") return;
          phase = "running";
          for (const message of pending.splice(0)) child.postMessage(message);
          resolve(child.pid);
        });
        child.once("exit", () => resolve(undefined));
      });
      const exited = new Promise<WorkerExit>((resolve) =>
        child.once("exit", (code) => {
          phase = "exited";
          resolve({ code, signal: null });
        }),
      );
      const kill = (signal?: NodeJS.Signals): void => {
        // Not running yet: ended the moment it is.
        if (phase === "starting") return void spawned.then(() => kill(signal));
        if (phase === "exited") return;
        // utilityProcess.kill() asks politely (SIGTERM on POSIX); the supervisor's SIGKILL must not.
        if (signal !== "SIGKILL" || child.pid === undefined) return void child.kill();
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      };
      return {
        get pid() {
          return phase === "running" ? child.pid : undefined;
        },
        spawned,
        exited,
        kill,
        send(message) {
          if (phase === "starting") pending.push(message);
          else if (phase === "running") child.postMessage(message);
        },
      };
    },
  };
}

import { once } from "node:events";
import { utilityProcess } from "electron";
import type { WorkerExit, WorkerLauncher } from "../core/supervisor/workerLauncher";
import { createLineSplitter } from "./outputLines";

/**
 * Workers under Electron: utility processes run the same worker entry as `llmlb serve`'s child
 * processes, and Electron ends them with the app.
 */
export function createUtilityWorkerLauncher(entry: string): WorkerLauncher {
  return {
    launch({ args, env, onOutput }) {
      const child = utilityProcess.fork(entry, args, {
        env: { ...process.env, ...env },
        stdio: onOutput ? "pipe" : "inherit",
        serviceName: env.LLMLB_NODE_NAME ?? "llmlb worker",
      });
      // The output is read to its end before the exit counts: the last line may be the answer.
      const drained: Promise<unknown>[] = [];
      if (onOutput) {
        for (const stream of [child.stdout, child.stderr]) {
          if (!stream) continue;
          const lines = createLineSplitter(onOutput);
          stream.setEncoding("utf8");
          stream.on("data", (chunk: string) => lines.push(chunk));
          const ended = Promise.race([once(stream, "end"), once(stream, "close")]);
          drained.push(
            ended.then(
              () => lines.end(),
              () => lines.end(),
            ),
          );
        }
      }
      const exited = new Promise<WorkerExit>((resolve) =>
        child.once("exit", (code) => resolve({ code, signal: null })),
      ).then(async (exit) => {
        // A pipe a grandchild still holds never ends: wait a moment, not forever.
        await Promise.race([Promise.all(drained), new Promise((resolve) => setTimeout(resolve, 1000))]);
        return exit;
      });
      return {
        pid: child.pid,
        exited,
        send(message) {
          if (child.pid !== undefined) child.postMessage(message);
        },
        kill(signal) {
          // utilityProcess.kill() asks politely (SIGTERM on POSIX); the supervisor's SIGKILL must not.
          if (signal === "SIGKILL" && child.pid !== undefined) {
            try {
              process.kill(child.pid, "SIGKILL");
            } catch {
              // Already gone.
            }
          } else child.kill();
        },
      };
    },
  };
}

import { utilityProcess } from "electron";
import type { WorkerExit, WorkerLauncher } from "../core/supervisor/workerLauncher";

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
      if (onOutput) {
        for (const stream of [child.stdout, child.stderr]) {
          stream?.setEncoding("utf8");
          stream?.on("data", (chunk: string) => chunk.split("\n").filter(Boolean).forEach(onOutput));
        }
      }
      const exited = new Promise<WorkerExit>((resolve) =>
        child.once("exit", (code) => resolve({ code, signal: null })),
      );
      return { pid: child.pid, exited, kill: () => void child.kill() };
    },
  };
}

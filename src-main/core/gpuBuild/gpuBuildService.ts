import { spawn, type ChildProcess } from "node:child_process";
import type { BuildGpu, GpuBuildStatus } from "../../contract";
import type { Clock } from "../../shared/clock";
import { AppError } from "../../shared/errors";
import { createLineSplitter } from "../lines";
import type { Logger } from "../../shared/logger";
import { buildCommand, missingForBuild, type BuildCommand } from "./buildCommand";

/** Lines of output kept: enough to follow the build, and to see why it failed. */
const keptLines = 40;
/** A build prints thousands of lines: its output is passed on at most this often. */
const outputEveryMs = 250;

export interface GpuBuildServiceOptions {
  log: Logger;
  clock: Clock;
  /** Where the build finds its tools (PATH, CUDA_PATH). Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Why this llmlb cannot build at all; undefined where it can. */
  unavailable?: string;
  /** The build to run. Default: node-llama-cpp's source build (`buildCommand`). */
  command?: (gpu: BuildGpu, env: NodeJS.ProcessEnv) => BuildCommand;
  /** Told each change of state and each few lines of output. */
  onChange?: (status: GpuBuildStatus) => void;
}

/** One build at a time of llama.cpp for this machine's GPU, for the dashboard's Settings. */
export interface GpuBuildService {
  status(): GpuBuildStatus;
  /** Starts a build; refuses while one runs, or when its tools are missing (saying which). */
  start(gpu: BuildGpu): GpuBuildStatus;
  /** Stops the running build; refuses when none runs. */
  cancel(): GpuBuildStatus;
  dispose(): Promise<void>;
}

export function createGpuBuildService(options: GpuBuildServiceOptions): GpuBuildService {
  const env = options.env ?? process.env;
  const commandFor = options.command ?? buildCommand;
  let status: GpuBuildStatus = {
    available: options.unavailable === undefined,
    ...(options.unavailable !== undefined ? { reason: options.unavailable } : {}),
    state: "idle",
    output: [],
  };
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let cancelled = false;
  let outputTimer: NodeJS.Timeout | undefined;
  const now = () => new Date(options.clock.now()).toISOString();
  const change = (next: Partial<GpuBuildStatus>) => {
    clearTimeout(outputTimer);
    outputTimer = undefined;
    status = { ...status, ...next };
    options.onChange?.(status);
  };
  /** New output: kept at once, told with what follows within `outputEveryMs`. */
  const changeOutput = (output: string[]) => {
    status = { ...status, output };
    outputTimer ??= setTimeout(() => change({}), outputEveryMs);
  };

  return {
    status: () => status,
    start(gpu) {
      if (options.unavailable !== undefined) {
        throw new AppError("gpu_build.unavailable", options.unavailable);
      }
      if (status.state === "running") {
        throw new AppError(
          "gpu_build.running",
          `A build for ${status.gpu} is running; wait for it or cancel it.`,
        );
      }
      const missing = missingForBuild(gpu, env);
      if (missing.length > 0) {
        throw new AppError(
          "gpu_build.missing_tools",
          `Cannot build llama.cpp for ${gpu} here; missing: ${missing.join("; ")}.`,
          {
            param: "gpu",
          },
        );
      }
      const command = commandFor(gpu, env);
      cancelled = false;
      const output: string[] = [];
      const keep = (line: string) => {
        if (line.trim() === "") return;
        output.push(line);
        if (output.length > keptLines) output.shift();
        changeOutput([...output]);
      };
      const build = spawn(command.file, command.args, {
        env: command.env,
        stdio: ["ignore", "pipe", "pipe"],
        // Its own group: cancelling ends the compilers it started too.
        detached: true,
      });
      child = build;
      for (const stream of [build.stdout, build.stderr]) {
        const lines = createLineSplitter(keep);
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => lines.push(chunk));
        stream.on("end", () => lines.end());
      }
      options.log.info({ gpu, command: [command.file, ...command.args] }, "GPU build started");
      change({
        state: "running",
        gpu,
        started_at: now(),
        finished_at: undefined,
        output: [],
        message: undefined,
      });
      exited = new Promise((resolve) => {
        build.once("error", (error) => {
          change({
            state: "failed",
            finished_at: now(),
            message: `The build could not start: ${error.message}`,
          });
          resolve();
        });
        build.once("close", (code, signal) => {
          child = undefined;
          if (cancelled) change({ state: "cancelled", finished_at: now(), message: "Cancelled." });
          else if (code === 0)
            change({
              state: "built",
              finished_at: now(),
              message: "Built. Restart llmlb: its workers use this build from their next start.",
            });
          else
            change({
              state: "failed",
              finished_at: now(),
              message: `The build failed (${signal ? `signal ${signal}` : `exit code ${code}`}); its last lines say why.`,
            });
          options.log.info({ gpu, state: status.state }, "GPU build ended");
          resolve();
        });
      });
      return status;
    },
    cancel() {
      if (!child || status.state !== "running") {
        throw new AppError("gpu_build.not_running", "No build is running.");
      }
      cancelled = true;
      killGroup(child);
      return status;
    },
    async dispose() {
      if (child) {
        cancelled = true;
        killGroup(child);
      }
      await exited;
    },
  };
}

/** Ends the build and every process it started (its process group). */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined && process.platform !== "win32") process.kill(-child.pid, "SIGTERM");
    else child.kill("SIGTERM");
  } catch {
    child.kill("SIGTERM");
  }
}

import fs from "node:fs";
import { toWorkerEnv, workerEnvName } from "../../contract";
import type { Clock } from "../../shared/clock";
import type { Logger } from "../../shared/logger";
import { createCrashLedger, lastWords, type CrashLedger } from "./crashLedger";
import { describeExit, type WorkerExit, type WorkerLauncher, type WorkerProcess } from "./workerLauncher";
import { inUseSchema, suspectsOf, workerReportSchema } from "../../contract/workerMessages";
import { inUseFileOf } from "../../shared/stateFiles";
import type { WorkerSpec } from "./workerPlan";
import { backoffMs } from "../../shared/backoff";

/**
 * A worker's life under the supervisor:
 *
 *   starting ──► running ──(exit)──► backoff ──(delay)──► starting
 *                   │                                        ▲
 *                   └────────────(dispose)──► stopped ◄──────┘
 */
export type WorkerState =
  | { type: "running"; pid: number | undefined; since: number }
  | { type: "backoff"; until: number; lastExit: string }
  | { type: "stopped" };

export interface WorkerStatus {
  name: string;
  backend: WorkerSpec["backend"];
  state: WorkerState;
  restarts: number;
}

export interface SupervisorOptions {
  launcher: WorkerLauncher;
  specs: WorkerSpec[];
  /** Environment every worker gets (control plane URL, node token, cache folder, hub token). */
  env: Record<string, string>;
  /**
   * Where workers keep their state (`LLMLB_WORKER_STATE_DIR`). A worker writes there which models it
   * is loading or serving; one that dies with a model in use twice in a few minutes is started again
   * without it (see CrashLedger). Default: the worker's own default, and no crash accounting.
   */
  stateDir?: string;
  /** Counts the models that crash workers. Default: 2 deaths within 5 minutes bar a model. */
  crashLedger?: CrashLedger;
  /** Each line a worker prints, with its node name. Default: the control plane's standard error. */
  onWorkerOutput?: (name: string, line: string) => void;
  /** A worker's process ended (crashed, killed, stopped): by its node name. Default: nothing. */
  onWorkerExit?: (name: string) => void;
  /**
   * A worker registered with its control plane (`refused` undefined), or was refused for a reason
   * that lasts, and why: by its node name. Default: nothing.
   */
  onRegistration?: (name: string, refused: string | undefined) => void;
  log: Logger;
  clock: Clock;
  /** First restart delay; doubles per crash in a row. Default: 1000 ms. */
  restartBaseDelayMs?: number;
  /** Longest restart delay. Default: 30000 ms. */
  restartMaxDelayMs?: number;
  /** A worker that ran this long before exiting starts its backoff over. Default: 60000 ms. */
  stableAfterMs?: number;
  /** How long a worker gets to exit once asked to stop, before SIGKILL. Default: 5000 ms. */
  stopTimeoutMs?: number;
}

export interface Supervisor {
  start(): void;
  status(): WorkerStatus[];
  /**
   * A new Hugging Face token (undefined: none): running workers are told over their channel, so no
   * request of theirs ends; workers started later have it in their environment.
   */
  setHfToken(token: string | undefined): void;
  /**
   * The app is quitting (running workers are told, as their control plane answers no heartbeat from
   * now on): a worker that exits from now on is not restarted (Ctrl-C in a terminal
   * reaches the workers too), while the running ones keep serving until dispose.
   */
  holdRestarts(): void;
  /**
   * A worker whose node stopped answering (missed heartbeats while its process lives: a deadlocked
   * driver, a stuck thread) is ended with SIGKILL and started again, as after a crash, its models in
   * use counted against it with `why`. Only the process with `pid`: one started since is left alone.
   * Whether it did end one.
   */
  endUnresponsive(name: string, pid: number, why: string): boolean;
  /**
   * Stops one worker for good (its control plane refuses it): it is not started again, and its end
   * is not counted as a crash. Resolves once it has exited.
   */
  retire(name: string): Promise<void>;
  /** Stops every worker (SIGTERM, then SIGKILL after the timeout) and resolves when all have exited. */
  dispose(): Promise<void>;
}

export function createSupervisor(options: SupervisorOptions): Supervisor {
  const { launcher, log, clock } = options;
  const baseDelay = options.restartBaseDelayMs ?? 1000;
  const maxDelay = options.restartMaxDelayMs ?? 30_000;
  const stableAfter = options.stableAfterMs ?? 60_000;
  const stopTimeout = options.stopTimeoutMs ?? 5000;
  /** Workers that exit are restarted until the app quits (holdRestarts) or dispose. */
  let restarting = true;
  /** Workers stopped by dispose are not reported gone: everything is going. */
  let disposing = false;
  let env: Record<string, string> = {
    ...options.env,
    ...(options.stateDir ? toWorkerEnv({ stateDir: options.stateDir }) : {}),
  };
  const crashes = options.crashLedger ?? createCrashLedger();
  /** The last lines each worker printed: a crash's cause is often llama.cpp's last words. */
  const recentLines = 20;

  const workers = options.specs.map((spec) => ({
    spec,
    state: { type: "stopped" } as WorkerState,
    restarts: 0,
    crashesInARow: 0,
    process: undefined as WorkerProcess | undefined,
    timer: undefined as NodeJS.Timeout | undefined,
    output: [] as string[],
    /** Why the supervisor ended this process itself (it stopped answering): its crash's cause. */
    endedBecause: undefined as string | undefined,
    /** Stopped for good (`retire`). */
    retired: false,
  }));
  type Worker = (typeof workers)[number];

  /** The models to blame for a worker's death, from the file it keeps; the file goes with it. */
  function suspects(worker: Worker): string[] {
    if (!options.stateDir) return [];
    const file = inUseFileOf(options.stateDir, worker.spec.name);
    try {
      return suspectsOf(inUseSchema.parse(JSON.parse(fs.readFileSync(file, "utf8"))));
    } catch {
      return [];
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  /**
   * How a worker died, for its models' crash cause. A SIGKILL llmlb did not send came from outside:
   * most often the system's out-of-memory killer, which a model too big for the machine brings on.
   */
  const describeDeath = (exit: WorkerExit) =>
    exit.signal === "SIGKILL"
      ? "signal SIGKILL, from outside llmlb (the system's out-of-memory killer sends it when memory runs out)"
      : describeExit(exit);

  /** A worker that died on its own with models in use: those models count a crash on its node. */
  function countCrash(worker: Worker, exit: WorkerExit, workerLog: Logger): void {
    const models = suspects(worker);
    if (exit.code === 0 || models.length === 0) return;
    const said = lastWords(worker.output);
    const how = worker.endedBecause ?? describeDeath(exit);
    const cause = said ? `${how}: ${said}` : how;
    crashes.record(worker.spec.name, models, cause, clock.now());
    workerLog.warn({ models, cause }, "worker died with models in use");
  }

  function launch(worker: Worker): void {
    if (!restarting || worker.retired) return;
    const { spec } = worker;
    const workerLog = log.child({ worker: spec.name });
    const onOutput =
      options.onWorkerOutput ?? ((_name: string, line: string) => void process.stderr.write(`${line}\n`));
    worker.output = [];
    worker.endedBecause = undefined;
    const crashed = crashes.crashed(spec.name);
    const child = launcher.launch({
      args: [],
      onOutput: (line) => {
        worker.output.push(line);
        if (worker.output.length > recentLines) worker.output.shift();
        onOutput(spec.name, line);
      },
      onMessage: (message) => {
        const report = workerReportSchema.safeParse(message);
        if (report.success && report.data.type === "crash-cleared") {
          crashes.clear(spec.name, report.data.model);
          workerLog.info({ model: report.data.model }, "crash count cleared");
        }
        if (report.success && report.data.type === "registration")
          options.onRegistration?.(spec.name, report.data.refused);
      },
      env: {
        ...env,
        ...spec.env,
        ...toWorkerEnv({
          name: spec.name,
          backend: spec.backend,
          threads: spec.threads,
          crashedModels: crashed,
        }),
      },
    });
    if (crashed.length > 0) {
      workerLog.warn(
        { models: crashed.map((entry) => entry.model) },
        "starting without the models that crashed it",
      );
    }
    const startedAt = clock.now();
    worker.process = child;
    worker.state = { type: "running", pid: undefined, since: startedAt };
    // Under Electron the pid is known only once the process has spawned.
    void child.spawned.then((pid) => {
      if (pid === undefined || worker.process !== child) return;
      worker.state = { type: "running", pid, since: startedAt };
      workerLog.info({ pid, backend: spec.backend }, "worker started");
    });
    void child.exited.then((exit) => {
      worker.process = undefined;
      if (!disposing) {
        if (!worker.retired) countCrash(worker, exit, workerLog);
        options.onWorkerExit?.(spec.name);
      }
      if (!restarting || worker.retired) {
        worker.state = { type: "stopped" };
        return;
      }
      const ranFor = clock.now() - startedAt;
      worker.crashesInARow = ranFor >= stableAfter ? 1 : worker.crashesInARow + 1;
      const delay = backoffMs(worker.crashesInARow, baseDelay, maxDelay);
      const lastExit = describeExit(exit);
      worker.state = { type: "backoff", until: clock.now() + delay, lastExit };
      workerLog.warn({ lastExit, restartInMs: delay }, "worker exited; restarting");
      worker.timer = setTimeout(() => {
        worker.restarts++;
        launch(worker);
      }, delay);
    });
  }

  async function stop(worker: Worker): Promise<void> {
    clearTimeout(worker.timer);
    const child = worker.process;
    if (!child) {
      worker.state = { type: "stopped" };
      return;
    }
    // Asked over its channel: a supervised worker ignores SIGTERM, which a service manager sends the
    // whole process group before this control plane has drained.
    child.send({ type: "stop" });
    const killer = setTimeout(() => child.kill("SIGKILL"), stopTimeout);
    await child.exited;
    clearTimeout(killer);
    worker.state = { type: "stopped" };
  }

  return {
    start() {
      for (const worker of workers) launch(worker);
    },
    setHfToken(token) {
      // Restarted workers start with it; running ones are told below.
      env = { ...env };
      delete env[workerEnvName("hfToken")];
      if (token !== undefined) env = { ...env, ...toWorkerEnv({ hfToken: token }) };
      for (const worker of workers) worker.process?.send({ type: "hf-token", token: token ?? null });
    },
    status: () =>
      workers.map((w) => ({
        name: w.spec.name,
        backend: w.spec.backend,
        state: w.state,
        restarts: w.restarts,
      })),
    endUnresponsive(name, pid, why) {
      const worker = workers.find((candidate) => candidate.spec.name === name);
      if (!worker?.process || worker.state.type !== "running" || worker.state.pid !== pid) return false;
      worker.endedBecause = why;
      log.warn({ worker: name, pid, why }, "worker stopped answering; ending it");
      worker.process.kill("SIGKILL");
      return true;
    },
    async retire(name) {
      const worker = workers.find((candidate) => candidate.spec.name === name);
      if (!worker || worker.retired) return;
      worker.retired = true;
      log.warn({ worker: name }, "worker stopped for good");
      await stop(worker);
    },
    holdRestarts() {
      restarting = false;
      // Their control plane drains and answers no heartbeat from now on: they are not to worry.
      for (const worker of workers) worker.process?.send({ type: "quitting" });
      for (const worker of workers) {
        if (worker.state.type !== "backoff") continue;
        clearTimeout(worker.timer);
        worker.state = { type: "stopped" };
      }
    },
    async dispose() {
      restarting = false;
      disposing = true;
      await Promise.all(workers.map(stop));
    },
  };
}

import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createCrashLedger, lastWords } from "../../src-main/core/supervisor/crashLedger";
import { createLogger } from "../../src-main/shared/logger";
import {
  createSupervisor,
  type Supervisor,
  type SupervisorOptions,
} from "../../src-main/core/supervisor/supervisor";
import type {
  LaunchOptions,
  WorkerExit,
  WorkerLauncher,
} from "../../src-main/core/supervisor/workerLauncher";
import { crashedModelsSchema, workerEnvName } from "../../src-main/contract";
import type { WorkerMessage } from "../../src-main/contract/workerMessages";
import { inUseFileOf } from "../../src-main/shared/stateFiles";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

/** A launcher whose processes the test ends by hand. */
function fakeLauncher() {
  const launched: {
    options: LaunchOptions;
    exit: (exit: WorkerExit) => void;
    /** How it was asked to stop, in order: a "stop" message, then signals. */
    stops: string[];
    messages: WorkerMessage[];
  }[] = [];
  const launcher: WorkerLauncher = {
    launch(options) {
      let exit!: (exit: WorkerExit) => void;
      const exited = new Promise<WorkerExit>((resolve) => (exit = resolve));
      const entry = { options, exit, stops: [] as string[], messages: [] as WorkerMessage[] };
      launched.push(entry);
      return {
        pid: 1000 + launched.length,
        spawned: Promise.resolve(1000 + launched.length),
        exited,
        send(message) {
          if (message.type !== "stop") return void entry.messages.push(message);
          entry.stops.push("stop");
          if (entry.options.env.IGNORES_STOP !== "1") exit({ code: 0, signal: null });
        },
        // A supervised worker ignores SIGTERM (a process group's, before its control plane drained).
        kill: (signal = "SIGTERM") => {
          entry.stops.push(signal);
          if (signal === "SIGKILL") exit({ code: null, signal });
        },
      };
    },
  };
  return { launcher, launched };
}

const log = createLogger({ level: "silent" });
const clock = { now: () => Date.now() };
const spec = { name: "box-cpu0", backend: "cpu" as const, env: { CUDA_VISIBLE_DEVICES: "" }, threads: 2 };

/** A supervisor of `spec` (or `specs`) on a stand-in launcher, started: the options each test varies. */
function supervise(launcher: WorkerLauncher, options: Partial<SupervisorOptions> = {}): Supervisor {
  const supervisor = createSupervisor({ launcher, specs: [spec], env: {}, log, clock, ...options });
  supervisor.start();
  return supervisor;
}

/** Two workers, box-cpu0 and box-cpu1, restarted at once; `gone` names each whose process ended. */
function twoWorkers() {
  const { launcher, launched } = fakeLauncher();
  const gone: string[] = [];
  const supervisor = supervise(launcher, {
    specs: [spec, { ...spec, name: "box-cpu1" }],
    restartBaseDelayMs: 1,
    onWorkerExit: (name) => gone.push(name),
  });
  return { launched, gone, supervisor };
}

describe("supervisor", () => {
  it("starts each worker with its pinning, name and the shared environment", () => {
    const { launcher, launched } = fakeLauncher();
    const supervisor = supervise(launcher, { env: { LLMLB_CONTROL_URL: "http://127.0.0.1:1" } });
    expect(launched[0]?.options.env).toMatchObject({
      LLMLB_CONTROL_URL: "http://127.0.0.1:1",
      CUDA_VISIBLE_DEVICES: "",
      LLMLB_NODE_NAME: "box-cpu0",
      LLMLB_WORKER_THREADS: "2",
    });
    expect(supervisor.status()[0]?.state.type).toBe("running");
  });

  it("hands a new Hugging Face token to running workers without restarting them, and starts later ones with it", async () => {
    const { launcher, launched } = fakeLauncher();
    const second = { ...spec, name: "box-cpu1" };
    const supervisor = supervise(launcher, {
      specs: [spec, second],
      env: { HF_TOKEN: "hf_old", LLMLB_CONTROL_URL: "http://127.0.0.1:1" },
      restartBaseDelayMs: 1,
    });
    supervisor.setHfToken("hf_new");
    expect(launched.map((entry) => entry.messages)).toEqual([
      [{ type: "hf-token", token: "hf_new" }],
      [{ type: "hf-token", token: "hf_new" }],
    ]);
    expect(launched.flatMap((entry) => entry.stops)).toEqual([]);

    // A worker started after the change (here, after a crash) has it from its environment.
    launched[0]!.exit({ code: 1, signal: null });
    await waitFor("the restart", () => launched.length === 3);
    expect(launched[2]!.options.env.HF_TOKEN).toBe("hf_new");

    supervisor.setHfToken(undefined);
    expect(launched[1]!.messages.at(-1)).toEqual({ type: "hf-token", token: null });
    launched[1]!.exit({ code: 1, signal: null });
    await waitFor("the second restart", () => launched.length === 4);
    expect("HF_TOKEN" in launched[3]!.options.env).toBe(false);
    await supervisor.dispose();
  });

  it("says at once which worker exited on its own, and not those it stops", async () => {
    const { launcher, launched } = fakeLauncher();
    const gone: string[] = [];
    const supervisor = supervise(launcher, {
      restartBaseDelayMs: 60_000,
      onWorkerExit: (name) => gone.push(name),
    });
    launched[0]!.exit({ code: null, signal: "SIGKILL" });
    await waitFor("the exit to be seen", () => gone.length > 0);
    expect(gone).toEqual(["box-cpu0"]);
    await supervisor.dispose();
    expect(gone).toEqual(["box-cpu0"]);
  });

  it("restarts a crashed worker after a delay that doubles with each crash in a row", async () => {
    const { launcher, launched } = fakeLauncher();
    const supervisor = supervise(launcher, { restartBaseDelayMs: 100 });
    launched[0]!.exit({ code: 1, signal: null });
    const fast = { intervalMs: 5, timeoutMs: 5000 };
    await waitFor("a backoff state", () => supervisor.status()[0]?.state.type === "backoff", fast);
    const first = supervisor.status()[0]!.state;
    await waitFor("the first restart", () => launched.length === 2);
    launched[1]!.exit({ code: null, signal: "SIGKILL" });
    await waitFor("a second backoff", () => supervisor.status()[0]?.state.type === "backoff", fast);
    const second = supervisor.status()[0]!.state;
    // The second delay is twice the first.
    if (first.type === "backoff" && second.type === "backoff") {
      expect(second.until - Date.now()).toBeGreaterThan(100);
    }
    expect(first.type === "backoff" && first.lastExit).toBe("exit code 1");
    expect(second.type === "backoff" && second.lastExit).toBe("signal SIGKILL");
    await waitFor("the second restart", () => launched.length === 3);
    expect(supervisor.status()[0]?.restarts).toBe(2);
    await supervisor.dispose();
  });

  it("while the app quits, tells the workers, restarts none that exits, and keeps the others running until dispose", async () => {
    const { launched, gone, supervisor } = twoWorkers();
    supervisor.holdRestarts();
    // Each is told its control plane quits: its heartbeats go unanswered from now on.
    expect(launched.map((worker) => worker.messages)).toEqual([
      [{ type: "quitting" }],
      [{ type: "quitting" }],
    ]);
    // What Ctrl-C in a terminal does to a worker that does not ignore it.
    launched[0]!.exit({ code: null, signal: "SIGINT" });
    await waitFor("the exit to be seen", () => gone.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(launched).toHaveLength(2);
    expect(gone).toEqual(["box-cpu0"]);
    expect(supervisor.status().map((w) => w.state.type)).toEqual(["stopped", "running"]);
    expect(launched[1]!.stops).toEqual([]);
    await supervisor.dispose();
    expect(launched[1]!.stops).toEqual(["stop"]);
    expect(launched).toHaveLength(2);
  });

  it("stops a retired worker for good, counting no crash, and keeps the others running", async () => {
    const { launched, gone, supervisor } = twoWorkers();
    await supervisor.retire("box-cpu0");
    expect(launched[0]!.stops).toEqual(["stop"]);
    // Stopped, not waiting to start again.
    expect(supervisor.status().map((w) => w.state.type)).toEqual(["stopped", "running"]);
    expect(gone).toEqual(["box-cpu0"]);
    expect(launched).toHaveLength(2);
    await supervisor.dispose();
    expect(launched[1]!.stops).toEqual(["stop"]);
    expect(launched).toHaveLength(2);
  });

  it("shows a worker's pid once it has spawned, not before", async () => {
    let spawn!: (pid: number) => void;
    const launcher: WorkerLauncher = {
      launch: () => ({
        pid: undefined,
        spawned: new Promise<number | undefined>((resolve) => (spawn = resolve)),
        exited: new Promise(() => undefined),
        send: () => undefined,
        kill: () => undefined,
      }),
    };
    const supervisor = supervise(launcher);
    expect(supervisor.status()[0]?.state).toMatchObject({ type: "running", pid: undefined });
    spawn(4242);
    await waitFor("the pid", () => (supervisor.status()[0]?.state as { pid?: number }).pid === 4242);
  });

  it("stops every worker on dispose, asking each over its channel and killing one that does not stop, and restarts none", async () => {
    const { launcher, launched } = fakeLauncher();
    const stubborn = { ...spec, name: "box-cpu1", env: { IGNORES_STOP: "1" } };
    const supervisor = supervise(launcher, { specs: [spec, stubborn], stopTimeoutMs: 30 });
    await supervisor.dispose();
    expect(launched.map((l) => l.stops)).toEqual([["stop"], ["stop", "SIGKILL"]]);
    expect(supervisor.status().map((s) => s.state.type)).toEqual(["stopped", "stopped"]);
    expect(launched).toHaveLength(2);
  });
});

describe("supervisor, with a model that crashes its worker", () => {
  /** A worker that had `models` in use (as its in-use file says) when it died with `exit`. */
  function dies(stateDir: string, worker: { options: LaunchOptions; exit: (exit: WorkerExit) => void }) {
    return (models: string[], exit: WorkerExit, lastLines: string[] = [], served: string[] = []) => {
      fs.mkdirSync(path.join(stateDir, spec.name), { recursive: true });
      fs.writeFileSync(inUseFileOf(stateDir, spec.name), JSON.stringify({ in_use: models, served }));
      for (const line of lastLines) worker.options.onOutput?.(line);
      worker.exit(exit);
    };
  }

  it("starts the worker without a model that killed it twice, with the cause; a clean exit or another model does not count", async () => {
    const temp = await makeTempDir();
    try {
      const { launcher, launched } = fakeLauncher();
      const supervisor = supervise(launcher, {
        stateDir: temp.path,
        restartBaseDelayMs: 1,
        onWorkerOutput: () => undefined,
      });
      expect(launched[0]!.options.env[workerEnvName("stateDir")]).toBe(temp.path);
      const abort = { code: null, signal: "SIGABRT" as const };
      const lastWords = [
        '{"level":30,"msg":"model loaded"}',
        "/src/ggml/src/ggml-cpu/binary-ops.cpp:135: binary_op: unsupported types: dst: f32, src0: f32, src1: q8_0",
      ];
      dies(temp.path, launched[0]!)(["acme/broken"], abort, lastWords);
      await waitFor("the first restart", () => launched.length === 2);
      expect(launched[1]!.options.env[workerEnvName("crashedModels")]).toBeUndefined();
      // The in-use file went with the worker that wrote it.
      expect(fs.existsSync(inUseFileOf(temp.path, spec.name))).toBe(false);

      // A clean exit with a model in use, and another model's crash, count nothing against it.
      dies(temp.path, launched[1]!)(["acme/broken"], { code: 0, signal: null });
      await waitFor("the second restart", () => launched.length === 3);
      dies(temp.path, launched[2]!)(["acme/other"], abort);
      await waitFor("the third restart", () => launched.length === 4);
      expect(launched[3]!.options.env[workerEnvName("crashedModels")]).toBeUndefined();

      // With a model that has been answering in use too, the one that had not is to blame.
      dies(temp.path, launched[3]!)(["acme/broken", "acme/fine"], abort, lastWords, ["acme/fine"]);
      await waitFor("the fourth restart", () => launched.length === 5);
      const crashed = crashedModelsSchema.parse(
        JSON.parse(launched[4]!.options.env[workerEnvName("crashedModels")]!),
      );
      expect(crashed.map((entry) => entry.model)).toEqual(["acme/broken"]);
      expect(crashed[0]!.message).toMatch(
        /^It crashed this node's worker 2 times in \d+ s \(signal SIGABRT: binary_op: unsupported types: dst: f32, src0: f32, src1: q8_0\)/,
      );
      expect(crashed[0]!.message).toContain("llmlb model retry acme/broken");

      // The worker says the model was retried: its next process loads it again.
      launched[4]!.options.onMessage?.({ type: "crash-cleared", model: "acme/broken" });
      launched[4]!.exit({ code: 1, signal: null });
      await waitFor("the fifth restart", () => launched.length === 6);
      expect(launched[5]!.options.env[workerEnvName("crashedModels")]).toBeUndefined();
      await supervisor.dispose();
    } finally {
      await temp.remove();
    }
  });

  it("says a SIGKILL it did not send came from outside, as the out-of-memory killer sends it", async () => {
    const temp = await makeTempDir();
    try {
      const { launcher, launched } = fakeLauncher();
      const supervisor = supervise(launcher, {
        stateDir: temp.path,
        restartBaseDelayMs: 1,
        onWorkerOutput: () => undefined,
      });
      const killed = { code: null, signal: "SIGKILL" as const };
      dies(temp.path, launched[0]!)(["acme/huge"], killed);
      await waitFor("the first restart", () => launched.length === 2);
      dies(temp.path, launched[1]!)(["acme/huge"], killed);
      await waitFor("the second restart", () => launched.length === 3);
      const crashed = crashedModelsSchema.parse(
        JSON.parse(launched[2]!.options.env[workerEnvName("crashedModels")]!),
      );
      expect(crashed[0]!.message).toMatch(
        /\(signal SIGKILL, from outside llmlb \(the system's out-of-memory killer sends it when memory runs out\)\)/,
      );
      await supervisor.dispose();
    } finally {
      await temp.remove();
    }
  });
});

describe("crash ledger", () => {
  it("counts deaths within the window only, per node and model", () => {
    const ledger = createCrashLedger({ threshold: 2, windowMs: 60_000 });
    ledger.record("gpu-0", ["a"], "signal SIGSEGV", 0);
    ledger.record("gpu-0", ["a"], "signal SIGSEGV", 61_000);
    ledger.record("gpu-1", ["a"], "signal SIGSEGV", 62_000);
    expect(ledger.crashed("gpu-0")).toEqual([]);
    ledger.record("gpu-0", ["a", "b"], "exit code 134", 100_000);
    expect(ledger.crashed("gpu-0").map((entry) => entry.model)).toEqual(["a"]);
    expect(ledger.crashed("gpu-0")[0]!.message).toContain("2 times in 39 s (exit code 134)");
    expect(ledger.crashed("gpu-1")).toEqual([]);
    ledger.clear("gpu-0", "a");
    expect(ledger.crashed("gpu-0")).toEqual([]);
  });

  it("takes llama.cpp's last words over the log lines, without the source path", () => {
    expect(
      lastWords([
        "/home/runner/work/llama.cpp/ggml/src/ggml-cuda/ggml-cuda.cu:88: CUDA error",
        '{"level":50,"msg":"x"}',
      ]),
    ).toBe("CUDA error");
    expect(lastWords(['{"level":30}'])).toBeUndefined();
  });
});

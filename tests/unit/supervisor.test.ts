import { describe, expect, it } from "vitest";
import { createLogger } from "../../src-main/core/logger";
import { createSupervisor } from "../../src-main/core/supervisor/supervisor";
import type {
  LaunchOptions,
  WorkerExit,
  WorkerLauncher,
} from "../../src-main/core/supervisor/workerLauncher";
import { waitFor } from "../helpers/waitFor";

/** A launcher whose processes the test ends by hand. */
function fakeLauncher() {
  const launched: { options: LaunchOptions; exit: (exit: WorkerExit) => void; signals: string[] }[] = [];
  const launcher: WorkerLauncher = {
    launch(options) {
      let exit!: (exit: WorkerExit) => void;
      const exited = new Promise<WorkerExit>((resolve) => (exit = resolve));
      const entry = { options, exit, signals: [] as string[] };
      launched.push(entry);
      return {
        pid: 1000 + launched.length,
        exited,
        kill: (signal = "SIGTERM") => {
          entry.signals.push(signal);
          if (signal === "SIGKILL" || entry.options.env.IGNORES_SIGTERM !== "1") exit({ code: null, signal });
        },
      };
    },
  };
  return { launcher, launched };
}

const log = createLogger({ level: "silent" });
const clock = { now: () => Date.now() };
const spec = { name: "box-cpu0", backend: "cpu" as const, env: { CUDA_VISIBLE_DEVICES: "" }, threads: 2 };

describe("supervisor", () => {
  it("starts each worker with its pinning, name and the shared environment", () => {
    const { launcher, launched } = fakeLauncher();
    const supervisor = createSupervisor({
      launcher,
      specs: [spec],
      env: { LLMLB_CONTROL_URL: "http://127.0.0.1:1" },
      log,
      clock,
    });
    supervisor.start();
    expect(launched[0]?.options.env).toMatchObject({
      LLMLB_CONTROL_URL: "http://127.0.0.1:1",
      CUDA_VISIBLE_DEVICES: "",
      LLMLB_NODE_NAME: "box-cpu0",
      LLMLB_WORKER_THREADS: "2",
    });
    expect(supervisor.status()[0]?.state.type).toBe("running");
  });

  it("restarts the workers one after another with a changed environment (a new Hugging Face token)", async () => {
    const { launcher, launched } = fakeLauncher();
    const second = { ...spec, name: "box-cpu1" };
    const supervisor = createSupervisor({
      launcher,
      specs: [spec, second],
      env: { HF_TOKEN: "hf_old", LLMLB_CONTROL_URL: "http://127.0.0.1:1" },
      log,
      clock,
    });
    supervisor.start();
    await supervisor.restartWith({ HF_TOKEN: "hf_new" });
    expect(launched.map((entry) => [entry.options.env.LLMLB_NODE_NAME, entry.options.env.HF_TOKEN])).toEqual([
      ["box-cpu0", "hf_old"],
      ["box-cpu1", "hf_old"],
      ["box-cpu0", "hf_new"],
      ["box-cpu1", "hf_new"],
    ]);
    // Each old worker was asked to stop, not killed.
    expect([launched[0]!.signals, launched[1]!.signals]).toEqual([["SIGTERM"], ["SIGTERM"]]);
    expect(supervisor.status().map((worker) => worker.state.type)).toEqual(["running", "running"]);

    await supervisor.restartWith({ HF_TOKEN: undefined });
    expect(launched.slice(4).map((entry) => "HF_TOKEN" in entry.options.env)).toEqual([false, false]);
    await supervisor.dispose();
  });

  it("restarts a crashed worker after a delay that doubles with each crash in a row", async () => {
    const { launcher, launched } = fakeLauncher();
    const supervisor = createSupervisor({
      launcher,
      specs: [spec],
      env: {},
      log,
      clock,
      restartBaseDelayMs: 100,
    });
    supervisor.start();
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

  it("stops every worker on dispose, killing one that ignores SIGTERM, and restarts none", async () => {
    const { launcher, launched } = fakeLauncher();
    const stubborn = { ...spec, name: "box-cpu1", env: { IGNORES_SIGTERM: "1" } };
    const supervisor = createSupervisor({
      launcher,
      specs: [spec, stubborn],
      env: {},
      log,
      clock,
      stopTimeoutMs: 30,
    });
    supervisor.start();
    await supervisor.dispose();
    expect(launched.map((l) => l.signals)).toEqual([["SIGTERM"], ["SIGTERM", "SIGKILL"]]);
    expect(supervisor.status().map((s) => s.state.type)).toEqual(["stopped", "stopped"]);
    expect(launched).toHaveLength(2);
  });
});

import fs from "node:fs";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { createLogger } from "../../src-main/shared/logger";
import { detectDevices } from "../../src-main/core/supervisor/detectDevices";
import { detectedDevicesSchema } from "../../src-main/contract/workerMessages";
import { createUtilityWorkerLauncher } from "../../src-main/electron/utilityLauncher";
import { createUtilityProcessStandIn } from "../helpers/fakeElectron/utilityProcess.mjs";
import { commandLine, isAlive } from "../helpers/processes";
import { makeTempDir } from "../helpers/tempDir";

/**
 * The Electron launcher with the real worker entry, under plain Node: Electron's `utilityProcess` is
 * the stand-in that behaves as Electron's does (no pid before `spawn`, output listeners removed at
 * `exit`, output in flight for a while).
 */
const entry = path.resolve(import.meta.dirname, "../../out/main/worker.js");
const log = createLogger({ level: "silent" });

describe("workers under Electron (utility-process stand-in)", () => {
  it("gets the device probe's answer even though output still in flight at its exit is dropped", async () => {
    const launcher = createUtilityWorkerLauncher({
      entry,
      fork: createUtilityProcessStandIn({ outputDelayMs: 300 }).fork,
    });
    const detection = await detectDevices(launcher, log);
    expect(detection.problem).toBeUndefined();
    expect(detectedDevicesSchema.safeParse(detection.devices).success).toBe(true);
  });

  it("reports a worker's fatal error in its output and exits, without an uncaught error in the app", async () => {
    const dir = await makeTempDir("llmlb-utility-");
    onTestFinished(() => dir.remove());
    const aborting = path.join(dir.path, "aborting.mjs");
    fs.writeFileSync(aborting, "process.abort();\n");
    const launcher = createUtilityWorkerLauncher({
      entry: aborting,
      fork: createUtilityProcessStandIn().fork,
    });
    const lines: string[] = [];
    const worker = launcher.launch({ args: [], env: {}, onOutput: (line) => lines.push(line) });
    expect(await worker.exited).toMatchObject({ code: expect.any(Number) });
    expect(lines.join("\n")).toContain("FatalError");
  });

  it("knows a worker's pid once it has spawned, and can SIGKILL it by that pid", async () => {
    const launcher = createUtilityWorkerLauncher({ entry, fork: createUtilityProcessStandIn().fork });
    const dir = await makeTempDir("llmlb-utility-");
    onTestFinished(() => dir.remove());
    const worker = launcher.launch({
      args: [],
      env: {
        // Nothing answers at this control-plane address: the worker keeps trying to join.
        LLMLB_CONTROL_URL: "http://127.0.0.1:9",
        LLMLB_NODE_TOKEN: "t",
        LLMLB_NODE_NAME: "utility-pid",
        LLMLB_WORKER_STATE_DIR: dir.path,
        HF_HUB_CACHE: path.join(dir.path, "hub"),
      },
      onOutput: () => undefined,
    });
    expect(worker.pid).toBeUndefined();
    const pid = await worker.spawned;
    expect(pid).toBeGreaterThan(0);
    expect(worker.pid).toBe(pid);
    expect(commandLine(pid!)).toContain("worker.js");
    worker.kill("SIGKILL");
    await worker.exited;
    expect(isAlive(pid!)).toBe(false);
    expect(worker.pid).toBeUndefined();
  });
});

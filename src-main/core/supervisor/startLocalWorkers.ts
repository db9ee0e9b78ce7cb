import net from "node:net";
import os from "node:os";
import { toWorkerEnv, type BackendLeftOut, type WorkerLaunch } from "../../contract";
import type { Clock } from "../../shared/clock";
import type { Logger } from "../../shared/logger";
import type { Config } from "../config";
import { detectDevicesFor } from "./detectDevices";
import { createSupervisor, type Supervisor, type SupervisorOptions } from "./supervisor";
import type { WorkerLauncher } from "./workerLauncher";
import { planWorkers, type WorkerSpec } from "./workerPlan";

export interface LocalWorkersOptions extends Pick<
  SupervisorOptions,
  "stateDir" | "onWorkerExit" | "onWorkerOutput" | "stopTimeoutMs" | "onRegistration"
> {
  /** `--workers`: auto, a backend, a count of CPU workers, or none. */
  mode: Config["workers"];
  launcher: WorkerLauncher;
  log: Logger;
  clock: Clock;
  /** How every worker starts (where it joins, its token, its cache); the probe adds what it left out. */
  launch: Partial<Omit<WorkerLaunch, "backendsLeftOut">>;
  /** Prefix of the workers' names: `<prefix>-cuda0`, `<prefix>-cpu0`. */
  namePrefix: string;
  /** Aborted: a device probe still running ends, and no worker starts. */
  signal?: AbortSignal;
  /** The first worker's port, the next ones' after it (a firewall's rule). Default: free ones. */
  basePort?: number;
}

export interface LocalWorkers {
  supervisor: Supervisor;
  specs: WorkerSpec[];
  /** GPU backends the device probe left out, and why. */
  leftOut: BackendLeftOut[];
}

/** A port asked for is in use. */
export class PortTakenError extends Error {}

/** Whether something may listen on `port` at `host` now. */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

/**
 * This machine's workers, one per GPU (or CPU workers): finds the devices with the probe, plans the
 * workers and starts them under a supervisor. The same for `llmlb serve` (joining its own control
 * plane) and `llmlb node --join` (another machine's). Undefined when aborted before any started.
 */
export async function startLocalWorkers(options: LocalWorkersOptions): Promise<LocalWorkers | undefined> {
  const { devices, leftOut } = await detectDevicesFor(options.mode, options.launcher, options.log, {
    signal: options.signal,
  });
  if (options.signal?.aborted) return undefined;
  const planned = planWorkers(options.mode, devices, os.availableParallelism(), options.namePrefix);
  const { basePort } = options;
  if (basePort !== undefined && basePort + planned.length - 1 > 65535)
    throw new Error(
      `Ports ${basePort} to ${basePort + planned.length - 1} for ${planned.length} workers go past 65535.`,
    );
  // Asked for by number (a firewall's rule): each must be free, or its worker would fail to listen,
  // again and again, as it is restarted.
  if (basePort !== undefined && basePort !== 0) {
    const host = options.launch.host ?? "127.0.0.1";
    for (let index = 0; index < planned.length; index++) {
      if (!(await portFree(host, basePort + index)))
        throw new PortTakenError(
          `Port ${basePort + index} on ${host} is in use: choose other ports with --port.`,
        );
    }
  }
  const specs =
    basePort === undefined || basePort === 0
      ? planned
      : planned.map((spec, index) => ({
          ...spec,
          env: { ...spec.env, ...toWorkerEnv({ port: basePort + index }) },
        }));
  const supervisor = createSupervisor({
    launcher: options.launcher,
    specs,
    log: options.log,
    clock: options.clock,
    stateDir: options.stateDir,
    onWorkerExit: options.onWorkerExit,
    onWorkerOutput: options.onWorkerOutput,
    stopTimeoutMs: options.stopTimeoutMs,
    onRegistration: options.onRegistration,
    env: toWorkerEnv({ ...options.launch, backendsLeftOut: leftOut }),
  });
  supervisor.start();
  return { supervisor, specs, leftOut };
}

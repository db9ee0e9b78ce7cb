import type { Logger } from "../logger";
import { describeExit, type WorkerLauncher } from "./workerLauncher";
import { workerReportSchema } from "./workerMessages";
import { noDevices, type DetectedDevices } from "./workerPlan";

export const probeDevicesFlag = "--probe-devices";

/** What the device probe found; without an answer, no devices (CPU only) and why. */
export interface DeviceDetection {
  devices: DetectedDevices;
  /** Why the probe gave no answer. Absent when it answered. */
  problem?: string;
}

/** The probe's last lines of output are kept to say why it failed. */
const keptLines = 20;

export interface DetectDevicesOptions {
  /** How long the probe may take. Default: 60000 ms (a first CUDA start can be slow). */
  timeoutMs?: number;
  /** Ends the probe early (the app is quitting); the answer is then no devices. */
  signal?: AbortSignal;
}

/**
 * Asks a short-lived worker which accelerators node-llama-cpp finds, so the control plane never
 * loads llama.cpp itself. The probe answers over its parent channel and waits to be ended; any
 * failure means CPU only, with a warning.
 */
export async function detectDevices(
  launcher: WorkerLauncher,
  log: Logger,
  options: DetectDevicesOptions = {},
): Promise<DeviceDetection> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const lines: string[] = [];
  let answered: (answer: DetectedDevices | { problem: string }) => void = () => undefined;
  const answer = new Promise<DetectedDevices | { problem: string }>((resolve) => (answered = resolve));
  const probe = launcher.launch({
    args: [probeDevicesFlag],
    env: {},
    onOutput: (line) => lines.push(line) > keptLines && lines.shift(),
    onMessage: (message) => {
      const report = workerReportSchema.safeParse(message);
      if (report.success && report.data.type === "devices") answered(report.data.devices);
    },
  });
  const timer = setTimeout(() => answered({ problem: `no answer within ${timeoutMs / 1000} s` }), timeoutMs);
  const abort = () => answered({ problem: "stopped before it answered" });
  if (options.signal?.aborted) abort();
  options.signal?.addEventListener("abort", abort, { once: true });
  void probe.exited.then((exit) =>
    answered({ problem: `the probe ended (${describeExit(exit)}) without an answer` }),
  );
  const result = await answer;
  clearTimeout(timer);
  options.signal?.removeEventListener("abort", abort);
  probe.kill("SIGKILL");
  await probe.exited;
  if ("problem" in result) {
    log.warn({ problem: result.problem, output: lines.slice(-5) }, "device detection failed; using the CPU");
    return { devices: noDevices, problem: result.problem };
  }
  log.info({ devices: result }, "devices detected");
  return { devices: result };
}

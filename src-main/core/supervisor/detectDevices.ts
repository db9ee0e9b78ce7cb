import type { Logger } from "../logger";
import type { WorkerLauncher } from "./workerLauncher";
import { noDevices, type DetectedDevices } from "./workerPlan";

export const probeDevicesFlag = "--probe-devices";

/**
 * Asks a short-lived worker which accelerators node-llama-cpp finds, so the control plane never
 * loads llama.cpp itself. Any failure means CPU only, with a warning.
 */
export async function detectDevices(
  launcher: WorkerLauncher,
  log: Logger,
  timeoutMs = 60_000,
): Promise<DetectedDevices> {
  const lines: string[] = [];
  const probe = launcher.launch({ args: [probeDevicesFlag], env: {}, onOutput: (line) => lines.push(line) });
  const timer = setTimeout(() => probe.kill("SIGKILL"), timeoutMs);
  const exit = await probe.exited;
  clearTimeout(timer);
  const answer = lines.findLast((line) => line.startsWith('{"devices"'));
  if (exit.code !== 0 || !answer) {
    log.warn({ exit, output: lines.slice(-5) }, "device detection failed; using the CPU");
    return noDevices;
  }
  const devices = (JSON.parse(answer) as { devices: DetectedDevices }).devices;
  log.info({ devices }, "devices detected");
  return devices;
}

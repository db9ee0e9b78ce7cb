import { backendNames, type BackendLeftOut } from "../../contract";
import type { Config } from "../config";
import type { Logger } from "../../shared/logger";
import { lastWords } from "./crashLedger";
import { describeExit, type WorkerLauncher } from "./workerLauncher";
import {
  probeBackendsVariable,
  probeDevicesFlag,
  gpuBackendSchema,
  workerReportSchema,
  type GpuBackend,
  type WorkerReport,
} from "../../contract/workerMessages";
import { noDevices, type DetectedDevices } from "./workerPlan";

/** What the device probe found; without an answer, no devices (CPU only) and why. */
export interface DeviceDetection {
  devices: DetectedDevices;
  /** GPU backends tried and left out, and why: shown with the nodes of this machine. */
  leftOut: BackendLeftOut[];
  /** Why the probe gave no answer. Absent when it answered. */
  problem?: string;
}

/** The probe's last lines of output are kept to say why it failed. */
const keptLines = 20;

export interface DetectDevicesOptions {
  /**
   * How long one probe may take. Default: 180000 ms: a GPU's first self-test may compile kernels for
   * a minute or more.
   */
  timeoutMs?: number;
  /** Ends the probe early (the app is quitting); the answer is then no devices. */
  signal?: AbortSignal;
  /** Only these backends, in this order (`--workers vulkan`). Default: those the probe sees signs of. */
  backends?: readonly GpuBackend[];
}

type SelfTest = Extract<WorkerReport, { type: "self-test" }>;
type ProbeOutcome =
  | { devices: DetectedDevices; leftOut: BackendLeftOut[] }
  | {
      problem: string;
      selfTest?: SelfTest;
      lines: string[];
      /** How the probe ended, when it ended by itself. */
      died?: string;
      /** It gave no answer in time. */
      timedOut?: boolean;
    };

/** One probe process: its answer, or why there is none (and the self-test it was in, if any). */
async function runProbe(
  launcher: WorkerLauncher,
  backends: readonly GpuBackend[] | undefined,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<ProbeOutcome> {
  const lines: string[] = [];
  let selfTest: SelfTest | undefined;
  let answered: (outcome: ProbeOutcome) => void = () => undefined;
  const answer = new Promise<ProbeOutcome>((resolve) => (answered = resolve));
  const noAnswer = (problem: string, timedOut = false) => answered({ problem, selfTest, lines, timedOut });
  const probe = launcher.launch({
    args: [probeDevicesFlag],
    env: backends ? { [probeBackendsVariable]: backends.join(",") } : {},
    onOutput: (line) => lines.push(line) > keptLines && lines.shift(),
    onMessage: (message) => {
      const report = workerReportSchema.safeParse(message);
      if (!report.success) return;
      if (report.data.type === "self-test") selfTest = report.data;
      if (report.data.type === "devices")
        answered({ devices: report.data.devices, leftOut: report.data.left_out });
    },
  });
  const timer = setTimeout(() => noAnswer(`no answer within ${timeoutMs / 1000} s`, true), timeoutMs);
  const abort = () => noAnswer("stopped before it answered");
  if (signal?.aborted) abort();
  signal?.addEventListener("abort", abort, { once: true });
  void probe.exited.then((exit) =>
    answered({
      problem: `the probe ended (${describeExit(exit)}) without an answer`,
      died: describeExit(exit),
      selfTest,
      lines,
    }),
  );
  const outcome = await answer;
  clearTimeout(timer);
  signal?.removeEventListener("abort", abort);
  probe.kill("SIGKILL");
  await probe.exited;
  return outcome;
}

/**
 * Asks a short-lived worker which accelerators workers can use, so the control plane never loads
 * llama.cpp itself. The probe self-tests each GPU backend it tries and answers over its parent
 * channel. Should a backend's self-test kill it or hang, that backend is left out with what
 * happened, and the probe runs again for the backends after it. Any other failure means CPU only,
 * with a warning.
 */
export async function detectDevices(
  launcher: WorkerLauncher,
  log: Logger,
  options: DetectDevicesOptions = {},
): Promise<DeviceDetection> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const leftOut: BackendLeftOut[] = [];
  let backends = options.backends;
  for (;;) {
    const outcome = await runProbe(launcher, backends, timeoutMs, options.signal);
    if ("devices" in outcome) {
      const all = [...leftOut, ...outcome.leftOut];
      for (const { backend, reason } of all) log.warn({ backend, reason }, "GPU backend left out");
      log.info({ devices: outcome.devices }, "devices detected");
      return { devices: outcome.devices, leftOut: all };
    }
    const { selfTest } = outcome;
    if ((outcome.died || outcome.timedOut) && selfTest && !options.signal?.aborted) {
      const words = lastWords(outcome.lines);
      const what = outcome.died
        ? `killed the device probe during its self-test on a tiny model (${outcome.died})`
        : `did not finish its self-test on a tiny model within ${timeoutMs / 1000} s`;
      const reason = `${backendNames[selfTest.backend]} ${what}${words ? `: ${words}` : ""}. ${selfTest.if_it_dies}`;
      log.warn({ backend: selfTest.backend, reason }, "GPU backend left out");
      leftOut.push({ backend: selfTest.backend, reason });
      // Never the same backend twice: the next probe tries only those after it.
      if (selfTest.next.length === 0) return { devices: noDevices, leftOut };
      backends = selfTest.next;
      continue;
    }
    log.warn(
      { problem: outcome.problem, output: outcome.lines.slice(-5) },
      "device detection failed; using the CPU",
    );
    return { devices: noDevices, leftOut, problem: outcome.problem };
  }
}

/**
 * The devices to plan `mode`'s workers on: the probe for `auto` (every backend it sees signs of) and
 * for a backend by name (that one only); no probe for CPU workers.
 */
export async function detectDevicesFor(
  mode: Config["workers"],
  launcher: WorkerLauncher,
  log: Logger,
  options: Omit<DetectDevicesOptions, "backends"> = {},
): Promise<DeviceDetection> {
  if (mode === "auto") return detectDevices(launcher, log, options);
  const backend = gpuBackendSchema.safeParse(mode);
  if (backend.success) return detectDevices(launcher, log, { ...options, backends: [backend.data] });
  return { devices: noDevices, leftOut: [] };
}

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { backendNames, type BackendLeftOut } from "../contract";
import { gpuBackendOrder, type DetectedDevices, type GpuBackend } from "../contract/workerMessages";
import { selfTestBackend } from "./backendSelfTest";

/** What the probe finds: the devices of the backend workers will use, and the backends left out. */
export interface ProbeResult {
  devices: DetectedDevices;
  leftOut: BackendLeftOut[];
}

export interface ProbeOptions {
  /**
   * The backends to try, in order. Default: those node-llama-cpp sees signs of here (a driver, a
   * runtime), in `gpuBackendOrder`.
   */
  backends?: readonly GpuBackend[];
  /**
   * Told before each self-test, with the backends that would come after it and the words that
   * explain a death in it: a backend that aborts the process ends the probe too.
   */
  beforeSelfTest?: (backend: GpuBackend, next: GpuBackend[], ifItDies: string) => void;
}

const run = promisify(execFile);

/** "NVIDIA driver 580.159 (CUDA 13.0)" from nvidia-smi; undefined where it is not installed. */
async function nvidiaDriver(): Promise<string | undefined> {
  try {
    const { stdout } = await run("nvidia-smi", [], { timeout: 10_000 });
    const driver = /Driver Version:\s*([\d.]+)/.exec(stdout)?.[1];
    const cuda = /CUDA Version:\s*([\d.]+)/.exec(stdout)?.[1];
    if (!driver) return undefined;
    return `NVIDIA driver ${driver}${cuda ? ` (CUDA ${cuda})` : ""}`;
  } catch {
    return undefined;
  }
}

/** The driver this backend runs on, and what a user can do when it fails. */
async function waysOut(backend: GpuBackend): Promise<string> {
  if (backend === "cuda") {
    const driver = await nvidiaDriver();
    return (
      `${driver ? `This machine has ${driver}. ` : ""}` +
      "Ways out: update the NVIDIA driver; build llama.cpp's kernels for this GPU with `llmlb gpu build` " +
      "(needs the CUDA toolkit); or use Vulkan (`--workers vulkan`)."
    );
  }
  if (backend === "vulkan") {
    return "Ways out: install the Vulkan loader and the GPU's Vulkan driver (on Debian and Ubuntu: libvulkan1 and mesa-vulkan-drivers, or the GPU vendor's driver); or use CUDA on an NVIDIA GPU.";
  }
  return "Ways out: update macOS; Metal needs a Mac with Apple silicon or a Metal-capable GPU.";
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).trim();

/**
 * The accelerators workers can use here, for the supervisor to plan one worker per GPU. Each backend
 * is loaded, asked for its devices and run on a tiny model (`selfTestBackend`) before it counts; one
 * that does not load, finds no device or fails is left out with its reason, and the next is tried
 * (CUDA, Metal, Vulkan; the CPU when none passes). Runs in its own short-lived process, so the
 * control plane never loads llama.cpp and a backend that aborts ends only the probe.
 */
export async function probeDevices(options: ProbeOptions = {}): Promise<ProbeResult> {
  const { getLlama, getLlamaGpuTypes, LlamaLogLevel } = await import("node-llama-cpp");
  const devices: DetectedDevices = { cuda: [], metal: false, vulkan: [] };
  const leftOut: BackendLeftOut[] = [];
  const supported = new Set(await getLlamaGpuTypes("supported"));
  const backends = options.backends ?? gpuBackendOrder.filter((gpu) => supported.has(gpu));
  const leaveOut = async (backend: GpuBackend, what: string) =>
    leftOut.push({ backend, reason: `${backendNames[backend]} ${what}. ${await waysOut(backend)}` });

  for (const [index, backend] of backends.entries()) {
    let llama;
    try {
      llama = await getLlama({ gpu: backend, build: "never", logLevel: LlamaLogLevel.error });
    } catch (error) {
      const message = messageOf(error);
      await leaveOut(
        backend,
        message === "NoBinaryFoundError"
          ? "did not load: its prebuilt binary does not run on this system, a library it needs (the driver's, the loader) is missing (node-llama-cpp: NoBinaryFoundError)"
          : `did not load: ${message}`,
      );
      continue;
    }
    try {
      const names = await llama.getGpuDeviceNames();
      if (names.length === 0) {
        await leaveOut(backend, "found no device");
        continue;
      }
      options.beforeSelfTest?.(backend, backends.slice(index + 1), await waysOut(backend));
      try {
        await selfTestBackend(llama);
      } catch (error) {
        await leaveOut(backend, `failed its self-test on a tiny model: ${messageOf(error)}`);
        continue;
      }
      if (backend === "metal") devices.metal = true;
      else devices[backend] = names.map((name, i) => ({ index: i, name }));
      break;
    } finally {
      await llama.dispose();
    }
  }
  return { devices, leftOut };
}

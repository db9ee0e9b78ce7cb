import type { Backend } from "../../contract";
import type { Config } from "../config";
import type { DetectedDevices } from "../../contract/workerMessages";

export type { DetectedDevices };

export const noDevices: DetectedDevices = { cuda: [], metal: false, vulkan: [] };

/** One worker process to run: which accelerator it uses, pinned how, with how many threads. */
export interface WorkerSpec {
  name: string;
  backend: Backend;
  /** Environment that pins the worker to its device (CUDA_VISIBLE_DEVICES and the like). */
  env: Record<string, string>;
  /** CPU threads for inference: measured here, the default collapses throughput on small machines. */
  threads: number;
}

/**
 * CPU threads for each of `count` CPU workers: the cores shared out, less one left for the control
 * plane, the downloads and the HTTP work. Measured here (2 cores, node-llama-cpp 3.21): 1 thread
 * ran a tiny model at ~4,500 tokens/s, 2 threads at ~87 (llama.cpp starts a thread pool per token
 * when it has more than one), the default at ~4; so a small machine gets one.
 */
export function cpuThreads(cpuCount: number, count: number): number {
  return Math.max(1, Math.floor((cpuCount - 1) / count));
}

/**
 * One worker per GPU: CUDA devices each pinned with CUDA_VISIBLE_DEVICES, Metal as one, Vulkan
 * devices each pinned with GGML_VK_VISIBLE_DEVICES; one CPU worker when there is no GPU (or none
 * passed its self-test). A backend by name plans the same on the devices its probe found (only
 * that backend's). `<n>` forces n CPU workers (balancing on one machine), `none` runs no worker.
 */
export function planWorkers(
  mode: Config["workers"],
  devices: DetectedDevices,
  cpuCount: number,
  hostname: string,
): WorkerSpec[] {
  const cpuWorkers = (count: number): WorkerSpec[] =>
    Array.from({ length: count }, (_, i) => ({
      name: `${hostname}-cpu${i}`,
      backend: "cpu",
      env: { CUDA_VISIBLE_DEVICES: "", GGML_VK_VISIBLE_DEVICES: "" },
      threads: cpuThreads(cpuCount, count),
    }));
  if (mode === "none") return [];
  if (typeof mode === "number") return cpuWorkers(mode);
  if (mode === "cpu") return cpuWorkers(1);
  // GPU workers feed the device; a few threads each are plenty, and they share the CPU.
  const gpuThreads = (count: number) => Math.max(1, Math.min(4, Math.floor(cpuCount / count)));
  if (devices.cuda.length > 0) {
    return devices.cuda.map((device) => ({
      name: `${hostname}-cuda${device.index}`,
      backend: "cuda",
      env: { CUDA_VISIBLE_DEVICES: String(device.index) },
      threads: gpuThreads(devices.cuda.length),
    }));
  }
  if (devices.metal)
    return [{ name: `${hostname}-metal0`, backend: "metal", env: {}, threads: gpuThreads(1) }];
  if (devices.vulkan.length > 0) {
    return devices.vulkan.map((device) => ({
      name: `${hostname}-vulkan${device.index}`,
      backend: "vulkan",
      env: { GGML_VK_VISIBLE_DEVICES: String(device.index) },
      threads: gpuThreads(devices.vulkan.length),
    }));
  }
  return cpuWorkers(1);
}

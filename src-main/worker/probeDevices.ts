import type { DetectedDevices } from "../core/supervisor/workerMessages";

/**
 * The accelerators node-llama-cpp can use here, for the supervisor to plan one worker per GPU. Runs in
 * its own short-lived process so the control plane never loads llama.cpp.
 */
export async function probeDevices(): Promise<DetectedDevices> {
  const { getLlama, getLlamaGpuTypes, LlamaLogLevel } = await import("node-llama-cpp");
  const devices: DetectedDevices = { cuda: [], metal: false, vulkan: [] };
  for (const gpu of await getLlamaGpuTypes("supported")) {
    if (gpu === false) continue;
    try {
      const llama = await getLlama({ gpu, build: "never", logLevel: LlamaLogLevel.error });
      const names = await llama.getGpuDeviceNames();
      await llama.dispose();
      if (gpu === "metal") devices.metal = names.length > 0;
      else devices[gpu] = names.map((name, index) => ({ index, name }));
    } catch {
      // This kind of GPU is not usable here (no driver, no device): try the next.
    }
  }
  return devices;
}

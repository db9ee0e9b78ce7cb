import os from "node:os";
import type { Backend, Device, Memory } from "../contract";

/** What this node offers models: VRAM on a GPU node, RAM on a CPU node. */
export interface MemoryProbe {
  devices(): Promise<Device[]>;
  memory(): Promise<Memory>;
  dispose(): Promise<void>;
}

function ramProbe(): MemoryProbe {
  const name = os.cpus()[0]?.model.trim() || "CPU";
  return {
    devices: async () => [{ name, backend: "cpu", memory_total_bytes: os.totalmem() }],
    memory: async () => ({ total_bytes: os.totalmem(), free_bytes: os.freemem() }),
    dispose: async () => {},
  };
}

/** A GPU node asks llama.cpp for its devices and VRAM; loading it is the price of knowing. */
async function vramProbe(backend: Exclude<Backend, "cpu">): Promise<MemoryProbe> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: backend, build: "never", logLevel: LlamaLogLevel.error });
  const names = await llama.getGpuDeviceNames();
  return {
    async devices() {
      const { total } = await llama.getVramState();
      return names.map((name) => ({
        name,
        backend,
        memory_total_bytes: Math.round(total / Math.max(1, names.length)),
      }));
    },
    async memory() {
      const { total, free } = await llama.getVramState();
      return { total_bytes: total, free_bytes: free };
    },
    dispose: () => llama.dispose(),
  };
}

export async function createMemoryProbe(backend: Backend): Promise<MemoryProbe> {
  return backend === "cpu" ? ramProbe() : vramProbe(backend);
}

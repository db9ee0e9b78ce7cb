import type { BuildGpu, GpuBuildStatus } from "../../src-main/contract";
import { isNotFound } from "../api";
import { messageOf, type Slice, type SliceDeps } from "./types";

export interface GpuBuildSlice {
  /** Undefined until read, or where the server cannot say (an older one). */
  gpuBuild: GpuBuildStatus | undefined;
  /** The server's words when it refused to start or cancel a build (tools missing, one running). */
  gpuBuildError: string | undefined;
  loadGpuBuild(): Promise<void>;
  /** Starts a build; a refusal lands in `gpuBuildError`. */
  startGpuBuild(gpu: BuildGpu): Promise<void>;
  cancelGpuBuild(): Promise<void>;
  /** A `gpu.build` event: the build as it is now. */
  setGpuBuild(status: GpuBuildStatus): void;
}

export const createGpuBuildSlice =
  ({ api }: SliceDeps): Slice<GpuBuildSlice> =>
  (set, get) => {
    const act = async (call: () => Promise<GpuBuildStatus>) => {
      set({ gpuBuildError: undefined });
      try {
        set({ gpuBuild: await call() });
      } catch (error) {
        set({ gpuBuildError: messageOf(error) });
      }
    };
    return {
      gpuBuild: undefined,
      gpuBuildError: undefined,
      async loadGpuBuild() {
        try {
          set({ gpuBuild: await api.gpuBuild() });
        } catch (error) {
          if (!isNotFound(error)) get().pushBanner("error", messageOf(error), "gpu-build");
        }
      },
      startGpuBuild: (gpu) => act(() => api.startGpuBuild(gpu)),
      cancelGpuBuild: () => act(() => api.cancelGpuBuild()),
      setGpuBuild: (status) => set({ gpuBuild: status }),
    };
  };

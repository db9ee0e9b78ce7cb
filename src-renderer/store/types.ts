import type { StateCreator } from "zustand/vanilla";
import type { Api } from "../api";
import type { BannersSlice } from "./bannersSlice";
import type { EndpointsSlice } from "./endpointsSlice";
import type { GpuBuildSlice } from "./gpuBuildSlice";
import type { LiveSlice } from "./liveSlice";
import type { ModelsSlice } from "./modelsSlice";
import type { NodesSlice } from "./nodesSlice";
import type { PlaygroundSlice } from "./playgroundSlice";
import type { SettingsSlice } from "./settingsSlice";
import type { StatusSlice } from "./statusSlice";

export type AppState = ModelsSlice &
  NodesSlice &
  BannersSlice &
  StatusSlice &
  SettingsSlice &
  EndpointsSlice &
  GpuBuildSlice &
  LiveSlice &
  PlaygroundSlice;

/** What a slice needs from outside the store. */
export interface SliceDeps {
  api: Api;
}

export type Slice<T> = StateCreator<AppState, [], [], T>;

/** The message to show for a failed call. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

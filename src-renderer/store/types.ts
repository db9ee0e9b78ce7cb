import type { StateCreator } from "zustand/vanilla";
import { ApiError, type Api } from "../api";
import type { AnnouncerSlice } from "./announcerSlice";
import type { BannersSlice } from "./bannersSlice";
import type { EndpointsSlice } from "./endpointsSlice";
import type { GpuBuildSlice } from "./gpuBuildSlice";
import type { LiveSlice } from "./liveSlice";
import type { ModelsSlice } from "./modelsSlice";
import type { NodesSlice } from "./nodesSlice";
import type { PlaygroundSlice } from "./playgroundSlice";
import type { RequestsSlice } from "./requestsSlice";
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
  PlaygroundSlice &
  RequestsSlice &
  AnnouncerSlice;

/** What a slice needs from outside the store. */
export interface SliceDeps {
  api: Api;
}

export type Slice<T> = StateCreator<AppState, [], [], T>;

/** The message to show for a failed call. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A refusal about one of a form's `fields`, in the server's words without the field's API name before
 * them (`port: must be at most 65535`): said under the field, whose label says which. Undefined when
 * the server named no such field.
 */
export function fieldRefusal<Field extends string>(
  error: unknown,
  fields: readonly Field[],
): { field: Field; message: string } | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const field = fields.find((name) => name === error.param);
  if (!field) return undefined;
  const words = error.message.startsWith(`${field}: `)
    ? error.message.slice(field.length + 2)
    : error.message;
  return { field, message: words.charAt(0).toUpperCase() + words.slice(1) };
}

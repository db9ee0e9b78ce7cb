import type { ModelSettings } from "../../contract";
import type { ModelTarget } from "./jobs";

/** How the engine runs a model with these settings; what they leave to the node stays absent. */
export function modelTargetOf(path: string, settings: ModelSettings): Omit<ModelTarget, "id"> {
  return {
    path,
    ...(settings.context_size !== null ? { contextSize: settings.context_size } : {}),
    ...(settings.parallel !== null ? { sequences: settings.parallel } : {}),
    ...(settings.idle_ttl_seconds !== null ? { idleTtlMs: settings.idle_ttl_seconds * 1000 } : {}),
    overflow: settings.context_overflow,
  };
}

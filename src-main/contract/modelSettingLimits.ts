/**
 * The whole-number model settings' ranges and the idle default: for the schema, the CLI's flags and
 * the dashboard's settings panel alike. Imports nothing, so the dashboard bundle may take it.
 */

/** How long a model stays loaded with no request when neither its settings nor the request say. */
export const defaultIdleTtlSeconds = 600;

export const modelSettingBounds = {
  context_size: { min: 128, max: 1_048_576 },
  parallel: { min: 1, max: 64 },
  idle_ttl_seconds: { min: 1, max: 7 * 24 * 3600 },
} as const;

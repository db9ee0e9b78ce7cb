import { z } from "zod";

/** `GET /v0/settings`. Secrets are never sent back, only whether they are set and where they live. */
export const settingsSchema = z.object({
  hf_token: z.object({
    set: z.boolean(),
    /** `keychain`: the desktop app's OS-encrypted store; `file`: a 0600 file in the data directory; `env`: HF_TOKEN. */
    storage: z.enum(["keychain", "file", "env"]),
    /** HF_TOKEN in the environment is used, and a token saved here is not while it is set. */
    saved_ignored: z.boolean().optional(),
  }),
  /**
   * The Hugging Face cache folder models are downloaded into: the saved one, which applies at the
   * next start; the one in effect when HF_HUB_CACHE or HF_HOME set it (see `overridden`).
   */
  hub_cache_dir: z.string(),
  /**
   * The port: the saved one, which applies at the next start; the one in effect when a flag or
   * LLMLB_PORT set it (see `overridden`). 0 means any free port.
   */
  port: z.number().int(),
  data_dir: z.string(),
  /** Start the desktop app at login; null where it does not apply (headless). */
  start_at_login: z.boolean().nullable(),
  /** Settings saved but not yet in effect until the app restarts. */
  restart_required: z.boolean(),
  /**
   * Settings set at this start by a flag or the environment (`--port`, `LLMLB_PORT`; `HF_HUB_CACHE`,
   * `HF_HOME`): read-only here, and what is saved applies only when llmlb starts without them.
   */
  overridden: z.array(z.enum(["port", "hub_cache_dir"])),
  /**
   * The port this start listens on: `port` but where that is 0 (any free one), or where the desktop
   * app found it in use and took another.
   */
  listening_port: z.number().int().optional(),
});
export type Settings = z.infer<typeof settingsSchema>;

/** `PUT /v0/settings`: only the fields given change. `hf_token: null` forgets the token. */
export const settingsUpdateSchema = z.strictObject({
  hf_token: z
    .string()
    .trim()
    .min(1)
    .max(4096)
    .regex(
      /^[\x21-\x7e]+$/,
      "a Hugging Face token is one word of printable characters (hf_…), with no spaces",
    )
    .nullable()
    .optional(),
  hub_cache_dir: z.string().trim().min(1).max(4096).optional(),
  port: z.number().int().min(0).max(65535).optional(),
  start_at_login: z.boolean().optional(),
});
export type SettingsUpdate = z.infer<typeof settingsUpdateSchema>;

/** `GET /v0/status`: what `llmlb status` and the tray show. */
export const statusSchema = z.object({
  version: z.string(),
  uptime_seconds: z.number(),
  /** Inference routes answer 503 while paused; management still works. */
  paused: z.boolean(),
  /** /v1 needs `Authorization: Bearer <API key>`; without keys it is open to this machine. */
  api_key_required: z.boolean(),
  models: z.object({ total: z.number().int(), ready: z.number().int() }),
  nodes: z.object({ total: z.number().int(), online: z.number().int() }),
  /** Per model with traffic: requests running on nodes and waiting in the admission queue. */
  queues: z.array(z.object({ model: z.string(), in_flight: z.number().int(), waiting: z.number().int() })),
  /** `POST /v0/quit` works: the app (or `llmlb serve`) can be quit from the dashboard. */
  can_quit: z.boolean(),
});
export type Status = z.infer<typeof statusSchema>;

/** `POST /v0/quit` (202): llmlb drains (running requests finish, then the workers stop) and exits. */
export const quitResponseSchema = z.object({ quitting: z.literal(true) });
export type QuitResponse = z.infer<typeof quitResponseSchema>;

/** `PUT /v0/serving`. */
export const servingUpdateSchema = z.strictObject({ paused: z.boolean() });

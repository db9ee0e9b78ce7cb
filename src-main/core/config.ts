import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { isLoopbackHost } from "../shared/httpGuards";
import { defaultHubCacheDir } from "../shared/hubCacheDir";
import { AppError } from "../shared/errors";
import { configValueMessage, type ConfigSource } from "./configMessages";

/**
 * The one configuration of the control plane. Resolved once at the edge (defaults < config file <
 * environment < flags) and passed down; nothing under core/ reads process.env itself.
 */
export const configSchema = z.object({
  /** Address to listen on. Default: 127.0.0.1 (loopback only). */
  host: z.string().min(1).default("127.0.0.1"),
  /** Port to listen on; 0 picks a free one. Default: 8080. */
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Where the database, admin token and server address live. Default: the platform's app-data folder. */
  dataDir: z.string().min(1),
  /** Hugging Face hub base URL, read as huggingface_hub reads HF_ENDPOINT. Default: https://huggingface.co. */
  hubEndpoint: z
    .url({ protocol: /^https?$/ })
    // fetch refuses a URL with credentials: a mirror's token goes in HF_TOKEN.
    .refine((url) => !URL.parse(url)?.username && !URL.parse(url)?.password)
    .transform((url) => url.replace(/\/+$/, ""))
    .default("https://huggingface.co"),
  /** Hugging Face token for gated and private repos. Default: none (anonymous). */
  hfToken: z.string().min(1).optional(),
  /** The Hugging Face cache root (models--org--repo/…). Default: HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub. */
  hubCacheDir: z.string().min(1),
  /**
   * HF_HUB_OFFLINE, as huggingface_hub reads it (1, true, yes or on): registration never asks the hub,
   * and uses what llmlb fetched before or what the Hugging Face cache holds. Default: off.
   */
  hubOffline: z.boolean().default(false),
  /** Use this admin token instead of generating one. Default: generated at first start. */
  adminToken: z.string().min(16).optional(),
  /** Use this node token (what nodes show to join) instead of generating one. Default: generated at first start. */
  nodeToken: z.string().min(16).optional(),
  /** Models each local worker keeps loaded at once (memory may allow fewer). Default: the worker's, 3. */
  maxLoadedModels: z.coerce.number().int().min(1).max(64).optional(),
  /**
   * Local workers: `auto` one per GPU (one CPU worker without a GPU), `cuda`, `vulkan` or `metal`
   * one per GPU of that backend only (one CPU worker should it fail its self-test), `cpu` one CPU
   * worker, `none`, or a number of CPU workers (to try balancing on one machine). Default: auto.
   */
  workers: z
    .union([
      z.enum(["auto", "cuda", "vulkan", "metal", "cpu", "none"]),
      z.coerce.number().int().min(1).max(64),
    ])
    .default("auto"),
  /** Extra Host header names accepted besides loopback ones. Default: none. */
  allowedHosts: z.array(z.string().min(1)).default([]),
  /**
   * Keys clients must send (`Authorization: Bearer <key>`) to use /v1 and /metrics. Default: none, and
   * /v1 is open to this machine; listening beyond loopback requires at least one.
   */
  apiKeys: z.array(z.string().min(1)).default([]),
  /**
   * Web origins (`http://localhost:3000`) whose pages may call /v1 from the browser, or `*` for any.
   * Default: none (no CORS); the management API is never open to other origins.
   */
  corsOrigins: z
    .array(
      z.string().regex(/^(\*|https?:\/\/[^/\s?#]+)$/, "an origin is scheme://host[:port] with no path, or *"),
    )
    .default([]),
  /** Largest accepted request body in bytes. Default: 1 MiB. */
  bodyLimitBytes: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /**
   * How long stopping (Ctrl-C, SIGTERM, `llmlb quit`, quitting the app) waits for running requests
   * to finish before it stops the workers, which ends what still runs. Default: 30 s.
   */
  drainTimeoutSeconds: z.coerce.number().int().min(0).max(3600).default(30),
  /** pino level. Default: info. */
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /**
   * The keys set by the environment or flags at this start: a value saved in config.json does not apply
   * to them (Settings says so instead of asking for a restart). Default: none.
   */
  overridden: z.array(z.string()).default([]),
});
export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export interface ResolveConfigOptions {
  env: Record<string, string | undefined>;
  /** Values from command-line flags; undefined entries are ignored. */
  flags?: Partial<Record<keyof ConfigInput, unknown>>;
  /** How the edge spells each flag (`apiKeys`: `--api-key`), for errors. Default: `--` and the key. */
  flagNames?: Partial<Record<keyof ConfigInput, string>>;
  /** Contents of the config file, if any. */
  file?: Partial<Record<keyof ConfigInput, unknown>>;
  /** Where `file` was read, for errors. Default: config.json. */
  filePath?: string;
  platform?: NodeJS.Platform;
  homedir?: string;
}

export function defaultDataDir(
  env: Record<string, string | undefined>,
  platform: NodeJS.Platform,
  home: string,
): string {
  if (platform === "win32") return path.join(env.APPDATA ?? path.join(home, "AppData", "Roaming"), "llmlb");
  if (platform === "darwin") return path.join(home, "Library", "Application Support", "llmlb");
  return path.join(env.XDG_DATA_HOME || path.join(home, ".local", "share"), "llmlb");
}

/** The environment variable of each setting read from one; the lists are comma-separated. */
const envNames = {
  port: "LLMLB_PORT",
  host: "LLMLB_HOST",
  dataDir: "LLMLB_DATA_DIR",
  hubEndpoint: "HF_ENDPOINT",
  hfToken: "HF_TOKEN",
  adminToken: "LLMLB_ADMIN_TOKEN",
  nodeToken: "LLMLB_NODE_TOKEN",
  maxLoadedModels: "LLMLB_MAX_LOADED_MODELS",
  workers: "LLMLB_WORKERS",
  drainTimeoutSeconds: "LLMLB_DRAIN_TIMEOUT",
  logLevel: "LLMLB_LOG_LEVEL",
  apiKeys: "LLMLB_API_KEY",
  allowedHosts: "LLMLB_ALLOWED_HOSTS",
  corsOrigins: "LLMLB_CORS_ORIGINS",
} as const satisfies Partial<Record<keyof ConfigInput, string>>;
const listKeys = new Set<string>(["apiKeys", "allowedHosts", "corsOrigins"]);

/** A comma-separated environment value as a list; undefined when unset or empty. */
function listOf(value: string | undefined): string[] | undefined {
  const items = value
    ?.split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  return items && items.length > 0 ? items : undefined;
}

function definedOnly(values: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(values ?? {}).filter(([, value]) => value !== undefined && value !== ""),
  );
}

export function resolveConfig(options: ResolveConfigOptions): Config {
  const { env } = options;
  const home = options.homedir ?? os.homedir();
  const platform = options.platform ?? process.platform;
  const fromEnv = definedOnly(
    Object.fromEntries(
      Object.entries(envNames).map(([key, name]) => [key, listKeys.has(key) ? listOf(env[name]) : env[name]]),
    ),
  );
  // HF_HUB_CACHE or HF_HOME set: the environment's, over config.json's (XDG_CACHE_HOME only moves the default).
  if (env.HF_HUB_CACHE || env.HF_HOME) fromEnv.hubCacheDir = defaultHubCacheDir(env, home);
  const { overridden: _fromFile, ...file } = definedOnly(options.file);
  const flags = definedOnly(options.flags);
  const merged: Record<string, unknown> = {
    dataDir: defaultDataDir(env, platform, home),
    hubCacheDir: defaultHubCacheDir(env, home),
    hubOffline: /^(1|true|yes|on)$/i.test(env.HF_HUB_OFFLINE?.trim() ?? ""),
    ...file,
    ...fromEnv,
    ...flags,
    overridden: flags.overridden ?? Object.keys({ ...fromEnv, ...flags }),
  };
  const parsed = configSchema.safeParse(merged);
  if (parsed.success) return parsed.data;
  // Each setting at fault once, named where the user set it.
  const sourceOf = (key: keyof ConfigInput): ConfigSource =>
    key in flags
      ? { type: "flag", name: options.flagNames?.[key] ?? `--${key}` }
      : key in fromEnv
        ? {
            type: "env",
            name:
              key === "hubCacheDir" ? "HF_HUB_CACHE (or HF_HOME)" : envNames[key as keyof typeof envNames],
          }
        : key in file
          ? { type: "file", path: options.filePath ?? "config.json" }
          : { type: "default" };
  const messages = new Map<string, string>();
  for (const issue of parsed.error.issues) {
    const key = issue.path[0] as keyof ConfigInput;
    if (messages.has(key)) continue;
    const value = merged[key];
    const index = issue.path[1];
    const item = typeof index === "number" && Array.isArray(value) ? { value: value[index] } : undefined;
    messages.set(key, configValueMessage(key, sourceOf(key), value, item));
  }
  const keys = [...messages.keys()];
  throw new AppError("config.invalid", [...messages.values()].join(" "), {
    cause: parsed.error,
    param: keys[0],
  });
}

/**
 * Listening beyond loopback puts /v1 on the network: only with API keys. Throws what to do otherwise.
 */
export function checkExposure(config: Pick<Config, "host" | "apiKeys">): void {
  if (isLoopbackHost(config.host) || config.apiKeys.length > 0) return;
  throw new Error(
    `Listening on ${config.host} makes /v1 reachable from the network: set an API key that clients ` +
      "must send (`llmlb serve --api-key <key>`, or LLMLB_API_KEY), or listen on 127.0.0.1.",
  );
}

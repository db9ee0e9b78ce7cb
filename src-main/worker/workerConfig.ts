import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { backendLeftOutSchema, backendSchema } from "../contract";
import { defaultHubCacheDir } from "../core/config";
import { crashedModelsSchema } from "../core/supervisor/workerMessages";

/** A worker's configuration, read once from the environment its supervisor (or `llmlb node`) gives it. */
export const workerConfigSchema = z.object({
  /** The control plane to join. */
  controlUrl: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, "")),
  /** The node token that lets a node join. */
  nodeToken: z.string().min(16),
  /** This node's name; a restarted worker with the same name takes over its row. Default: <host>-cpu0. */
  name: z.string().min(1).max(128),
  backend: backendSchema.default("cpu"),
  /** CPU threads for inference. Default: all cores. */
  threads: z.coerce.number().int().min(1).max(1024),
  /** Where the node keeps what it downloaded itself. */
  stateDir: z.string().min(1),
  hubCacheDir: z.string().min(1),
  hfToken: z.string().min(1).optional(),
  /** Address the node's own HTTP server listens on. Default: 127.0.0.1. */
  host: z.string().min(1).default("127.0.0.1"),
  /** Its port; 0 picks a free one. Default: 0. */
  port: z.coerce.number().int().min(0).max(65535).default(0),
  /**
   * The host name or address the control plane reaches this node by (a node on another machine).
   * Default: the listen address.
   */
  advertiseHost: z.string().min(1).optional(),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Models that crashed this node's earlier processes too often: not loaded until retried. */
  crashedModels: z
    .string()
    .transform((text) => crashedModelsSchema.parse(JSON.parse(text)))
    .default([]),
  /** GPU backends its machine's device probe left out, and why: reported when it registers. */
  backendsLeftOut: z
    .string()
    .transform((text) => z.array(backendLeftOutSchema).parse(JSON.parse(text)))
    .default([]),
});
export type WorkerConfig = z.infer<typeof workerConfigSchema>;

export function workerConfigFromEnv(env: NodeJS.ProcessEnv): WorkerConfig {
  const empty = (value: string | undefined) => (value === "" ? undefined : value);
  return workerConfigSchema.parse({
    controlUrl: env.LLMLB_CONTROL_URL,
    nodeToken: env.LLMLB_NODE_TOKEN,
    name: empty(env.LLMLB_NODE_NAME) ?? `${os.hostname()}-cpu0`,
    backend: empty(env.LLMLB_WORKER_BACKEND),
    threads: empty(env.LLMLB_WORKER_THREADS) ?? os.availableParallelism(),
    stateDir:
      empty(env.LLMLB_WORKER_STATE_DIR) ?? path.join(os.homedir(), ".local", "share", "llmlb", "nodes"),
    hubCacheDir: defaultHubCacheDir(env, os.homedir()),
    hfToken: empty(env.HF_TOKEN),
    host: empty(env.LLMLB_NODE_HOST),
    port: empty(env.LLMLB_NODE_PORT),
    advertiseHost: empty(env.LLMLB_NODE_ADVERTISE_HOST),
    logLevel: empty(env.LLMLB_LOG_LEVEL),
    crashedModels: empty(env.LLMLB_CRASHED_MODELS),
    backendsLeftOut: empty(env.LLMLB_BACKENDS_LEFT_OUT),
  });
}

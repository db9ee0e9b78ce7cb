import os from "node:os";
import path from "node:path";
import { z } from "zod";
import {
  backendLeftOutSchema,
  backendSchema,
  crashedModelsSchema,
  fromWorkerEnv,
  type WorkerLaunch,
} from "../contract";
import { defaultHubCacheDir } from "../shared/hubCacheDir";

/**
 * A worker's configuration, read once from the environment its supervisor (or `llmlb node`) gives it:
 * one field for each of `WorkerLaunch`'s, no more, no fewer.
 */
const fields = {
  /** The control plane to join. */
  controlUrl: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, "")),
  /** The node token that lets a node join. */
  nodeToken: z.string().min(16),
  /** This node's name; a restarted worker with the same name takes over its row. Default: <host>-cpu0. */
  name: z.string().min(1).max(128),
  backend: backendSchema.default("cpu"),
  /** CPU threads for inference. Default: all cores. */
  threads: z.coerce.number().int().min(1).max(1024),
  /**
   * Models kept loaded at once (node-llama-cpp's memory estimate may allow fewer). Default: 3, as
   * Ollama keeps: with fewer, clients that take turns with three models load one for every request.
   */
  maxLoadedModels: z.coerce.number().int().min(1).max(64).default(3),
  /**
   * How long, stopping, it lets running requests finish, taking nothing new: 10 s under
   * `llmlb node --join`; none under `llmlb serve`, which drains them itself first. Default: none.
   */
  drainMs: z.coerce.number().int().min(0).max(600_000).default(0),
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
} satisfies Record<keyof WorkerLaunch, z.ZodType>;
export const workerConfigSchema = z.object(fields);
export type WorkerConfig = z.infer<typeof workerConfigSchema>;

export function workerConfigFromEnv(env: NodeJS.ProcessEnv): WorkerConfig {
  const given = fromWorkerEnv(env);
  return workerConfigSchema.parse({
    ...given,
    name: given.name ?? `${os.hostname()}-cpu0`,
    threads: given.threads ?? os.availableParallelism(),
    stateDir: given.stateDir ?? path.join(os.homedir(), ".local", "share", "llmlb", "nodes"),
    // HF_HUB_CACHE, else HF_HOME/hub, else the default: as the Hugging Face libraries find it.
    hubCacheDir: defaultHubCacheDir(env, os.homedir()),
  });
}

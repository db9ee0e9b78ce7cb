import { z } from "zod";
import type { Backend, BackendLeftOut } from "./nodes";

/** Models that crashed a worker's earlier processes again and again: not loaded until retried. */
export const crashedModelsSchema = z.array(z.object({ model: z.string(), message: z.string() }));
export type CrashedModel = z.infer<typeof crashedModelsSchema>[number];

/**
 * What a worker process is started with, by its supervisor (`llmlb serve`, the desktop app) or by
 * `llmlb node --join`. It travels as environment variables: one table of them here, written by
 * `toWorkerEnv` and read by `fromWorkerEnv`, so renaming one is a type error on both sides.
 */
export interface WorkerLaunch {
  /** The control plane to join. */
  controlUrl: string;
  /** The node token that lets a node join. */
  nodeToken: string;
  /** This node's name; a restarted worker with the same name takes over its row. */
  name: string;
  backend: Backend;
  /** CPU threads for inference. */
  threads: number;
  /** Models it keeps loaded at once (fewer where memory is short). */
  maxLoadedModels: number;
  /** How long, stopping, it lets running requests finish. */
  drainMs: number;
  /** Where the node keeps what it downloaded itself and which models it has in use. */
  stateDir: string;
  /** The Hugging Face cache root. */
  hubCacheDir: string;
  hfToken: string;
  /** Address the node's own HTTP server listens on, and its port (0: a free one). */
  host: string;
  port: number;
  /** The host name or address the control plane reaches this node by. */
  advertiseHost: string;
  logLevel: string;
  crashedModels: CrashedModel[];
  /** GPU backends the machine's device probe left out, and why: reported when it registers. */
  backendsLeftOut: BackendLeftOut[];
}

const variables = {
  controlUrl: "LLMLB_CONTROL_URL",
  nodeToken: "LLMLB_NODE_TOKEN",
  name: "LLMLB_NODE_NAME",
  backend: "LLMLB_WORKER_BACKEND",
  threads: "LLMLB_WORKER_THREADS",
  maxLoadedModels: "LLMLB_MAX_LOADED_MODELS",
  drainMs: "LLMLB_WORKER_DRAIN_MS",
  stateDir: "LLMLB_WORKER_STATE_DIR",
  // The Hugging Face libraries' own names: a worker shares the cache and token they use.
  hubCacheDir: "HF_HUB_CACHE",
  hfToken: "HF_TOKEN",
  host: "LLMLB_NODE_HOST",
  port: "LLMLB_NODE_PORT",
  advertiseHost: "LLMLB_NODE_ADVERTISE_HOST",
  logLevel: "LLMLB_LOG_LEVEL",
  crashedModels: "LLMLB_CRASHED_MODELS",
  backendsLeftOut: "LLMLB_BACKENDS_LEFT_OUT",
} as const satisfies Record<keyof WorkerLaunch, string>;

/** The variable one field travels in. */
export const workerEnvName = (key: keyof WorkerLaunch): string => variables[key];

/** Lists travel as JSON; an empty one is left out. */
const asText = (value: WorkerLaunch[keyof WorkerLaunch]): string | undefined => {
  if (Array.isArray(value)) return value.length > 0 ? JSON.stringify(value) : undefined;
  return String(value);
};

/** The environment for a worker: what is given, each under its variable. */
export function toWorkerEnv(launch: Partial<WorkerLaunch>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of Object.keys(launch) as (keyof WorkerLaunch)[]) {
    const value = launch[key];
    const text = value === undefined ? undefined : asText(value);
    if (text !== undefined) env[variables[key]] = text;
  }
  return env;
}

/**
 * What a worker was started with, as the text of each variable (undefined where unset or empty), for
 * its configuration's schema to check and convert (`workerConfigSchema`).
 */
export function fromWorkerEnv(env: NodeJS.ProcessEnv): Partial<Record<keyof WorkerLaunch, string>> {
  const launch: Partial<Record<keyof WorkerLaunch, string>> = {};
  for (const key of Object.keys(variables) as (keyof WorkerLaunch)[]) {
    const value = env[variables[key]];
    if (value !== undefined && value !== "") launch[key] = value;
  }
  return launch;
}

import { z } from "zod";
import { backendLeftOutSchema } from "./nodes";

/**
 * What the supervisor tells a running worker over the channel to its parent (a child process's IPC,
 * a utility process's port): a changed setting, without a restart that would end its requests, and
 * when to stop.
 */
export const workerMessageSchema = z.discriminatedUnion("type", [
  /** The Hugging Face token for downloads changed (null: none any more). */
  z.object({ type: z.literal("hf-token"), token: z.string().min(1).nullable() }),
  /**
   * Stop (what runs finishes first, for the worker's drain time), then exit. Asked this way, not by
   * SIGTERM: a service manager's SIGTERM reaches the whole process group, the workers before their
   * control plane has let its running requests finish, and a supervised worker ignores it.
   */
  z.object({ type: z.literal("stop") }),
  /**
   * The control plane quits: it drains, and answers no heartbeat from now on (nothing is wrong); the
   * worker's `stop` follows once what runs has finished.
   */
  z.object({ type: z.literal("quitting") }),
]);
export type WorkerMessage = z.infer<typeof workerMessageSchema>;

/** The GPU backends node-llama-cpp offers, in the order the device probe tries them. */
export const gpuBackendSchema = z.enum(["cuda", "metal", "vulkan"]);
export type GpuBackend = z.infer<typeof gpuBackendSchema>;
export const gpuBackendOrder: readonly GpuBackend[] = gpuBackendSchema.options;

/** The accelerators a machine has, as node-llama-cpp sees them. */
export const detectedDevicesSchema = z.object({
  cuda: z.array(z.object({ index: z.number().int().min(0), name: z.string() })),
  metal: z.boolean(),
  vulkan: z.array(z.object({ index: z.number().int().min(0), name: z.string() })),
});
export type DetectedDevices = z.infer<typeof detectedDevicesSchema>;

/**
 * What a worker tells its supervisor over the same channel. The device probe answers this way, not on
 * its standard output: Electron drops a utility process's output listeners the moment it exits, so a
 * last line printed just before the exit may never be read.
 */
export const workerReportSchema = z.discriminatedUnion("type", [
  /** The probe's answer: the devices of the backend that passed its self-test, the ones left out. */
  z.object({
    type: z.literal("devices"),
    devices: detectedDevicesSchema,
    left_out: z.array(backendLeftOutSchema).default([]),
  }),
  /**
   * The probe is about to run a backend's self-test, which may kill it: should it die, that backend
   * is left out with `if_it_dies` (the driver, the ways out) after what happened, and the probe runs
   * again for the backends `next`.
   */
  z.object({
    type: z.literal("self-test"),
    backend: gpuBackendSchema,
    next: z.array(gpuBackendSchema),
    if_it_dies: z.string(),
  }),
  /** A model that crashed this worker was retried (or deleted): start its count over. */
  z.object({ type: z.literal("crash-cleared"), model: z.string() }),
  /**
   * The control plane took this worker's registration, or refused it for a reason that lasts (its
   * name taken by another node online, a node token it no longer takes): `refused` says why. The
   * worker goes on trying either way.
   */
  z.object({ type: z.literal("registration"), refused: z.string().optional() }),
]);
export type WorkerReport = z.infer<typeof workerReportSchema>;

/**
 * The models a worker is loading or running requests for, written down at each change (to
 * `inUseFileOf`, in shared/stateFiles.ts): should the
 * process die, its supervisor reads which models it died with. A file, not a message, so that it is
 * on disk before the native code that may abort the process runs.
 */
export const inUseSchema = z.object({
  /** Models with a request (or a load) running now. */
  in_use: z.array(z.string()),
  /** Models that have finished a request in this process: less likely to be what killed it. */
  served: z.array(z.string()),
});
export type InUse = z.infer<typeof inUseSchema>;

/**
 * The models to blame for a worker's death: those in use that had not finished a request in that
 * process yet (a model that has been answering is rarely the one that suddenly aborts), or, when
 * every model in use had, all of them.
 */
export function suspectsOf({ in_use, served }: InUse): string[] {
  const unproven = in_use.filter((model) => !served.includes(model));
  return unproven.length > 0 ? unproven : in_use;
}

/** Models that crashed a worker again and again, handed to its next process (`WorkerLaunch.crashedModels`). */
export type { CrashedModel } from "./workerLaunch";

/** The flag that makes a worker process the device probe. */
export const probeDevicesFlag = "--probe-devices";

/** The backends a probe tries (comma-separated, in order); absent: those it sees signs of. */
export const probeBackendsVariable = "LLMLB_PROBE_BACKENDS";

/** The backends a probe was told to try, from its environment; undefined: its own choice. */
export function probeBackendsFrom(env: Record<string, string | undefined>): GpuBackend[] | undefined {
  const value = env[probeBackendsVariable];
  if (value === undefined) return undefined;
  return value
    .split(",")
    .filter((name) => name !== "")
    .map((name) => gpuBackendSchema.parse(name));
}

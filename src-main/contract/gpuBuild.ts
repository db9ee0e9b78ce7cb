import { z } from "zod";

/** The GPU backends llama.cpp can be built for here. */
export const buildGpuSchema = z.enum(["cuda", "vulkan", "metal"]);
export type BuildGpu = z.infer<typeof buildGpuSchema>;

/** `POST /v0/gpu/build`: build llama.cpp's kernels for this machine's GPU (`llmlb gpu build`). */
export const gpuBuildRequestSchema = z.strictObject({ gpu: buildGpuSchema });
export type GpuBuildRequest = z.infer<typeof gpuBuildRequestSchema>;

/**
 * `GET /v0/gpu/build`, and the `gpu.build` event as it goes:
 *
 *   idle ──► running ──► built      (workers use it from their next start)
 *               ├──────► failed     (`message`, and the last lines of its output)
 *               └──────► cancelled  (DELETE /v0/gpu/build)
 */
export const gpuBuildStatusSchema = z.object({
  /** False where this llmlb cannot build (the desktop app carries its binaries read-only): `reason` says why. */
  available: z.boolean(),
  reason: z.string().optional(),
  state: z.enum(["idle", "running", "built", "failed", "cancelled"]),
  gpu: buildGpuSchema.optional(),
  started_at: z.iso.datetime().optional(),
  finished_at: z.iso.datetime().optional(),
  /** The build's last lines of output: its progress while it runs, why it failed after. */
  output: z.array(z.string()),
  message: z.string().optional(),
});
export type GpuBuildStatus = z.infer<typeof gpuBuildStatusSchema>;

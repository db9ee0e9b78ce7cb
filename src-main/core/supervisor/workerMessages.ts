import { z } from "zod";

/**
 * What the supervisor tells a running worker over the channel to its parent (a child process's IPC,
 * a utility process's port), so a changed setting reaches it without a restart that would end its
 * requests.
 */
export const workerMessageSchema = z.discriminatedUnion("type", [
  /** The Hugging Face token for downloads changed (null: none any more). */
  z.object({ type: z.literal("hf-token"), token: z.string().min(1).nullable() }),
]);
export type WorkerMessage = z.infer<typeof workerMessageSchema>;

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
  z.object({ type: z.literal("devices"), devices: detectedDevicesSchema }),
]);
export type WorkerReport = z.infer<typeof workerReportSchema>;

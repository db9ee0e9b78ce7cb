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

import { z } from "zod";
import { gpuBuildStatusSchema } from "./gpuBuild";
import { modelSchema } from "./models";
import { nodeSchema } from "./nodes";
import { requestRecordSchema } from "./requests";

/**
 * `GET /v0/events`: server-sent events for the dashboard. Each event is one unnamed SSE message whose
 * `data` is one of these, as JSON. A client subscribes first, then reads the snapshot
 * (`GET /v0/models`, `GET /v0/nodes`), then applies changes; on reconnect it reads the snapshot again.
 */
export const serverEventSchema = z.discriminatedUnion("type", [
  /** A model was registered, or its state on some node changed (download progress included). */
  z.object({ type: z.literal("model.updated"), model: modelSchema }),
  z.object({ type: z.literal("model.removed"), name: z.string() }),
  /** A node registered, reported (memory, loaded models), went offline or changed health. */
  z.object({ type: z.literal("node.updated"), node: nodeSchema }),
  z.object({ type: z.literal("node.removed"), id: z.string() }),
  /** Serving was paused or resumed. */
  z.object({ type: z.literal("serving"), paused: z.boolean() }),
  /** The node token was replaced: what `GET /v0/nodes/join` shows changed. */
  z.object({ type: z.literal("node.token_replaced") }),
  /** A build of llama.cpp for this machine's GPU started, printed more, or ended. */
  z.object({ type: z.literal("gpu.build"), build: gpuBuildStatusSchema }),
  /** Inference requests answered since the last such event (sent at most twice a second), oldest first. */
  z.object({ type: z.literal("requests.done"), requests: z.array(requestRecordSchema) }),
]);
export type ServerEvent = z.infer<typeof serverEventSchema>;

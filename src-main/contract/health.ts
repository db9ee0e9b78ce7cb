import { z } from "zod";

export const healthSchema = z.object({
  status: z.literal("ok"),
  version: z.string(),
  uptime_seconds: z.number(),
  models: z.number().int(),
});
export type Health = z.infer<typeof healthSchema>;

/**
 * `GET /v0/ready` (no token): 200 while `/v1` serves (not paused, a model ready), 503 otherwise, with
 * why. For what stands in front of llmlb (a load balancer's health check, a readiness probe, a script
 * waiting to send); `/v0/health` says only that llmlb runs.
 */
export const readinessSchema = z.object({
  ready: z.boolean(),
  /** Why it is not ready, in words; null when it is. */
  reason: z.string().nullable(),
  models: z.object({ total: z.number().int(), ready: z.number().int() }),
});
export type Readiness = z.infer<typeof readinessSchema>;

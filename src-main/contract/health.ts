import { z } from "zod";

export const healthSchema = z.object({
  status: z.literal("ok"),
  version: z.string(),
  uptime_seconds: z.number(),
  models: z.number().int(),
});
export type Health = z.infer<typeof healthSchema>;

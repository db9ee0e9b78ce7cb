import { z } from "zod";

/** Every error leaves the server in OpenAI's shape, on /v1 and /v0 alike. */
export const errorBodySchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    code: z.string().nullable(),
    param: z.string().nullable().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

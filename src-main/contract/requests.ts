import { z } from "zod";

/**
 * One inference request once answered, as the access log writes it: what the dashboard's Requests page
 * lists (`GET /v0/requests`, newest first) and the `requests.done` event brings.
 */
export const requestRecordSchema = z.object({
  /** Its `x-request-id`, the `reqId` of its log lines. */
  id: z.string(),
  /** When it was answered. */
  at: z.iso.datetime(),
  /** The address it came from. */
  client: z.string().optional(),
  /** The model's id; `unknown` for one not registered (or not read: refused as it came, or paused). */
  model: z.string(),
  /** The route the client called: `/v1/chat/completions`. */
  path: z.string(),
  /** The status the client got (499: it left before its answer). */
  status: z.number().int(),
  ms: z.number().int().nonnegative(),
  /** The node that answered, or was tried last. */
  node: z.string().optional(),
  /** Nodes tried, when more than one. */
  tries: z.number().int().positive().optional(),
  /** From its arrival to its answer's first byte. */
  first_byte_ms: z.number().int().nonnegative().optional(),
  /** A whole answer's tokens, from its usage. */
  completion_tokens: z.number().int().positive().optional(),
  /** A stream's events from its node (about one a token). */
  stream_events: z.number().int().positive().optional(),
});
export type RequestRecord = z.infer<typeof requestRecordSchema>;

export const requestListSchema = z.object({ data: z.array(requestRecordSchema) });
export type RequestList = z.infer<typeof requestListSchema>;

import { z } from "zod";
import { requestPageSize } from "./requestRecords";

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
  /**
   * The model the client named, where `model` is `unknown` (not registered here, or not looked up: paused,
   * or refused as it came), cut to 200 characters.
   */
  requested_model: z.string().max(200).optional(),
  /** The route the client called: `/v1/chat/completions`. */
  path: z.string(),
  /**
   * How it ended, as a load balancer's log says it: the status the client got, 499 when it left
   * before its answer, 502 when the answer broke off after it began (`broke_off`).
   */
  status: z.number().int(),
  /**
   * The answer broke off after it began: the client had its head (200) and a stream's first events,
   * or part of a body, then an error. Absent otherwise.
   */
  broke_off: z.literal(true).optional(),
  /**
   * Why it failed, as its client was told: the error's code (null where the node that refused it
   * gave none) and message, cut to 500 characters. For a status of 400 or more, but 499.
   */
  error: z.object({ code: z.string().max(100).nullable(), message: z.string().max(500) }).optional(),
  /** It asked for its answer streamed. */
  stream: z.literal(true).optional(),
  ms: z.number().int().nonnegative(),
  /** The node that answered, or was tried last. */
  node: z.string().optional(),
  /** Nodes tried, when more than one. */
  tries: z.number().int().positive().optional(),
  /** Why the nodes tried before failed, in order (`name: reason`; at most 8, each cut to 300 characters). */
  failed_tries: z.array(z.string().max(300)).max(8).optional(),
  /** How long it waited in llmlb's queue for a free slot, where it waited (part of `first_byte_ms`). */
  queued_ms: z.number().int().nonnegative().optional(),
  /** From its arrival to its answer's first byte. */
  first_byte_ms: z.number().int().nonnegative().optional(),
  /** The tokens it generated, from the usage its answer carried (a stream's too, where it had one). */
  completion_tokens: z.number().int().positive().optional(),
  /** A stream without usage: its events from its node (about one a token), as many as it sent. */
  stream_events: z.number().int().positive().optional(),
});
export type RequestRecord = z.infer<typeof requestRecordSchema>;

/**
 * A page of `GET /v0/requests`: newest first, from the newest or from just before a request already
 * listed, only failures (as `isFailedRequest` says) or only a model (as `requestMatches` says).
 */
export const requestListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(requestPageSize),
  /** The id of the last request of the page before: this page goes on after it. */
  before: z.string().max(100).optional(),
  failures: z.enum(["true", "false"]).optional(),
  /** Only those for a model whose name (or the name its client sent) contains this. */
  model: z.string().max(200).optional(),
});
export type RequestListQuery = z.infer<typeof requestListQuerySchema>;

export const requestListSchema = z.object({
  data: z.array(requestRecordSchema),
  /** Older requests that match are kept too: ask with `before` the last one's id. Absent from servers older than paging. */
  has_more: z.boolean().optional(),
});
export type RequestList = z.infer<typeof requestListSchema>;

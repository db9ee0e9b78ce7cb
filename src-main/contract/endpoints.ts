import { z } from "zod";
import { endpointParallelBounds } from "./endpointLimits";

const { min, max } = endpointParallelBounds;
const parallelMessage = `must be a whole number of requests from ${min.toLocaleString("en-US")} to ${max.toLocaleString("en-US")}`;

/** How many requests llmlb sends the endpoint at once; the rest wait in llmlb's admission queue. */
export const endpointParallelSchema = z
  .number({ error: parallelMessage })
  .int(parallelMessage)
  .min(min, parallelMessage)
  .max(max, parallelMessage);

/**
 * `POST /v0/endpoints`: an OpenAI-compatible server (llama.cpp's server, vLLM, Ollama, another llmlb)
 * added as a node. Its `/v1/models` are discovered and routed like local models.
 */
export const endpointCreateRequestSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only"),
  /** The server's base URL, with or without a trailing `/v1`. */
  url: z.url({ protocol: /^https?$/ }).max(2048),
  /** Sent as `Authorization: Bearer …` to the server. Default: none. */
  api_key: z.string().min(1).max(4096).optional(),
  /** Requests llmlb sends it at once. Default: 4 (`defaultEndpointParallel`). */
  parallel: endpointParallelSchema.optional(),
});
export type EndpointCreateRequest = z.infer<typeof endpointCreateRequestSchema>;

export const endpointSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** The base URL requests go to (ending in `/v1`). */
  url: z.string(),
  has_api_key: z.boolean(),
  status: z.enum(["online", "offline"]),
  /** Why the last health check failed, when it did. */
  last_error: z.string().nullable(),
  last_checked_at: z.string().nullable(),
  /** The model ids the server listed at its last health check. */
  models: z.array(z.string()),
  /** Requests llmlb sends it at once (4 unless set). */
  parallel: z.number().int().positive(),
  created_at: z.string(),
});
export type Endpoint = z.infer<typeof endpointSchema>;

/**
 * `PATCH /v0/endpoints/<id or name>`: what to change. A new `parallel` applies to the requests admitted
 * from then on; those running finish as they are. A new `url` or `api_key` (a server moved, a key
 * rotated; null: no key) is asked of the server first, as at `add`, and kept only once it answered.
 */
export const endpointUpdateRequestSchema = z
  .strictObject({
    parallel: endpointParallelSchema.optional(),
    url: endpointCreateRequestSchema.shape.url.optional(),
    api_key: endpointCreateRequestSchema.shape.api_key.unwrap().nullable().optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, {
    error: "names nothing to change: give parallel, url or api_key",
  });
export type EndpointUpdateRequest = z.infer<typeof endpointUpdateRequestSchema>;

export const endpointListSchema = z.object({ data: z.array(endpointSchema) });
export type EndpointList = z.infer<typeof endpointListSchema>;

/**
 * What an OpenAI-compatible server answers at `GET <base>/models`, as far as we read it: the ids, and
 * `ready` where the server says it (llmlb does: a model still downloading there is `ready: false`).
 * Servers add fields of their own (`owned_by`, `meta`, …); those are ignored.
 */
export const upstreamModelListSchema = z.object({
  // Read one by one (`upstreamModelSchema`): an entry that is no model id leaves the others served.
  data: z.array(z.unknown()),
});

/** One model of an upstream list; any `ready` but `false` is ready (other servers may put anything there). */
export const upstreamModelSchema = z.object({
  id: z.string().min(1).max(1300),
  ready: z.unknown().optional(),
});

/** The most models one endpoint lists that are read. */
export const upstreamModelsKept = 10_000;

/** On llmlb's `GET /v1/models` answers: which running llmlb answered (random at each start). */
export const instanceHeader = "llmlb-instance";
/** On requests llmlb forwards: the instances they went through, comma-separated, to end circles. */
export const viaHeader = "llmlb-via";
export type UpstreamModelList = z.infer<typeof upstreamModelListSchema>;

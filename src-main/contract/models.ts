import { z } from "zod";
import { defaultIdleTtlSeconds, modelSettingBounds } from "./modelSettingLimits";
import { modelOnNodeSchema } from "./nodes";

export const artifactFormatSchema = z.enum(["gguf", "safetensors", "other"]);
export type ArtifactFormat = z.infer<typeof artifactFormatSchema>;

/** One file of a registered model, as the hub described it at the registered commit. */
export const artifactSchema = z.object({
  filename: z.string(),
  format: artifactFormatSchema,
  quantization: z.string().nullable(),
  size_bytes: z.number().int().nonnegative(),
  sha256: z.string().nullable(),
  /** Split GGUF sets share a group (the filename without its `-0000k-of-0000n` part). */
  split_group: z.string().nullable(),
});
export type Artifact = z.infer<typeof artifactSchema>;

/** A whole number in a range, or null for the default: one sentence says what fits, whatever was wrong. */
function wholeNumberOrDefault({ min, max }: { min: number; max: number }, unit: string, otherwise: string) {
  const message = `must be a whole number of ${unit} from ${min.toLocaleString("en-US")} to ${max.toLocaleString("en-US")}, or null for ${otherwise}`;
  return z.number({ error: message }).int(message).min(min, message).max(max, message).nullable();
}

/**
 * How nodes run a model. `null` means "the node decides": the largest context the model and memory
 * allow, the node's parallel sequences, its idle time.
 */
export const modelSettingsSchema = z.object({
  /** Tokens one request may hold (prompt and answer); at most what the model was trained on. */
  context_size: wholeNumberOrDefault(
    modelSettingBounds.context_size,
    "tokens",
    "what the model was trained on",
  ),
  /** When a conversation outgrows the context: refuse (400), or leave out its oldest messages. A request's `context_overflow` overrides. */
  context_overflow: z.enum(["error", "truncate_oldest"]),
  /** Requests a node runs at once for this model (sequences of its context); fewer when memory is short. */
  parallel: wholeNumberOrDefault(modelSettingBounds.parallel, "requests", "as many as memory allows"),
  /** Seconds the model stays loaded with no request. A request's `ttl` overrides. */
  idle_ttl_seconds: wholeNumberOrDefault(
    modelSettingBounds.idle_ttl_seconds,
    "seconds",
    `the default (${defaultIdleTtlSeconds} s)`,
  ),
  /** Names of the nodes that may serve it (one GPU's worker, a joined machine, an endpoint); empty: every node. */
  nodes: z.array(z.string().min(1).max(128)).max(64),
});
export type ModelSettings = z.infer<typeof modelSettingsSchema>;

export const defaultModelSettings: ModelSettings = {
  context_size: null,
  context_overflow: "error",
  parallel: null,
  idle_ttl_seconds: null,
  nodes: [],
};

/** Settings to change; `null` puts one back to its default. */
const settingsChangeSchema = z.strictObject({
  context_size: modelSettingsSchema.shape.context_size.optional(),
  context_overflow: modelSettingsSchema.shape.context_overflow.nullable().optional(),
  parallel: modelSettingsSchema.shape.parallel.optional(),
  idle_ttl_seconds: modelSettingsSchema.shape.idle_ttl_seconds.optional(),
  // Each node once, however often it was named.
  nodes: modelSettingsSchema.shape.nodes
    .transform((names) => [...new Set(names)])
    .nullable()
    .optional(),
});

/** `PATCH /v0/models/{id}`: the settings to change; `null` puts one back to its default. */
export const modelSettingsPatchSchema = z.strictObject({
  settings: settingsChangeSchema.refine(
    (patch) => Object.keys(patch).length > 0,
    "Name at least one setting to change.",
  ),
});
export type ModelSettingsPatch = z.infer<typeof modelSettingsPatchSchema>["settings"];

/**
 * `POST /v0/models/register`: either a pasted URL/reference, or its parts; with `settings`, the model
 * is registered with them (`nodes`: only those nodes download and serve it, none other begins to).
 */
export const registerRequestSchema = z.union([
  z.strictObject({ url: z.string().max(2048), settings: settingsChangeSchema.optional() }),
  z.strictObject({
    repo: z.string().max(256),
    filename: z.string().max(1024).optional(),
    revision: z.string().min(1).max(256).optional(),
    settings: settingsChangeSchema.optional(),
  }),
]);
export type RegisterRequest = z.infer<typeof registerRequestSchema>;

/** Another name a model answers to in `/v1` requests and the management API, like Ollama's `name:tag`. */
export const aliasNameSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/,
    "An alias starts with a letter or digit and holds only letters, digits and . _ : / @ + -",
  );

/** `POST /v0/aliases`. */
export const aliasRequestSchema = z.strictObject({
  alias: aliasNameSchema,
  model: z.string().min(1).max(1300),
});
export type AliasRequest = z.infer<typeof aliasRequestSchema>;

export const aliasSchema = z.object({ alias: z.string(), model: z.string() });
export type Alias = z.infer<typeof aliasSchema>;

export const modelSchema = z.object({
  name: z.string(),
  repo: z.string(),
  filename: z.string().nullable(),
  revision: z.string(),
  commit: z.string(),
  source: z.string(),
  display_name: z.string(),
  size_bytes: z.number().int().nonnegative(),
  created_at: z.string(),
  artifacts: z.array(artifactSchema),
  ready: z.boolean(),
  /** Each node's state of this model (download progress, readiness, errors). */
  nodes: z.array(modelOnNodeSchema),
  /** Other names it answers to. */
  aliases: z.array(z.string()),
  settings: modelSettingsSchema,
});
export type Model = z.infer<typeof modelSchema>;

/** `POST /v0/models/update`: the model asked for, by its id, alias or link. */
export const modelUpdateRequestSchema = z.strictObject({ model: z.string().min(1).max(1300) });
export type ModelUpdateRequest = z.infer<typeof modelUpdateRequestSchema>;

/**
 * The model at its revision's newest commit (as `ollama pull` updates a model): `updated` when it moved;
 * nodes then fetch its files there, and it is served again once one has them.
 */
export const modelUpdateResponseSchema = z.object({
  model: modelSchema,
  updated: z.boolean(),
  from_commit: z.string(),
  to_commit: z.string(),
  /** In words: what changed, or why nothing did (up to date, registered at a commit). */
  message: z.string(),
});
export type ModelUpdateResponse = z.infer<typeof modelUpdateResponseSchema>;

export const registerResponseSchema = modelSchema.extend({
  status: z.literal("registered"),
  warnings: z.array(z.string()),
  /** Present when the hub was unreachable and the registration used cached metadata. */
  stale: z.object({ age_seconds: z.number() }).optional(),
});
export type RegisterResponse = z.infer<typeof registerResponseSchema>;

export const modelListQuerySchema = z.object({
  search: z.string().max(256).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
export type ModelListQuery = z.infer<typeof modelListQuerySchema>;

/**
 * `GET /v0/removed-files` (nodes): the files removed models left unused, by sha256, oldest first. A
 * node deletes what it downloaded of these, never a file the registry merely does not list.
 */
export const removedFilesSchema = z.object({
  sha256: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(100_000),
});
export type RemovedFiles = z.infer<typeof removedFilesSchema>;

export const modelListSchema = z.object({
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
  data: z.array(modelSchema),
});
export type ModelList = z.infer<typeof modelListSchema>;

export const manifestArtifactSchema = artifactSchema.extend({ url: z.string() });

/** What nodes read to decide which file to download and from where. */
export const manifestSchema = z.object({
  model: z.string(),
  repo: z.string(),
  revision: z.string(),
  commit: z.string(),
  filename: z.string().nullable(),
  artifacts: z.array(manifestArtifactSchema),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** `GET /v1/models`, OpenAI's list plus our `ready`. */
export const openAiModelSchema = z.object({
  id: z.string(),
  object: z.literal("model"),
  created: z.number().int(),
  owned_by: z.string(),
  ready: z.boolean(),
});
export type OpenAiModel = z.infer<typeof openAiModelSchema>;
export const openAiModelListSchema = z.object({
  object: z.literal("list"),
  data: z.array(openAiModelSchema),
});
export type OpenAiModelList = z.infer<typeof openAiModelListSchema>;

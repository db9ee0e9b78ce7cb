import { z } from "zod";
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

/** `POST /v0/models/register`: either a pasted URL/reference, or its parts. */
export const registerRequestSchema = z.union([
  z.strictObject({ url: z.string().max(2048) }),
  z.strictObject({
    repo: z.string().max(256),
    filename: z.string().max(1024).optional(),
    revision: z.string().max(256).optional(),
  }),
]);
export type RegisterRequest = z.infer<typeof registerRequestSchema>;

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
});
export type Model = z.infer<typeof modelSchema>;

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
export const openAiModelListSchema = z.object({
  object: z.literal("list"),
  data: z.array(openAiModelSchema),
});
export type OpenAiModelList = z.infer<typeof openAiModelListSchema>;

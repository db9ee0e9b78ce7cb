import { z } from "zod";
import { maxMessages, requestTtlSchema } from "./openai";

/**
 * Anthropic's Messages API (`POST /v1/messages`, `POST /v1/messages/count_tokens`), as Claude Code and
 * the Anthropic SDKs send it. Content not listed here (images, documents, thinking blocks) is refused
 * with a 400 that names it; hints a local model has no use for (`cache_control`, `metadata`,
 * `service_tier`, `thinking`, `output_config.effort`) are accepted and ignored, as are top-level fields
 * not listed.
 */
const cacheControl = { cache_control: z.unknown().optional() };

export const anthropicTextBlockSchema = z.object({
  type: z.literal("text"),
  text: z.string(),
  ...cacheControl,
});
export const anthropicToolUseBlockSchema = z.object({
  type: z.literal("tool_use"),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
  ...cacheControl,
});
export const anthropicToolResultBlockSchema = z.object({
  type: z.literal("tool_result"),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(anthropicTextBlockSchema)]).optional(),
  is_error: z.boolean().optional(),
  ...cacheControl,
});
const contentBlockSchema = z.discriminatedUnion("type", [
  anthropicTextBlockSchema,
  anthropicToolUseBlockSchema,
  anthropicToolResultBlockSchema,
]);

export const anthropicMessageParamSchema = z.object({
  role: z.enum(["user", "assistant"]),
  content: z.union([z.string(), z.array(contentBlockSchema).min(1)], {
    error:
      "must be a string or an array of text, tool_use and tool_result blocks (images, documents and thinking are not supported)",
  }),
});
export type AnthropicMessageParam = z.infer<typeof anthropicMessageParamSchema>;

export const anthropicToolSchema = z.object({
  // First, so a server tool is told so before its missing input_schema.
  type: z
    .literal("custom", {
      error:
        "only custom tools (a name and an input_schema) are served here (server tools such as web_search, code execution and computer use are not)",
    })
    .optional(),
  name: z.string().min(1).max(128),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()),
  ...cacheControl,
});

const messagesBase = {
  model: z.string().min(1),
  messages: z.array(anthropicMessageParamSchema).min(1).max(maxMessages),
  system: z.union([z.string(), z.array(anthropicTextBlockSchema)]).optional(),
  tools: z.array(anthropicToolSchema).optional(),
  tool_choice: z
    .object({ type: z.enum(["auto", "any", "tool", "none"]), name: z.string().optional() })
    .passthrough()
    .optional(),
  /** LM Studio's, as on chat completions. */
  ttl: requestTtlSchema.nullish(),
};

/** Structured outputs: the answer's text is JSON that fits `schema`. */
const anthropicOutputFormatSchema = z.object({
  type: z.literal("json_schema", { error: 'must be "json_schema" (the only output format there is)' }),
  schema: z.record(z.string(), z.unknown()),
});

export const anthropicMessagesRequestSchema = z.object({
  ...messagesBase,
  max_tokens: z.number().int().min(1),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  stream: z.boolean().optional(),
  metadata: z.unknown().optional(),
  service_tier: z.unknown().optional(),
  /**
   * Extended thinking, as Claude Code turns it on: accepted and ignored (the answer has no thinking
   * blocks), so a client that asks for it still gets its answer. Thinking blocks in messages are refused.
   */
  thinking: z.unknown().optional(),
  /** `format` holds the answer to a schema; `effort` is accepted and ignored, as `thinking` is. */
  output_config: z
    .object({ format: anthropicOutputFormatSchema.nullish(), effort: z.unknown().optional() })
    .optional(),
  /** The structured-outputs beta's name for `output_config.format`. */
  output_format: anthropicOutputFormatSchema.nullish(),
});
export type AnthropicMessagesRequest = z.infer<typeof anthropicMessagesRequestSchema>;

export const anthropicCountTokensRequestSchema = z.object(messagesBase);
export type AnthropicCountTokensRequest = z.infer<typeof anthropicCountTokensRequestSchema>;

export const anthropicStopReasonSchema = z.enum(["end_turn", "max_tokens", "stop_sequence", "tool_use"]);
export type AnthropicStopReason = z.infer<typeof anthropicStopReasonSchema>;

/**
 * As Anthropic's: the counts, and the fields its SDKs' types declare (no prompt caching, no server
 * tools here: 0 and null), which code written to those types reads.
 */
export const anthropicUsageSchema = z.object({
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  cache_creation_input_tokens: z.number().int().nonnegative(),
  cache_read_input_tokens: z.number().int().nonnegative(),
  server_tool_use: z.null(),
  service_tier: z.literal("standard"),
});

export const anthropicMessageSchema = z.object({
  id: z.string(),
  type: z.literal("message"),
  role: z.literal("assistant"),
  model: z.string(),
  content: z.array(z.discriminatedUnion("type", [anthropicTextBlockSchema, anthropicToolUseBlockSchema])),
  stop_reason: anthropicStopReasonSchema,
  stop_sequence: z.string().nullable(),
  usage: anthropicUsageSchema,
  container: z.null(),
});
export type AnthropicMessage = z.infer<typeof anthropicMessageSchema>;

/** Errors on the Messages routes, in Anthropic's shape (its SDKs read `error.type`). */
export const anthropicErrorBodySchema = z.object({
  type: z.literal("error"),
  error: z.object({
    type: z.string(),
    message: z.string(),
    /** What Anthropic's SDKs act on, where there is something: `error_code`, `unsupported`. */
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type AnthropicErrorBody = z.infer<typeof anthropicErrorBodySchema>;

/**
 * `GET /v1/models` (and `/v1/models/<id>`) asked by an Anthropic client (an `anthropic-version`
 * header): the registered models in Anthropic's shape, all on one page.
 */
export const anthropicModelSchema = z.object({
  type: z.literal("model"),
  id: z.string(),
  display_name: z.string(),
  /** When it was registered (RFC 3339). */
  created_at: z.string(),
  /** Always `active`: what Anthropic lists of its own models' lifecycle, unknown (null) here. */
  lifecycle: z.literal("active"),
  capabilities: z.null(),
  line: z.null(),
  deprecated_at: z.null(),
  retires_at: z.null(),
  max_input_tokens: z.null(),
  max_tokens: z.null(),
});
export type AnthropicModel = z.infer<typeof anthropicModelSchema>;

export const anthropicModelListSchema = z.object({
  data: z.array(anthropicModelSchema),
  has_more: z.boolean(),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
});
export type AnthropicModelList = z.infer<typeof anthropicModelListSchema>;

import { z } from "zod";
import { modelSettingBounds } from "./modelSettingLimits";

/*
 * The OpenAI-compatible inference API a node serves (and the control plane forwards): chat completions,
 * legacy text completions and embeddings. Requests strip unknown fields rather than refuse them, since
 * OpenAI clients send many we have no use for; optional fields accept null, as several clients send it.
 */

// ---------------------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------------------

/**
 * LM Studio's `ttl`: seconds the model may stay loaded while idle after this request. More than a model's
 * idle setting may be (7 days) is taken as that: "keep it loaded", as such a value means.
 */
export const requestTtlSchema = z
  .number()
  .positive()
  .transform((seconds) => Math.min(seconds, modelSettingBounds.idle_ttl_seconds.max));

export const usageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof usageSchema>;

/** "stop": a stop string, end of text or a finished JSON; "length": max_tokens (or the context) ran out. */
export const finishReasonSchema = z.enum(["stop", "length", "tool_calls"]);
export type FinishReason = z.infer<typeof finishReasonSchema>;

const stopSchema = z.union([z.string(), z.array(z.string()).max(16)], {
  error: "must be a string or an array of up to 16 strings",
});

const streamOptionsSchema = z.object({ include_usage: z.boolean().nullish() });

/** Sampling and length fields both generation endpoints share. */
const samplingFields = {
  model: z.string().min(1),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  /** llama.cpp's extensions, sent by clients that know them (LM Studio, Open WebUI). */
  top_k: z.number().int().min(0).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repeat_penalty: z.number().min(0).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  stop: stopSchema.nullish(),
  seed: z.number().int().nullish(),
  n: z.number().int().positive().nullish(),
  stream: z.boolean().nullish(),
  stream_options: streamOptionsSchema.nullish(),
  ttl: requestTtlSchema.nullish(),
  user: z.string().nullish(),
};

// ---------------------------------------------------------------------------------------------------------
// POST /v1/chat/completions
// ---------------------------------------------------------------------------------------------------------

export const textPartSchema = z.object({ type: z.literal("text"), text: z.string() });
export type TextPart = z.infer<typeof textPartSchema>;

const contentSchema = z.union([z.string(), z.array(textPartSchema)], {
  error: 'must be a string or an array of {"type": "text", "text": "..."} parts',
});

export const toolCallSchema = z.object({
  id: z.string(),
  type: z.literal("function"),
  function: z.object({ name: z.string(), arguments: z.string() }),
});
export type ToolCall = z.infer<typeof toolCallSchema>;

export const chatMessageSchema = z.discriminatedUnion(
  "role",
  [
    z.object({ role: z.literal("system"), content: contentSchema, name: z.string().nullish() }),
    /** OpenAI's newer name for system instructions. */
    z.object({ role: z.literal("developer"), content: contentSchema, name: z.string().nullish() }),
    z.object({ role: z.literal("user"), content: contentSchema, name: z.string().nullish() }),
    z.object({
      role: z.literal("assistant"),
      content: contentSchema.nullish(),
      name: z.string().nullish(),
      tool_calls: z.array(toolCallSchema).nullish(),
    }),
    z.object({ role: z.literal("tool"), content: contentSchema, tool_call_id: z.string() }),
  ],
  { error: "role must be one of system, developer, user, assistant, tool" },
);
export type ChatMessage = z.infer<typeof chatMessageSchema>;

export const toolSchema = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().min(1),
    description: z.string().nullish(),
    /** A JSON schema of the arguments. */
    parameters: z.record(z.string(), z.unknown()).nullish(),
  }),
});
export type Tool = z.infer<typeof toolSchema>;

/**
 * Chat's function tools, from the flat form the Responses and Messages APIs give them in; none when
 * there are none.
 */
export function chatFunctionTools(
  tools: readonly {
    name: string;
    description?: string | null;
    parameters?: Record<string, unknown> | null;
  }[] = [],
): { tools?: Tool[] } {
  if (tools.length === 0) return {};
  return {
    tools: tools.map(({ name, description, parameters }) => ({
      type: "function",
      function: { name, ...(description ? { description } : {}), ...(parameters ? { parameters } : {}) },
    })),
  };
}

export const toolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
]);
export type ToolChoice = z.infer<typeof toolChoiceSchema>;

/** A JSON schema answers must fit: nested in chat's `response_format`, flat in the Responses API's `text.format`. */
export const jsonSchemaFormatFields = {
  name: z.string().nullish(),
  description: z.string().nullish(),
  schema: z.record(z.string(), z.unknown()),
  strict: z.boolean().nullish(),
};

export const responseFormatSchema = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("text") }),
    z.object({ type: z.literal("json_object") }),
    z.object({ type: z.literal("json_schema"), json_schema: z.object(jsonSchemaFormatFields) }),
  ],
  { error: "type must be one of text, json_object, json_schema" },
);
export type ResponseFormat = z.infer<typeof responseFormatSchema>;

/** The most alternatives a token's log probability comes with (OpenAI's bound on `top_logprobs`). */
export const maxTopLogprobs = 20;

/** A token's log probability as chat completions give it: its text, its bytes (UTF-8 may split across tokens). */
const tokenLogprobSchema = z.object({
  token: z.string(),
  /** Natural log; -9999 for a token the model gives no chance at all. */
  logprob: z.number(),
  bytes: z.array(z.number().int()).nullable(),
});

/** A token's log probability with its place's likeliest tokens: chat's, and the Responses API's. */
export const tokenLogprobWithTopSchema = tokenLogprobSchema.extend({
  top_logprobs: z.array(tokenLogprobSchema),
});
export type TokenLogprobWithTop = z.infer<typeof tokenLogprobWithTopSchema>;

/** `choices[].logprobs` of a chat completion asked for with `logprobs: true`. */
export const chatLogprobsSchema = z.object({
  content: z.array(tokenLogprobWithTopSchema).nullable(),
  refusal: z.null(),
});
export type ChatLogprobs = z.infer<typeof chatLogprobsSchema>;

/**
 * The most messages one request may hold, as Anthropic's Messages API allows. A node renders a
 * conversation through the model's chat template on its only thread; a million short messages
 * would hold it for seconds, long enough to be taken for lost.
 */
export const maxMessages = 100_000;

const olderFunctions =
  'the older functions form is not served: send the functions as tools (each {"type": "function", "function": {…}}) and function_call as tool_choice';

export const chatCompletionRequestSchema = z.object({
  ...samplingFields,
  messages: z.array(chatMessageSchema).min(1).max(maxMessages),
  /** OpenAI's newer name for max_tokens; wins when both are sent. */
  max_completion_tokens: z.number().int().positive().nullish(),
  response_format: responseFormatSchema.nullish(),
  tools: z.array(toolSchema).nullish(),
  tool_choice: toolChoiceSchema.nullish(),
  /** OpenAI's older form of tools: refused, naming the newer one, rather than answered as if not sent. */
  functions: z.array(z.unknown()).max(0, { error: olderFunctions }).nullish(),
  function_call: z.null({ error: olderFunctions }).optional(),
  /** Each answer token's log probability, with the `top_logprobs` likeliest tokens at its place (0 to 20). */
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(maxTopLogprobs).nullish(),
  /**
   * llmlb's own: what to do when the conversation no longer fits the model's context. `error` (the
   * default, as OpenAI): 400 context_length_exceeded. `truncate_oldest`: the oldest messages after the
   * system ones are left out until it fits, and the answer's `x-llmlb-truncated-messages` header says
   * how many.
   */
  context_overflow: z.enum(["error", "truncate_oldest"]).nullish(),
});
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

export const chatCompletionSchema = z.object({
  id: z.string(),
  object: z.literal("chat.completion"),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z.object({
        role: z.literal("assistant"),
        content: z.string().nullable(),
        refusal: z.null(),
        tool_calls: z.array(toolCallSchema).optional(),
      }),
      logprobs: chatLogprobsSchema.nullable(),
      finish_reason: finishReasonSchema,
    }),
  ),
  usage: usageSchema,
});
export type ChatCompletion = z.infer<typeof chatCompletionSchema>;

/** A streamed tool call: OpenAI sends it in pieces keyed by index; we send each call whole. */
export const toolCallDeltaSchema = toolCallSchema.extend({ index: z.number().int() });
export type ToolCallDelta = z.infer<typeof toolCallDeltaSchema>;

/**
 * One `data:` event of a streamed chat completion. The first carries the role, the last content chunk
 * carries finish_reason; with stream_options.include_usage a last chunk has no choices and the usage
 * (earlier chunks then carry `usage: null`, as OpenAI's do).
 */
export const chatCompletionChunkSchema = z.object({
  id: z.string(),
  object: z.literal("chat.completion.chunk"),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      delta: z.object({
        role: z.literal("assistant").optional(),
        /** null on the first chunk of an answer that may be a call, as OpenAI's. */
        content: z.string().nullable().optional(),
        tool_calls: z.array(toolCallDeltaSchema).optional(),
      }),
      /** On the choice's last chunk, for all its tokens at once. */
      logprobs: chatLogprobsSchema.nullable(),
      finish_reason: finishReasonSchema.nullable(),
    }),
  ),
  usage: usageSchema.nullable().optional(),
});
export type ChatCompletionChunk = z.infer<typeof chatCompletionChunkSchema>;

// ---------------------------------------------------------------------------------------------------------
// POST /v1/completions
// ---------------------------------------------------------------------------------------------------------

export const completionRequestSchema = z.object({
  ...samplingFields,
  /**
   * A string, or the token ids of one (as evaluation harnesses send it). An array of one of either
   * (as LangChain and lm-evaluation-harness batch one prompt) is that one.
   */
  prompt: z.preprocess(
    (value) =>
      Array.isArray(value) && value.length === 1 && typeof value[0] !== "number" ? value[0] : value,
    z.union([z.string(), z.array(z.number().int().nonnegative()).min(1)], {
      error: "must be a string or an array of token ids (one prompt per request)",
    }),
  ),
  /** 0 asks only for the prompt back (with `echo`), as evaluation harnesses do. */
  max_tokens: z.number().int().nonnegative().nullish(),
  /** The prompt comes back before the answer, in `text` and in `logprobs`. */
  echo: z.boolean().nullish(),
  best_of: z.number().int().nullish(),
  /** Each token's log probability, with this many likeliest tokens at its place (0 to 20). */
  logprobs: z.number().int().min(0).max(maxTopLogprobs).nullish(),
  suffix: z.string().nullish(),
});
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

/**
 * `choices[].logprobs` of a text completion asked for with `logprobs`: a list per token. The first
 * token of an echoed prompt has no log probability when nothing came before it (no BOS token).
 */
export const completionLogprobsSchema = z.object({
  tokens: z.array(z.string()),
  token_logprobs: z.array(z.number().nullable()),
  /** The likeliest tokens at each place, and the token chosen there. */
  top_logprobs: z.array(z.record(z.string(), z.number()).nullable()),
  /** Where each token begins in `text`, in characters. */
  text_offset: z.array(z.number().int()),
});
export type CompletionLogprobs = z.infer<typeof completionLogprobsSchema>;

const completionChoiceSchema = z.object({
  index: z.number().int(),
  text: z.string(),
  logprobs: completionLogprobsSchema.nullable(),
  finish_reason: finishReasonSchema.nullable(),
});

export const completionSchema = z.object({
  id: z.string(),
  object: z.literal("text_completion"),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(completionChoiceSchema),
  usage: usageSchema,
});
export type Completion = z.infer<typeof completionSchema>;

/** A streamed completion event: the same object, with `usage` only on the last one (include_usage). */
export const completionChunkSchema = completionSchema.extend({ usage: usageSchema.nullable().optional() });
export type CompletionChunk = z.infer<typeof completionChunkSchema>;

// ---------------------------------------------------------------------------------------------------------
// POST /v1/embeddings
// ---------------------------------------------------------------------------------------------------------

export const embeddingRequestSchema = z.object({
  model: z.string().min(1),
  input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(2048)], {
    error: "must be a non-empty string or a non-empty array of non-empty strings",
  }),
  /** "base64": little-endian float32 bytes; the openai SDK asks for it unless told otherwise. */
  encoding_format: z.enum(["float", "base64"]).nullish(),
  dimensions: z.number().int().positive().nullish(),
  ttl: requestTtlSchema.nullish(),
  user: z.string().nullish(),
});
export type EmbeddingRequest = z.infer<typeof embeddingRequestSchema>;

export const embeddingResponseSchema = z.object({
  object: z.literal("list"),
  data: z.array(
    z.object({
      object: z.literal("embedding"),
      index: z.number().int(),
      embedding: z.union([z.array(z.number()), z.string()]),
    }),
  ),
  model: z.string(),
  usage: z.object({
    prompt_tokens: z.number().int().nonnegative(),
    total_tokens: z.number().int().nonnegative(),
  }),
});
export type EmbeddingResponse = z.infer<typeof embeddingResponseSchema>;

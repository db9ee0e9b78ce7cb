import { z } from "zod";
import {
  jsonSchemaFormatFields,
  maxMessages,
  maxTopLogprobs,
  requestTtlSchema,
  tokenLogprobWithTopSchema,
} from "./openai";

/*
 * OpenAI's Responses API (`POST /v1/responses`, `GET` and `DELETE /v1/responses/{id}`,
 * `GET /v1/responses/{id}/input_items`), as the OpenAI SDKs and the Agents SDK send it. llmlb runs a
 * response as a chat completion at a node and keeps the responses it stores in its registry, so
 * `previous_response_id` works with every node, external endpoints included. What is not listed here
 * (images, files, audio, reasoning items, built-in tools, background mode) is refused with a 400 that
 * names it; unknown fields are ignored, as on the other routes.
 */

/** What `include` may ask for: the output text's log probabilities. */
export const logprobsInclude = "message.output_text.logprobs";

const inputTextPartSchema = z.object({ type: z.literal("input_text"), text: z.string() });
export const outputTextPartSchema = z.object({
  type: z.literal("output_text"),
  text: z.string(),
  annotations: z.array(z.unknown()),
  /** Each token's, when `include` asks for `message.output_text.logprobs`. */
  logprobs: z.array(tokenLogprobWithTopSchema).optional(),
});
export type OutputTextPart = z.infer<typeof outputTextPartSchema>;
/** An output text as a client sends it back: annotations optional. */
const outputTextInputSchema = outputTextPartSchema.extend({ annotations: z.array(z.unknown()).optional() });
const refusalPartSchema = z.object({ type: z.literal("refusal"), refusal: z.string() });

const itemStatusSchema = z.enum(["in_progress", "completed", "incomplete"]);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A message in the input: text, or parts of text (an assistant's own output sent back included). Text
 * alone is read as one `input_text` part, so every message has parts.
 */
export const responseMessageInputSchema = z.object({
  type: z.literal("message"),
  id: z.string().nullish(),
  status: itemStatusSchema.nullish(),
  role: z.enum(["user", "assistant", "system", "developer"]),
  content: z.preprocess(
    (content) => (typeof content === "string" ? [{ type: "input_text", text: content }] : content),
    z.array(
      z.discriminatedUnion("type", [inputTextPartSchema, outputTextInputSchema, refusalPartSchema], {
        error: "parts must be input_text, output_text or refusal (images, files and audio are not supported)",
      }),
      { error: "must be a string or an array of input_text parts" },
    ),
  ),
});
export type ResponseMessageInput = z.infer<typeof responseMessageInputSchema>;

export const functionCallItemSchema = z.object({
  type: z.literal("function_call"),
  id: z.string().nullish(),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
  status: itemStatusSchema.nullish(),
});
export type FunctionCallItem = z.infer<typeof functionCallItemSchema>;

export const functionCallOutputItemSchema = z.object({
  type: z.literal("function_call_output"),
  id: z.string().nullish(),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(inputTextPartSchema)], {
    error: "must be a string or an array of input_text parts",
  }),
  status: itemStatusSchema.nullish(),
});
export type FunctionCallOutputItem = z.infer<typeof functionCallOutputItemSchema>;

/** An input item; one with a role and no type is a message, as OpenAI reads it. */
export const responseInputItemSchema = z.preprocess(
  (item) =>
    isRecord(item) && item.type === undefined && "role" in item ? { ...item, type: "message" } : item,
  z.discriminatedUnion(
    "type",
    [responseMessageInputSchema, functionCallItemSchema, functionCallOutputItemSchema],
    {
      error:
        "each input item must be a message (role and content), a function_call or a function_call_output (item references and built-in tool calls are not supported)",
    },
  ),
);
export type ResponseInputItem = z.infer<typeof responseInputItemSchema>;

export const responseFunctionToolSchema = z.object({
  type: z.literal("function", {
    error: "only function tools are served here (built-in tools such as web_search and file_search are not)",
  }),
  name: z.string().min(1).max(64),
  description: z.string().nullish(),
  /** A JSON schema of the arguments. */
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});
export type ResponseFunctionTool = z.infer<typeof responseFunctionToolSchema>;

export const responseToolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.object({ type: z.literal("function"), name: z.string().min(1) }),
]);
export type ResponseToolChoice = z.infer<typeof responseToolChoiceSchema>;

export const responseTextFormatSchema = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("text") }),
    z.object({ type: z.literal("json_object") }),
    z.object({ type: z.literal("json_schema"), ...jsonSchemaFormatFields, name: z.string().min(1) }),
  ],
  { error: "type must be one of text, json_object, json_schema" },
);
export type ResponseTextFormat = z.infer<typeof responseTextFormatSchema>;

const notServed = (what: string) => ({ error: `${what} is not supported here` });

export const responsesRequestSchema = z.object({
  model: z.string().min(1),
  /** Text alone is one user message. */
  input: z.preprocess(
    (input) =>
      typeof input === "string"
        ? [{ type: "message", role: "user", content: input }]
        : // A reasoning item a stateless client sends back (another model's) carries nothing used here.
          Array.isArray(input)
          ? input.filter((item) => !(isRecord(item) && item.type === "reasoning"))
          : input,
    z
      .array(responseInputItemSchema, { error: "must be a string or an array of input items" })
      .max(maxMessages),
  ),
  instructions: z.string().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  /** Default true: the response is kept (30 days) for `previous_response_id` and `GET`. */
  store: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  tools: z.array(responseFunctionToolSchema).nullish(),
  tool_choice: responseToolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z.object({ format: responseTextFormatSchema.nullish() }).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().nullish(),
  /** LM Studio's, as on chat completions. */
  ttl: requestTtlSchema.nullish(),
  /** Accepted and ignored: a local model has no reasoning settings to take. */
  reasoning: z.unknown().optional(),
  truncation: z.enum(["auto", "disabled"]).nullish(),
  /**
   * The output text's log probabilities can be. A reasoning item's encrypted content is accepted and
   * there is none to include (no reasoning items are made here), as stateless clients ask it every turn.
   */
  include: z
    .array(
      z.enum([logprobsInclude, "reasoning.encrypted_content"], {
        error: `only "${logprobsInclude}" can be included here (no built-in tool results, no images)`,
      }),
    )
    .nullish(),
  /** With `include: ["message.output_text.logprobs"]`: the likeliest tokens at each place (0 to 20). */
  top_logprobs: z.number().int().min(0).max(maxTopLogprobs).nullish(),
  background: z.literal(false, notServed("background mode")).nullish(),
  conversation: z.null(notServed("conversation (use previous_response_id)")).optional(),
  prompt: z.null(notServed("a stored prompt")).optional(),
});
export type ResponsesRequest = z.infer<typeof responsesRequestSchema>;

export const responseOutputMessageSchema = z.object({
  type: z.literal("message"),
  id: z.string(),
  status: itemStatusSchema,
  role: z.literal("assistant"),
  content: z.array(outputTextPartSchema),
});
export type ResponseOutputMessage = z.infer<typeof responseOutputMessageSchema>;

export const responseFunctionCallSchema = functionCallItemSchema.extend({
  id: z.string(),
  status: itemStatusSchema,
});
export type ResponseFunctionCall = z.infer<typeof responseFunctionCallSchema>;

export const responseOutputItemSchema = z.discriminatedUnion("type", [
  responseOutputMessageSchema,
  responseFunctionCallSchema,
]);
export type ResponseOutputItem = z.infer<typeof responseOutputItemSchema>;

export const responseUsageSchema = z.object({
  input_tokens: z.number().int().nonnegative(),
  input_tokens_details: z.object({ cached_tokens: z.number().int().nonnegative() }),
  output_tokens: z.number().int().nonnegative(),
  output_tokens_details: z.object({ reasoning_tokens: z.number().int().nonnegative() }),
  total_tokens: z.number().int().nonnegative(),
});
export type ResponseUsage = z.infer<typeof responseUsageSchema>;

export const responseStatusSchema = z.enum(["in_progress", "completed", "incomplete", "failed"]);
export type ResponseStatus = z.infer<typeof responseStatusSchema>;

export const responseObjectSchema = z.object({
  id: z.string(),
  object: z.literal("response"),
  /** Unix seconds. */
  created_at: z.number().int(),
  status: responseStatusSchema,
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  incomplete_details: z.object({ reason: z.literal("max_output_tokens") }).nullable(),
  instructions: z.string().nullable(),
  max_output_tokens: z.number().int().nullable(),
  model: z.string(),
  output: z.array(responseOutputItemSchema),
  parallel_tool_calls: z.boolean(),
  previous_response_id: z.string().nullable(),
  store: z.boolean(),
  temperature: z.number().nullable(),
  top_p: z.number().nullable(),
  /** As asked (absent from responses stored before it was kept). */
  top_logprobs: z.number().int().nullable().optional(),
  text: z.object({ format: responseTextFormatSchema }),
  tool_choice: responseToolChoiceSchema,
  tools: z.array(responseFunctionToolSchema),
  truncation: z.enum(["auto", "disabled"]),
  usage: responseUsageSchema.nullable(),
  user: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
});
export type ResponseObject = z.infer<typeof responseObjectSchema>;

/** `GET /v1/responses/{id}/input_items`: what the response was given, the chain before it included. */
export const responseInputItemsListSchema = z.object({
  object: z.literal("list"),
  data: z.array(z.record(z.string(), z.unknown())),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
  has_more: z.boolean(),
});
export type ResponseInputItemsList = z.infer<typeof responseInputItemsListSchema>;

/** `DELETE /v1/responses/{id}`. */
export const responseDeletedSchema = z.object({
  id: z.string(),
  object: z.literal("response"),
  deleted: z.literal(true),
});

/**
 * One event of a streamed response, sent as a named server-sent event (`event: <type>`). Every event
 * carries its `sequence_number`; the first is `response.created` and the last `response.completed`,
 * `response.incomplete` or `response.failed`.
 */
export const responseStreamEventSchema = z
  .object({ type: z.string(), sequence_number: z.number().int().nonnegative() })
  .passthrough();
export type ResponseStreamEvent = z.infer<typeof responseStreamEventSchema>;

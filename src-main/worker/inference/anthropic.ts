import { randomBytes } from "node:crypto";
import {
  chatFunctionTools,
  type AnthropicCountTokensRequest,
  type AnthropicMessage,
  type AnthropicMessageParam,
  type AnthropicMessagesRequest,
  type AnthropicStopReason,
  type ChatCompletionRequest,
  type ChatMessage,
} from "../../contract";
import { cutText } from "../../shared/cutText";
import { AppError } from "../../shared/errors";
import type { GenerationResult } from "./jobs";
import type { SchemaFields } from "./requestMapping";
import type { StreamChunker } from "./responses";

const textOf = (content: string | { text: string }[] | undefined): string =>
  typeof content === "string" ? content : (content ?? []).map((block) => block.text).join("");

/**
 * One Anthropic message as OpenAI chat messages: an assistant's `tool_use` blocks become its
 * tool_calls; a user's `tool_result` blocks become tool messages, ahead of the user's own text.
 */
function chatMessagesOf(message: AnthropicMessageParam): ChatMessage[] {
  if (typeof message.content === "string") return [{ role: message.role, content: message.content }];
  const text = message.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("");
  if (message.role === "assistant") {
    const calls = message.content.flatMap((block) =>
      block.type === "tool_use"
        ? [
            {
              id: block.id,
              type: "function" as const,
              function: { name: block.name, arguments: JSON.stringify(block.input) },
            },
          ]
        : [],
    );
    if (message.content.some((block) => block.type === "tool_result"))
      throw new AppError("request.invalid", "messages: tool_result blocks belong in a user message.", {
        param: "messages",
      });
    return [{ role: "assistant", content: text, ...(calls.length > 0 ? { tool_calls: calls } : {}) }];
  }
  if (message.content.some((block) => block.type === "tool_use"))
    throw new AppError("request.invalid", "messages: tool_use blocks belong in an assistant message.", {
      param: "messages",
    });
  const results: ChatMessage[] = message.content.flatMap((block) =>
    block.type === "tool_result"
      ? [
          {
            role: "tool" as const,
            tool_call_id: block.tool_use_id,
            content: `${block.is_error ? "Error: " : ""}${textOf(block.content)}`,
          },
        ]
      : [],
  );
  return text !== "" || results.length === 0 ? [...results, { role: "user", content: text }] : results;
}

/**
 * Refuses a message thread (`thread`, a conversation the server keeps between turns, which Anthropic's
 * SDKs start on their own, as its tool runner does): llmlb keeps none, and a later turn would arrive
 * without the conversation it continues. Refused in the shape those SDKs recognize, after which they
 * send every turn whole.
 */
export function refuseThread(body: unknown): void {
  const thread = (body as { thread?: unknown } | null)?.thread;
  if (thread === undefined || thread === null) return;
  throw new AppError(
    "request.invalid",
    "thread: message threads are not supported here: send the whole conversation in messages (Anthropic's SDKs do so by themselves after this answer).",
    {
      param: "thread",
      details: { error_code: "thread_unsupported_request", unsupported: ["thread"] },
    },
  );
}

/** Each `tool_result` answers a `tool_use` of the conversation, named where it does not. */
function checkToolResults(messages: AnthropicMessagesRequest["messages"]): void {
  const uses = new Set<string>();
  for (const message of messages)
    if (message.role === "assistant" && typeof message.content !== "string")
      for (const block of message.content) if (block.type === "tool_use") uses.add(block.id);
  messages.forEach((message, index) => {
    if (typeof message.content === "string") return;
    message.content.forEach((block, at) => {
      if (block.type !== "tool_result" || uses.has(block.tool_use_id)) return;
      const param = `messages[${index}].content[${at}].tool_use_id`;
      throw new AppError(
        "request.invalid",
        `${param}: no tool_use block has the id "${cutText(block.tool_use_id, 200)}" (each tool_result answers a tool_use of an assistant message before it).`,
        { param },
      );
    });
  });
}

/** Anthropic's request as the OpenAI chat request the node already runs. */
export function chatRequestOfMessages(
  request: AnthropicMessagesRequest | AnthropicCountTokensRequest,
): ChatCompletionRequest {
  checkToolResults(request.messages);
  const system =
    request.system === undefined ? [] : [{ role: "system" as const, content: textOf(request.system) }];
  const choice = request.tool_choice;
  if (choice?.type === "tool" && !choice.name)
    throw new AppError("request.invalid", 'tool_choice: a "tool" choice names the tool.', {
      param: "tool_choice",
    });
  return {
    model: request.model,
    messages: [...system, ...request.messages.flatMap(chatMessagesOf)],
    ...(request.ttl != null ? { ttl: request.ttl } : {}),
    ...chatFunctionTools(request.tools?.map((tool) => ({ ...tool, parameters: tool.input_schema }))),
    ...(choice
      ? {
          tool_choice:
            choice.type === "tool"
              ? { type: "function" as const, function: { name: choice.name! } }
              : choice.type === "any"
                ? ("required" as const)
                : choice.type,
        }
      : {}),
    ...("max_tokens" in request
      ? {
          max_tokens: request.max_tokens,
          ...responseFormatOf(request),
          ...(request.stop_sequences ? { stop: request.stop_sequences } : {}),
          ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          ...(request.top_p !== undefined ? { top_p: request.top_p } : {}),
          ...(request.top_k !== undefined ? { top_k: request.top_k } : {}),
        }
      : {}),
  };
}

/** Where an Anthropic request's schemas are, for the errors that name them. */
export function anthropicSchemaFields(
  request: AnthropicMessagesRequest | AnthropicCountTokensRequest,
): SchemaFields {
  const beta = "output_format" in request && request.output_format && !request.output_config?.format;
  return {
    format: beta ? "output_format.schema" : "output_config.format.schema",
    toolParameters: (index) => `tools[${index}].input_schema`,
  };
}

/** `output_config.format` (or the beta's `output_format`) as chat's `response_format`. */
function responseFormatOf(request: AnthropicMessagesRequest): Pick<ChatCompletionRequest, "response_format"> {
  const format = request.output_config?.format ?? request.output_format;
  if (!format) return {};
  return { response_format: { type: "json_schema", json_schema: { name: "output", schema: format.schema } } };
}

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

function stopReasonOf(result: GenerationResult): AnthropicStopReason {
  if (result.finishReason === "tool_calls") return "tool_use";
  if (result.finishReason === "length") return "max_tokens";
  return result.stopSequence !== undefined ? "stop_sequence" : "end_turn";
}

/**
 * Its calls as `tool_use` blocks, with each one's input as JSON text too (what a stream sends). One
 * that `max_tokens` cut is there as well, last, as Anthropic keeps it (clients look for it there to
 * ask again with more room): its unfinished JSON streamed as it is, and an empty input otherwise.
 */
function toolUseBlocks(result: GenerationResult) {
  return result.toolCalls.map((call) => ({
    block: {
      type: "tool_use" as const,
      id: newId("toolu"),
      name: call.name,
      input: (call.cut ? {} : JSON.parse(call.arguments || "{}")) as Record<string, unknown>,
    },
    json: call.cut ? call.arguments : call.arguments || "{}",
  }));
}

/** The answer in Anthropic's shape. */
export function anthropicMessageBody(model: string, result: GenerationResult): AnthropicMessage {
  return {
    id: newId("msg"),
    type: "message",
    role: "assistant",
    model,
    content: [
      ...(result.text !== "" ? [{ type: "text" as const, text: result.text }] : []),
      ...toolUseBlocks(result).map(({ block }) => block),
    ],
    stop_reason: stopReasonOf(result),
    stop_sequence: result.stopSequence ?? null,
    usage: usageOf(result.promptTokens, result.completionTokens),
    container: null,
  };
}

/** Anthropic's usage, with the fields its SDKs' types declare. */
const usageOf = (input: number, output: number) => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  server_tool_use: null,
  service_tier: "standard" as const,
});

type AnthropicEvent = { type: string } & Record<string, unknown>;

/**
 * Anthropic's stream: `message_start`, then a text block (`content_block_start`, its
 * `content_block_delta`s, `content_block_stop`), then each tool_use block with its input as one
 * `input_json_delta`, then `message_delta` (stop reason, output tokens) and `message_stop`.
 */
export function anthropicChunker(model: string): StreamChunker<AnthropicEvent> {
  let blocks = 0;
  let textOpen = false;
  const openText = (): AnthropicEvent[] => {
    if (textOpen) return [];
    textOpen = true;
    return [{ type: "content_block_start", index: blocks, content_block: { type: "text", text: "" } }];
  };
  return {
    start: ({ promptTokens }) => [
      {
        type: "message_start",
        message: {
          id: newId("msg"),
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: usageOf(promptTokens, 0),
          container: null,
        },
      },
    ],
    text: (piece) =>
      piece === ""
        ? []
        : [
            ...openText(),
            { type: "content_block_delta", index: blocks, delta: { type: "text_delta", text: piece } },
          ],
    finish(result) {
      const events: AnthropicEvent[] = [];
      if (textOpen) {
        events.push({ type: "content_block_stop", index: blocks });
        blocks++;
      }
      for (const { block, json } of toolUseBlocks(result)) {
        events.push(
          { type: "content_block_start", index: blocks, content_block: { ...block, input: {} } },
          {
            type: "content_block_delta",
            index: blocks,
            delta: { type: "input_json_delta", partial_json: json },
          },
          { type: "content_block_stop", index: blocks },
        );
        blocks++;
      }
      events.push(
        {
          type: "message_delta",
          delta: { stop_reason: stopReasonOf(result), stop_sequence: result.stopSequence ?? null },
          usage: { output_tokens: result.completionTokens },
        },
        { type: "message_stop" },
      );
      return events;
    },
  };
}

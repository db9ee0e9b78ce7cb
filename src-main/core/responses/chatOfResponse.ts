import { randomBytes } from "node:crypto";
import {
  chatFunctionTools,
  logprobsInclude,
  type ChatCompletionRequest,
  type ChatMessage,
  type ResponseInputItem,
  type ResponseMessageInput,
  type ResponseOutputItem,
  type ResponsesRequest,
  type ToolChoice,
} from "../../contract";
import { cutText } from "../../shared/cutText";
import { AppError } from "../../shared/errors";
import type { StoredInputItem } from "../registry/responseRepository";

/** An id in OpenAI's form: `resp_…`, `msg_…`, `fc_…`, `call_…`. */
export const newItemId = (prefix: string) => `${prefix}_${randomBytes(16).toString("hex")}`;

/**
 * The request's input as items are kept and listed by `input_items`: each with an id, an assistant's
 * text as `output_text` parts.
 */
export function inputItemsOf(input: ResponsesRequest["input"]): StoredInputItem[] {
  return input.map((item): StoredInputItem => {
    if (item.type === "function_call") return { ...item, id: item.id ?? newItemId("fc") };
    if (item.type === "function_call_output") return { ...item, id: item.id ?? newItemId("fco") };
    return {
      ...item,
      id: item.id ?? newItemId("msg"),
      status: item.status ?? "completed",
      content:
        item.role === "assistant"
          ? item.content.map((part) =>
              part.type === "input_text" ? { type: "output_text", text: part.text, annotations: [] } : part,
            )
          : item.content,
    };
  });
}

/** A response's output as input items of the next response in its chain. */
export function outputAsInput(output: readonly ResponseOutputItem[]): StoredInputItem[] {
  return output.map((item) => ({ ...item }));
}

function textOf(content: ResponseMessageInput["content"]): string {
  return content.map((part) => (part.type === "refusal" ? part.refusal : part.text)).join("");
}

/**
 * Each function_call_output answers a function_call of the conversation, named where it does not (as
 * OpenAI refuses it). `ownFrom`: where the request's own input begins, after the chain it continues.
 */
export function checkCallOutputs(items: readonly ResponseInputItem[], ownFrom: number): void {
  const calls = new Set(items.flatMap((item) => (item.type === "function_call" ? [item.call_id] : [])));
  items.forEach((item, index) => {
    if (item.type !== "function_call_output" || calls.has(item.call_id)) return;
    const param = `input[${Math.max(0, index - ownFrom)}].call_id`;
    throw new AppError(
      "request.invalid",
      `${param}: no function_call has the call_id "${cutText(item.call_id, 200)}" (each function_call_output answers a function_call of the input, or of the response it continues).`,
      { param },
    );
  });
}

/**
 * The conversation as chat messages: a function call joins the assistant message before it (a new
 * one when there is none), its output becomes a tool message.
 */
function chatMessagesOf(items: readonly ResponseInputItem[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const item of items) {
    if (item.type === "function_call") {
      const call = {
        id: item.call_id,
        type: "function" as const,
        function: { name: item.name, arguments: item.arguments },
      };
      const last = messages.at(-1);
      if (last?.role === "assistant") last.tool_calls = [...(last.tool_calls ?? []), call];
      else messages.push({ role: "assistant", content: "", tool_calls: [call] });
    } else if (item.type === "function_call_output") {
      const output =
        typeof item.output === "string" ? item.output : item.output.map((part) => part.text).join("");
      messages.push({ role: "tool", tool_call_id: item.call_id, content: output });
    } else {
      messages.push({ role: item.role, content: textOf(item.content) });
    }
  }
  return messages;
}

function toolChoiceOf(choice: NonNullable<ResponsesRequest["tool_choice"]>): ToolChoice {
  return typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } };
}

/**
 * The Responses request as the chat completion a node runs: `instructions` as the system message,
 * then every input item (the chain's first, when it continues a previous response).
 */
export function chatRequestOf(
  request: ResponsesRequest,
  items: readonly ResponseInputItem[],
): ChatCompletionRequest {
  const format = request.text?.format;
  const system: ChatMessage[] = request.instructions
    ? [{ role: "system", content: request.instructions }]
    : [];
  return {
    model: request.model,
    messages: [...system, ...chatMessagesOf(items)],
    ...(request.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    ...(request.max_output_tokens != null ? { max_tokens: request.max_output_tokens } : {}),
    ...(request.temperature != null ? { temperature: request.temperature } : {}),
    ...(request.top_p != null ? { top_p: request.top_p } : {}),
    ...(request.ttl != null ? { ttl: request.ttl } : {}),
    ...(request.include?.includes(logprobsInclude)
      ? { logprobs: true, top_logprobs: request.top_logprobs ?? 0 }
      : {}),
    ...chatFunctionTools(request.tools ?? []),
    ...(request.tool_choice ? { tool_choice: toolChoiceOf(request.tool_choice) } : {}),
    ...(format && format.type !== "text"
      ? {
          response_format:
            format.type === "json_schema"
              ? {
                  type: "json_schema" as const,
                  json_schema: {
                    name: format.name,
                    schema: format.schema,
                    ...(format.description ? { description: format.description } : {}),
                    ...(format.strict != null ? { strict: format.strict } : {}),
                  },
                }
              : { type: "json_object" as const },
        }
      : {}),
    ...(request.user ? { user: request.user } : {}),
    // The Responses API's switch for a conversation that outgrows the context, as llmlb's chat one.
    ...(request.truncation
      ? { context_overflow: request.truncation === "auto" ? "truncate_oldest" : "error" }
      : {}),
  };
}

import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelResponse } from "node-llama-cpp";
import type { ChatMessage } from "../../contract";
import { AppError } from "../../shared/errors";

type Content = ChatMessage["content"];

/** Text parts are joined as sent: a client that split a string gets it back whole. */
export function contentText(content: Content): string {
  if (content == null) return "";
  return typeof content === "string" ? content : content.map((part) => part.text).join("");
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * OpenAI messages as node-llama-cpp's chat history, which the model's chat wrapper renders with its template.
 * Tool results become the `result` of the function call they answer (node-llama-cpp keeps a call and its
 * result together); the history ends with the model turn to generate, or with a trailing assistant message,
 * which the model continues (a prefill, as llama.cpp's server does).
 */
export function chatHistoryFrom(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const results = new Map<string, string>();
  const callIds = new Set<string>();
  for (const message of messages) {
    if (message.role === "assistant") for (const call of message.tool_calls ?? []) callIds.add(call.id);
  }
  messages.forEach((message, index) => {
    if (message.role !== "tool") return;
    if (!callIds.has(message.tool_call_id)) {
      throw new AppError(
        "request.invalid",
        `messages[${index}].tool_call_id: no assistant tool call has the id "${message.tool_call_id}".`,
        { param: `messages[${index}].tool_call_id` },
      );
    }
    results.set(message.tool_call_id, contentText(message.content));
  });

  const history: ChatHistoryItem[] = [];
  for (const message of messages) {
    switch (message.role) {
      case "system":
      case "developer":
        history.push({ type: "system", text: contentText(message.content) });
        break;
      case "user":
        history.push({ type: "user", text: contentText(message.content) });
        break;
      case "assistant": {
        const response: ChatModelResponse["response"] = [];
        const text = contentText(message.content);
        if (text) response.push(text);
        (message.tool_calls ?? []).forEach((call, callIndex) => {
          const functionCall: ChatModelFunctionCall = {
            type: "functionCall",
            name: call.function.name,
            params: parseArguments(call.function.arguments),
            result: results.get(call.id) ?? "",
            startsNewChunk: callIndex === 0,
          };
          response.push(functionCall);
        });
        history.push({ type: "model", response });
        break;
      }
      case "tool":
        // Rendered with the call it answers.
        break;
    }
  }
  const last = history.at(-1);
  const continuesAssistant =
    last?.type === "model" && last.response.every((item) => typeof item === "string");
  if (!continuesAssistant) history.push({ type: "model", response: [] });
  return history;
}

import type { ChatHistoryItem, ChatModelFunctions } from "node-llama-cpp";
import type { GeneratedToolCall } from "./jobs";

/**
 * A tool call the request requires (`tool_choice` "required" or a named function; Anthropic's "any"
 * or "tool"). node-llama-cpp's function calling lets the model choose to answer in text, so here the
 * answer is generated under a JSON schema grammar instead: a single tool's arguments, or
 * `{"name", "arguments"}` for one of several, each name with its own arguments' schema.
 */
export interface ForcedToolCall {
  /** The schema the answer must fit. */
  schema: Record<string, unknown>;
  /** The system note that tells the model what to call and how. */
  note: string;
  /** The call the answer makes; undefined when it is not complete JSON (max_tokens cut it). */
  callOf(text: string): GeneratedToolCall | undefined;
  /**
   * The call as far as an answer `max_tokens` cut got, as OpenAI gives it: its name and its arguments'
   * unfinished JSON. Undefined before its name is whole.
   */
  cutCallOf(text: string): GeneratedToolCall | undefined;
}

/** `{"name": "<name>", "arguments": <the rest>`: the grammar writes the properties in the schema's order. */
const cutCallPattern =
  /^\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")(?:\s*,\s*"arguments"\s*:\s*([\s\S]*)|[\s\S]*)$/;

const argumentsSchema = (fn: ChatModelFunctions[string]): Record<string, unknown> =>
  (fn.params as Record<string, unknown> | undefined) ?? { type: "object", properties: {} };

export function forcedToolCall(functions: ChatModelFunctions): ForcedToolCall {
  const names = Object.keys(functions);
  const docs = names
    .map((name) => {
      const fn = functions[name]!;
      return `- ${name}${fn.description ? `: ${fn.description}` : ""}. Arguments: ${JSON.stringify(argumentsSchema(fn))}`;
    })
    .join("\n");
  const parse = (text: string): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  if (names.length === 1) {
    const [name] = names as [string];
    return {
      schema: argumentsSchema(functions[name]!),
      note: `Call the tool ${name}: answer with its arguments as JSON, and nothing else.\n${docs}`,
      callOf: (text) => (parse(text) === undefined ? undefined : { name, arguments: text.trim() }),
      cutCallOf: (text) => ({ name, arguments: text.trim(), cut: true }),
    };
  }
  return {
    schema: {
      oneOf: names.map((name) => ({
        type: "object",
        properties: { name: { const: name }, arguments: argumentsSchema(functions[name]!) },
        required: ["name", "arguments"],
      })),
    },
    note: `Call one of these tools: answer with {"name": <the tool>, "arguments": <its arguments>} as JSON, and nothing else.\n${docs}`,
    callOf(text) {
      const call = parse(text) as { name?: unknown; arguments?: unknown } | undefined;
      if (!call || typeof call.name !== "string") return undefined;
      return { name: call.name, arguments: JSON.stringify(call.arguments ?? {}) };
    },
    cutCallOf(text) {
      const [, quoted, rest] = cutCallPattern.exec(text) ?? [];
      const name = quoted === undefined ? undefined : (parse(quoted) as string);
      if (name === undefined || !names.includes(name)) return undefined;
      return { name, arguments: (rest ?? "").trim(), cut: true };
    },
  };
}

/** The history with the note after its system messages, where a system prompt goes. */
export function withNote(history: ChatHistoryItem[], note: string): ChatHistoryItem[] {
  const systems = history.findIndex((item) => item.type !== "system");
  const at = systems < 0 ? history.length : systems;
  return [...history.slice(0, at), { type: "system", text: note }, ...history.slice(at)];
}

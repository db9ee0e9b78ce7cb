import type {
  ChatCompletion,
  ChatCompletionChunk,
  FinishReason,
  ResponseFunctionCall,
  ResponseObject,
  ResponseOutputItem,
  ResponseOutputMessage,
  ResponsesRequest,
  ResponseStreamEvent,
  TokenLogprobWithTop,
  Usage,
} from "../../contract";
import { newItemId } from "./chatOfResponse";

/** A response as it starts: what the request asked for, no output yet. */
export function responseBase(request: ResponsesRequest, createdAt: number): ResponseObject {
  return {
    id: newItemId("resp"),
    object: "response",
    created_at: createdAt,
    status: "in_progress",
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    model: request.model,
    output: [],
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    store: request.store ?? true,
    temperature: request.temperature ?? null,
    top_p: request.top_p ?? null,
    top_logprobs: request.top_logprobs ?? null,
    text: { format: request.text?.format ?? { type: "text" } },
    tool_choice: request.tool_choice ?? "auto",
    tools: request.tools ?? [],
    truncation: request.truncation ?? "disabled",
    usage: null,
    user: request.user ?? null,
    metadata: request.metadata ?? {},
  };
}

function usageOf(usage: Usage | null | undefined): ResponseObject["usage"] {
  if (!usage) return null;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.total_tokens,
  };
}

/** The response as it ended: complete, or cut short by max_output_tokens. */
function finished(
  base: ResponseObject,
  model: string,
  output: ResponseOutputItem[],
  finishReason: FinishReason | null,
  usage: Usage | null | undefined,
): ResponseObject {
  const incomplete = finishReason === "length";
  return {
    ...base,
    model,
    status: incomplete ? "incomplete" : "completed",
    incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
    output,
    usage: usageOf(usage),
  };
}

/** `logprobs`: the text's tokens', where the request included them and the node gave them. */
function messageItem(
  text: string,
  status: ResponseOutputMessage["status"],
  logprobs?: TokenLogprobWithTop[],
): ResponseOutputMessage {
  return {
    type: "message",
    id: newItemId("msg"),
    status,
    role: "assistant",
    content: [{ type: "output_text", text, annotations: [], ...(logprobs ? { logprobs } : {}) }],
  };
}

/** A node's chat completion as the response. */
export function responseOfChat(base: ResponseObject, chat: ChatCompletion): ResponseObject {
  const choice = chat.choices[0];
  const output: ResponseOutputItem[] = [];
  const calls = choice?.message.tool_calls ?? [];
  // An empty answer is still the assistant's turn: an empty message, which a conversation keeps.
  if (choice?.message.content || calls.length === 0)
    output.push(
      messageItem(choice?.message.content ?? "", "completed", choice?.logprobs?.content ?? undefined),
    );
  for (const call of calls) {
    output.push({
      type: "function_call",
      id: newItemId("fc"),
      call_id: call.id,
      name: call.function.name,
      arguments: call.function.arguments,
      status: "completed",
    });
  }
  // Cut short by max_output_tokens: the last item is, as a stream would have said.
  const last = output.at(-1);
  if (last && choice?.finish_reason === "length")
    output[output.length - 1] = { ...last, status: "incomplete" };
  return finished(base, chat.model, output, choice?.finish_reason ?? null, chat.usage);
}

type Event = { type: string } & Record<string, unknown>;
type OpenMessage = {
  kind: "message";
  item: ResponseOutputMessage;
  text: string;
  logprobs?: TokenLogprobWithTop[];
};

/**
 * A node's streamed chat completion as the Responses API streams: `response.created`,
 * `response.in_progress`, then each output item in turn (added, its deltas, done: one item is done
 * before the next is added, as OpenAI streams them), then `response.completed` (`response.incomplete`
 * at max_output_tokens, when the item still open is incomplete too).
 */
export class ResponseEvents {
  private sequence = 0;
  private readonly output: ResponseOutputItem[] = [];
  /**
   * The item being written: the message, its text so far (and its tokens' log probabilities, when
   * they come), or a call (by its chat stream index).
   */
  private open: OpenMessage | { kind: "call"; item: ResponseFunctionCall; chatIndex: number } | undefined;
  /** Calls done, by their index in the chat stream: a late piece still joins its arguments. */
  private readonly calls = new Map<number, ResponseFunctionCall>();
  private finishReason: FinishReason | null = null;
  private usage: Usage | null | undefined;
  private model: string;

  constructor(private readonly base: ResponseObject) {
    this.model = base.model;
  }

  private stamp(events: Event[]): ResponseStreamEvent[] {
    return events.map((event) => ({ ...event, sequence_number: this.sequence++ }));
  }

  start(): ResponseStreamEvent[] {
    return this.stamp([
      { type: "response.created", response: this.base },
      { type: "response.in_progress", response: this.base },
    ]);
  }

  /** One chunk of the chat stream. */
  chunk(chunk: ChatCompletionChunk): ResponseStreamEvent[] {
    const events: Event[] = [];
    this.model = chunk.model || this.model;
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (!choice) return [];
    const logprobs = choice.logprobs?.content ?? [];
    if (choice.delta?.content) events.push(...this.text(choice.delta.content, logprobs));
    // The message's, whether they came with a piece of its text or after it (llmlb's nodes send all
    // of them with the last piece; other servers, each with its own).
    if (logprobs.length > 0 && this.open?.kind === "message") (this.open.logprobs ??= []).push(...logprobs);
    for (const call of choice.delta?.tool_calls ?? []) events.push(...this.callDelta(call));
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
    return this.stamp(events);
  }

  /** Adds an item, once the one before it is done. */
  private add(item: ResponseOutputItem): Event[] {
    const events = this.closeOpen("completed");
    this.output.push(item);
    events.push({
      type: "response.output_item.added",
      output_index: this.output.length - 1,
      item: { ...item },
    });
    return events;
  }

  /** `logprobs`: the chunk's tokens', which the delta event carries. */
  private text(delta: string, logprobs: TokenLogprobWithTop[]): Event[] {
    const events = this.open?.kind === "message" ? [] : this.openMessage();
    const open = this.open as OpenMessage;
    open.text += delta;
    events.push({
      type: "response.output_text.delta",
      item_id: open.item.id,
      output_index: this.output.indexOf(open.item),
      content_index: 0,
      delta,
      logprobs,
    });
    return events;
  }

  /** Adds a message, with its text part, empty so far. */
  private openMessage(): Event[] {
    const item: ResponseOutputMessage = { ...messageItem("", "in_progress"), content: [] };
    const events = this.add(item);
    this.open = { kind: "message", item, text: "" };
    events.push({
      type: "response.content_part.added",
      item_id: item.id,
      output_index: this.output.length - 1,
      content_index: 0,
      part: { type: "output_text", text: "", annotations: [] },
    });
    return events;
  }

  /** A piece of a tool call: the first names it; later ones (other servers) add to its arguments. */
  private callDelta(
    delta: NonNullable<ChatCompletionChunk["choices"][number]["delta"]["tool_calls"]>[number],
  ): Event[] {
    const events: Event[] = [];
    const piece = delta.function?.arguments ?? "";
    const closed = this.calls.get(delta.index);
    if (closed) {
      // A piece of a call already done (servers do not interleave calls): kept in the response.
      closed.arguments += piece;
      return [];
    }
    if (this.open?.kind !== "call" || this.open.chatIndex !== delta.index) {
      const item: ResponseFunctionCall = {
        type: "function_call",
        id: newItemId("fc"),
        call_id: delta.id || newItemId("call"),
        name: delta.function?.name ?? "",
        arguments: "",
        status: "in_progress",
      };
      events.push(...this.add(item));
      this.open = { kind: "call", item, chatIndex: delta.index };
    }
    const call = this.open.item as ResponseFunctionCall;
    if (piece) {
      call.arguments += piece;
      events.push({
        type: "response.function_call_arguments.delta",
        item_id: call.id,
        output_index: this.output.indexOf(call),
        delta: piece,
      });
    }
    return events;
  }

  /** The open item's done events, with the status it ended in. */
  private closeOpen(status: "completed" | "incomplete"): Event[] {
    const open = this.open;
    if (!open) return [];
    this.open = undefined;
    const index = this.output.indexOf(open.item);
    if (open.kind === "message") {
      const part = {
        type: "output_text" as const,
        text: open.text,
        annotations: [],
        ...(open.logprobs ? { logprobs: open.logprobs } : {}),
      };
      const done: ResponseOutputMessage = { ...open.item, status, content: [part] };
      this.output[index] = done;
      return [
        {
          type: "response.output_text.done",
          item_id: done.id,
          output_index: index,
          content_index: 0,
          text: open.text,
          logprobs: open.logprobs ?? [],
        },
        { type: "response.content_part.done", item_id: done.id, output_index: index, content_index: 0, part },
        { type: "response.output_item.done", output_index: index, item: done },
      ];
    }
    const done: ResponseFunctionCall = { ...open.item, status };
    this.output[index] = done;
    this.calls.set(open.chatIndex, done);
    return [
      {
        type: "response.function_call_arguments.done",
        item_id: done.id,
        output_index: index,
        name: done.name,
        arguments: done.arguments,
      },
      { type: "response.output_item.done", output_index: index, item: done },
    ];
  }

  /** The chat stream ended: the last item done, then the response. */
  finish(): { events: ResponseStreamEvent[]; response: ResponseObject } {
    const incomplete = this.finishReason === "length";
    // Nothing came: the assistant's turn is an empty message, as a whole response has.
    const events = this.output.length === 0 ? this.openMessage() : [];
    events.push(...this.closeOpen(incomplete ? "incomplete" : "completed"));
    const response = finished(this.base, this.model, this.output, this.finishReason, this.usage);
    events.push({ type: incomplete ? "response.incomplete" : "response.completed", response });
    return { events: this.stamp(events), response };
  }

  /** The node failed mid-answer, or sent an error: the client learns it, and the response failed. */
  fail(code: string, message: string): ResponseStreamEvent[] {
    const response: ResponseObject = {
      ...this.base,
      model: this.model,
      status: "failed",
      error: { code, message },
      output: this.output,
      usage: usageOf(this.usage),
    };
    return this.stamp([
      { type: "error", code, message, param: null },
      { type: "response.failed", response },
    ]);
  }
}

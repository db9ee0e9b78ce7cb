import type { IncomingHttpHeaders } from "node:http";
import { createParser, type EventSourceParser } from "eventsource-parser";
import {
  truncatedMessagesHeader,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ResponseObject,
  type ResponseStreamEvent,
} from "../../contract";
import { AppError, toHttpError } from "../../shared/errors";
import type { AnswerSink } from "../balancer/answerSink";
import { ResponseEvents, responseOfChat } from "./responseOfChat";
import { namedSseEvent } from "../../shared/sse";

/** The node's headers worth passing on (llmlb's own, as `x-llmlb-truncated-messages`), not its framing. */
function passedHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const passed: IncomingHttpHeaders = {};
  for (const name in headers) {
    if (
      name !== "content-type" &&
      name !== "content-length" &&
      name !== "transfer-encoding" &&
      name !== "connection"
    )
      passed[name] = headers[name];
  }
  return passed;
}

/**
 * A balancer sink that turns a node's chat completion into a response: a stream into the Responses
 * API's events as the chunks come, a JSON answer into the response object. Errors the node answered
 * (4xx, OpenAI's shape, which is the Responses API's too) pass on as they are. `onResponse` gets the
 * response once it ended (completed, or incomplete at max_output_tokens).
 */
export function responsesSink(
  client: AnswerSink,
  base: ResponseObject,
  onResponse: (response: ResponseObject) => void,
): AnswerSink {
  let mode: "pass" | "stream" | "json" = "pass";
  let node: IncomingHttpHeaders = {};
  const body: Buffer[] = [];
  const events = new ResponseEvents(base);
  const decoder = new TextDecoder();
  let parser: EventSourceParser | undefined;
  let failed = false;
  /** Whether the client took everything written during the current chunk without asking to wait. */
  let flowing = true;

  const send = (list: ResponseStreamEvent[]) => {
    if (list.length > 0) flowing = client.write(Buffer.from(list.map(namedSseEvent).join(""))) && flowing;
  };
  const fail = (code: string, message: string) => {
    if (failed) return;
    failed = true;
    send(events.fail(code, message));
  };

  function onChatEvent(data: string): void {
    if (failed || data === "[DONE]") return;
    let parsed:
      (ChatCompletionChunk & { error?: undefined }) | { error: { message?: string; code?: string | null } };
    try {
      parsed = JSON.parse(data) as typeof parsed;
    } catch {
      return fail("node.invalid_response", "The node sent an event that is not JSON.");
    }
    if (parsed.error)
      return fail(parsed.error.code ?? "server_error", parsed.error.message ?? "The node failed.");
    let translated: ResponseStreamEvent[];
    try {
      translated = events.chunk(parsed as ChatCompletionChunk);
    } catch {
      return fail("node.invalid_response", "The node sent a chunk that is not a chat completion chunk.");
    }
    send(translated);
  }

  /** A JSON answer the client gets whole (its head deferred until then, so it can still be an error). */
  function answerJson(status: number, headers: IncomingHttpHeaders, json: unknown): void {
    const bytes = Buffer.from(JSON.stringify(json));
    client.head(status, {
      ...headers,
      "content-type": "application/json; charset=utf-8",
      "content-length": String(bytes.length),
    });
    client.write(bytes);
    client.end();
  }

  return {
    get gone() {
      return client.gone;
    },
    onGone: (listener) => client.onGone(listener),
    head(status, headers) {
      if (status !== 200) {
        mode = "pass";
        return client.head(status, headers);
      }
      node = passedHeaders(headers);
      // The oldest input was left out to fit (the model's setting did it): the response says so, as
      // `truncation: "auto"` does.
      if (Number(headers[truncatedMessagesHeader] ?? 0) > 0) base.truncation = "auto";
      if (!String(headers["content-type"] ?? "").startsWith("text/event-stream")) {
        mode = "json";
        return;
      }
      mode = "stream";
      parser = createParser({ onEvent: (event) => onChatEvent(event.data) });
      client.head(200, {
        ...node,
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      });
      send(events.start());
    },
    write(chunk) {
      if (mode === "pass") return client.write(chunk);
      if (mode === "json") {
        body.push(chunk);
        return true;
      }
      flowing = true;
      parser!.feed(decoder.decode(chunk, { stream: true }));
      return flowing;
    },
    onDrain: (listener) => client.onDrain(listener),
    taken: () => client.taken(),
    abandon: () => client.abandon(),
    end() {
      if (mode === "pass") return client.end();
      if (mode === "json") {
        let response: ResponseObject;
        try {
          response = responseOfChat(base, JSON.parse(Buffer.concat(body).toString("utf8")) as ChatCompletion);
        } catch {
          const error = new AppError("node.crashed", "The node's answer was not a chat completion.");
          return answerJson(502, {}, toHttpError(error).body);
        }
        answerJson(200, node, response);
        return onResponse(response);
      }
      parser!.feed(decoder.decode());
      if (!failed) {
        const { events: last, response } = events.finish();
        send(last);
        onResponse(response);
      }
      client.end();
    },
    cut(error, streaming) {
      if (mode === "pass") return client.cut(error, streaming);
      if (mode === "json") return answerJson(502, {}, toHttpError(error).body);
      fail(error.code, error.message);
      client.end();
    },
  };
}

import type { RequestRecord } from "../../contract";
import { cutText } from "../../shared/cutText";
import { anthropicErrorOf, isAnthropicPath, openAiType, type HttpError } from "../../shared/errors";

/** Bytes of a refused answer read for its error: errors are short, a page of HTML is not one. */
export const errorBytesRead = 16 * 1024;

type RecordedError = NonNullable<RequestRecord["error"]>;

/** An error as the access log keeps it: its code, and its message cut to the record's bound. */
export function recordedError(code: string | null | undefined, message: string): RecordedError {
  return {
    code: code ? code.slice(0, 100) : null,
    message: cutText(message, 500),
  };
}

/**
 * The error a node's refusal says, in OpenAI's shape (`{"error": {"message", "code"}}`), Anthropic's
 * (`{"type": "error", "error": {"type", "message"}}`) or vLLM's older one (`{"object": "error",
 * "message", "code"}`); undefined when it is none of these (cut short, or not JSON).
 */
export function errorOfAnswer(body: Buffer): RecordedError | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
  const answer = (parsed ?? {}) as { error?: unknown; object?: unknown };
  if (typeof answer.error === "string") return recordedError(null, answer.error);
  const error = answer.object === "error" ? answer : answer.error;
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  if (typeof message !== "string") return undefined;
  return recordedError(typeof code === "string" ? code : null, message);
}

/**
 * Whether a 404's body says the route is missing (`Route POST:/v1/messages not found`), as Fastify
 * words it in llmlb's own answers and in its default ones, an older worker's: not a model gone.
 */
export function isMissingRoute(body: Buffer): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return false;
  }
  const answer = (parsed ?? {}) as { message?: unknown; error?: { message?: unknown } };
  const message = typeof answer.message === "string" ? answer.message : answer.error?.message;
  return typeof message === "string" && /^Route [A-Z]+:\S* not found/.test(message);
}

/**
 * What is kept of an endpoint's refusal: its code, not its message. Another server's message may
 * quote the request (pydantic's `input_value=…`), and the access log keeps no prompt text.
 */
export function endpointErrorOfAnswer(body: Buffer, endpoint: string, status: number): RecordedError {
  return recordedError(
    errorOfAnswer(body)?.code,
    `${endpoint} answered ${status}; its message went to the client, and is not kept here as it may quote the request.`,
  );
}

/**
 * How an endpoint's refusal that is no API's error (a proxy's HTML page, plain text) reaches its
 * client: in the shape of the API called at `path`, naming the endpoint, with what the refusal said.
 */
export function endpointRefusal(endpoint: string, path: string) {
  return (status: number, said: string, contentType: string): unknown => {
    const what = `${contentType || "no content type"}, not an API error`;
    const message = `The endpoint ${endpoint} answered ${status} (${what})${said ? `: ${said}` : "."}`;
    const http: HttpError = {
      status,
      headers: {},
      body: { error: { message, type: openAiType(status), code: null, param: null } },
    };
    return isAnthropicPath(path) ? anthropicErrorOf(http) : http.body;
  };
}

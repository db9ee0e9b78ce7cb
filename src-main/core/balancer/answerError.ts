import type { RequestRecord } from "../../contract";

/** Bytes of a refused answer read for its error: errors are short, a page of HTML is not one. */
export const errorBytesRead = 16 * 1024;

type RecordedError = NonNullable<RequestRecord["error"]>;

/** An error as the access log keeps it: its code, and its message cut to the record's bound. */
export function recordedError(code: string | null | undefined, message: string): RecordedError {
  return {
    code: code ? code.slice(0, 100) : null,
    message: message.length > 500 ? `${message.slice(0, 499)}…` : message,
  };
}

/**
 * The error a node's refusal says, in OpenAI's shape (`{"error": {"message", "code"}}`) or
 * Anthropic's (`{"type": "error", "error": {"type", "message"}}`); undefined when it is neither (cut
 * short, or not JSON).
 */
export function errorOfAnswer(body: Buffer): RecordedError | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  if (typeof error === "string") return recordedError(null, error);
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  if (typeof message !== "string") return undefined;
  return recordedError(typeof code === "string" ? code : null, message);
}

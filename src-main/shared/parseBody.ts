import type { z } from "zod";
import { AppError } from "./errors";

/** A zod path as OpenAI names parameters: `messages[0].content`. */
export function paramPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => (typeof key === "number" ? `[${key}]` : `${index > 0 ? "." : ""}${String(key)}`))
    .join("");
}

/** The body as `schema` reads it, or a 400 naming the first field at fault. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue ? paramPath(issue.path) : "";
  const message = !issue
    ? "The request is not valid."
    : param
      ? `${param}: ${issue.message}`
      : `The body must be a JSON object (${issue.message}).`;
  throw new AppError("request.invalid", message, { cause: parsed.error, ...(param ? { param } : {}) });
}

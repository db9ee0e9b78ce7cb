import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ZodError } from "zod";
import { cutText } from "./cutText";
import {
  anthropicErrorOf,
  AppError,
  isAnthropicPath,
  isDiskFull,
  toHttpError,
  type ErrorCode,
  type HttpError,
} from "./errors";

function describeZodError(error: ZodError): { message: string; param?: string } {
  const issue = error.issues[0];
  if (!issue) return { message: "The request is not valid." };
  const param = issue.path.join(".") || undefined;
  if (issue.code === "invalid_union") {
    return {
      message:
        'The body must be {"url": "..."} or {"repo": "org/name", "filename"?: "...", "revision"?: "..."}.',
    };
  }
  if (issue.code === "unrecognized_keys") {
    return { message: `Unknown field(s): ${issue.keys.join(", ")}.`, param: issue.keys[0] };
  }
  return { message: param ? `${param}: ${issue.message}` : issue.message, param };
}

/** A body limit as it was configured: whole MiB or KiB where it is one. */
function limitText(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** What the failing request's route allows, for messages that can say it. */
export interface ErrorContext {
  bodyLimit?: number;
}

/** Fastify's own 4xx errors (bad JSON, too large, wrong media type) in our codes. */
function fromFastify(error: FastifyError, context: ErrorContext): AppError | undefined {
  const status = error.statusCode ?? 500;
  if (status >= 500) return undefined;
  const codes: Record<number, ErrorCode> = {
    413: "request.too_large",
    415: "request.unsupported_media_type",
    404: "request.not_found",
  };
  const messages: Record<string, string> = {
    FST_ERR_CTP_INVALID_MEDIA_TYPE: "Send the body as application/json.",
    FST_ERR_CTP_BODY_TOO_LARGE:
      context.bodyLimit !== undefined
        ? `The request body is too large: this route takes at most ${limitText(context.bodyLimit)}.`
        : "The request body is too large.",
    FST_ERR_CTP_EMPTY_JSON_BODY: "The JSON body is empty.",
    FST_ERR_CTP_INVALID_JSON_BODY: "The body is not valid JSON.",
  };
  const message =
    messages[error.code] ??
    (error.code === "FST_ERR_CTP_INVALID_CONTENT_LENGTH"
      ? "Content-Length does not match the body."
      : undefined);
  const isJsonSyntax = error instanceof SyntaxError || /JSON/i.test(error.message);
  return new AppError(
    codes[status] ?? "request.invalid",
    message ?? (isJsonSyntax ? "The body is not valid JSON." : "The request is not valid."),
    {
      cause: error,
    },
  );
}

/**
 * JSON nested thousands of levels deep (a tool call's arguments, a tool's input, a schema's `const`)
 * overflows the stack of whatever walks it: the request's doing, said as a 400, not the model's failure.
 */
export function nestedTooDeep(error: unknown): AppError | undefined {
  if (!(error instanceof RangeError) || !/call stack size/i.test(error.message)) return undefined;
  return new AppError(
    "request.invalid",
    "The request nests JSON too deeply to be read (objects or arrays within each other thousands of levels deep, in a tool call's arguments, a tool's input or a schema's values).",
    { cause: error },
  );
}

export function toAppError(error: unknown, context: ErrorContext = {}): AppError {
  if (error instanceof AppError) return error;
  const deep = nestedTooDeep(error);
  if (deep) return deep;
  if (isDiskFull(error)) {
    return new AppError(
      "storage.full",
      "The disk holding llmlb's data directory is full, so this could not be saved: free some space, then try again.",
      { cause: error },
    );
  }
  if (error instanceof ZodError) {
    const { message, param } = describeZodError(error);
    return new AppError("request.invalid", message, { cause: error, ...(param ? { param } : {}) });
  }
  const fastifyError = error as FastifyError;
  return (
    (typeof fastifyError?.statusCode === "number" && fromFastify(fastifyError, context)) ||
    new AppError("internal", "Internal error", { cause: error })
  );
}

/** The error each request was answered with here, for the access log of those no route answered. */
const errorsAnswered = new WeakMap<FastifyRequest, HttpError["body"]["error"]>();

/** The error `request` was answered with by `handleError`, if it was. */
export function errorAnswered(request: FastifyRequest): HttpError["body"]["error"] | undefined {
  return errorsAnswered.get(request);
}

export interface ErrorHandling {
  /**
   * Whether the request has an access-log line of its own (an inference request's), which says how it
   * was answered: a refusal then needs no second line. Default: none has.
   */
  accessLogged?: (request: FastifyRequest) => boolean;
}

/** Fastify's error handler: the error as its HTTP answer (Anthropic's shape on its routes), logged. */
export function errorHandler(options: ErrorHandling = {}) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const appError = toAppError(error, { bodyLimit: request.routeOptions?.bodyLimit });
    const http = toHttpError(appError);
    errorsAnswered.set(request, http.body.error);
    // Only what nobody foresaw is an error with its stack; a 503 while paused or a 502 from failed
    // nodes says what is going on, and the balancer has logged each node's failure already.
    if (appError.code === "internal" || appError.code === "inference.failed")
      request.log.error({ err: error }, "request failed");
    else if (!options.accessLogged?.(request))
      request.log[http.status >= 500 ? "warn" : "info"](
        { code: appError.code, status: http.status },
        // A client's model name of a megabyte is no megabyte line.
        cutText(appError.message, 500),
      );
    const body = isAnthropicPath(request.url) ? anthropicErrorOf(http, appError.details) : http.body;
    void reply.status(http.status).headers(http.headers).send(body);
  };
}

export const handleError = errorHandler();

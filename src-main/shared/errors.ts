import type { AnthropicErrorBody } from "../contract";
/**
 * The one error type of the core. `code` is namespaced (`registry.duplicate`, `hub.not_found`);
 * `toHttp` maps it once to a status and OpenAI's error type.
 */
export type ErrorCode =
  | "request.invalid"
  | "request.unsupported_media_type"
  | "request.too_large"
  | "request.not_found"
  | "auth.missing_token"
  | "auth.forbidden_host"
  | "auth.invalid_api_key"
  | "auth.invalid_token"
  | "auth.too_many_failures"
  | "balancer.loop"
  | "endpoint.is_self"
  | "input.invalid"
  | "registry.duplicate"
  | "registry.not_found"
  | "response.not_found"
  | "registry.external"
  | "node.not_found"
  | "node.name_taken"
  | "node.protocol_mismatch"
  | "node.online"
  | "node.is_endpoint"
  | "node.offline"
  | "endpoint.not_found"
  | "endpoint.duplicate"
  | "endpoint.unreachable"
  | "endpoint.unauthorized"
  | "endpoint.invalid_response"
  | "model.not_found"
  | "model.not_ready"
  | "model.unavailable"
  | "balancer.overloaded"
  | "serving.paused"
  | "serving.stopping"
  | "settings.read_only"
  | "config.invalid"
  | "balancer.no_node"
  | "balancer.rate_limited"
  | "node.crashed"
  | "inference.context_length_exceeded"
  | "inference.unavailable"
  | "inference.failed"
  | "hub.not_found"
  | "hub.file_not_found"
  | "hub.revision_not_found"
  | "hub.unauthorized"
  | "hub.rate_limited"
  | "hub.unreachable"
  | "hub.invalid_response"
  | "hub.no_usable_file"
  | "gpu_build.unavailable"
  | "gpu_build.running"
  | "gpu_build.not_running"
  | "gpu_build.missing_tools"
  | "storage.full"
  | "internal";

export interface AppErrorOptions {
  cause?: unknown;
  /**
   * Anthropic's `error.details` on its Messages routes: what its SDKs act on (an `error_code` such as
   * `thread_unsupported_request`, after which they go on without the refused feature). Default: none.
   */
  details?: Record<string, unknown>;
  /** The request field the error is about, when there is one. Default: none. */
  param?: string;
  /** Seconds a client should wait before retrying (sent as Retry-After). Default: none. */
  retryAfter?: number;
  /**
   * false: retrying the same request will not help (sent as `x-should-retry: false`, which the OpenAI
   * SDKs honour instead of retrying a 5xx). Default: clients decide.
   */
  retryable?: boolean;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly param?: string;
  readonly retryAfter?: number;
  readonly retryable?: boolean;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.param = options.param;
    this.retryAfter = options.retryAfter;
    this.retryable = options.retryable;
    this.details = options.details;
  }
}

const statusByCode: Record<ErrorCode, number> = {
  "request.invalid": 400,
  "request.unsupported_media_type": 415,
  "request.too_large": 413,
  "request.not_found": 404,
  "auth.missing_token": 401,
  "auth.forbidden_host": 403,
  "auth.invalid_api_key": 401,
  "auth.invalid_token": 401,
  "auth.too_many_failures": 429,
  "input.invalid": 400,
  "registry.duplicate": 409,
  "registry.not_found": 404,
  "response.not_found": 404,
  "node.not_found": 404,
  /** Another node is online under the name a node registers with. */
  "node.name_taken": 409,
  /** A node of an llmlb whose node protocol this control plane does not speak: one of the two is updated. */
  "node.protocol_mismatch": 409,
  /** A node removed while online would register again at its next heartbeat: stop it first. */
  "node.online": 409,
  /** An endpoint is a node in listings, but it is removed as an endpoint. */
  "node.is_endpoint": 409,
  /** What was asked of a node needs it online (a model's load or unload there). */
  "node.offline": 409,
  "endpoint.not_found": 404,
  "endpoint.duplicate": 409,
  // The server given cannot be added as it is (down, refused the key, not OpenAI-compatible): the
  // request was understood, its target is the problem. Never 401, which clients read as "our token".
  "endpoint.unreachable": 422,
  "endpoint.unauthorized": 422,
  "endpoint.invalid_response": 422,
  "endpoint.is_self": 422,
  // Loop Detected (RFC 5842): endpoints that list each other sent the request back here.
  "balancer.loop": 508,
  /** The disk holding llmlb's data is full: what was asked would write there (Insufficient Storage). */
  "storage.full": 507,
  "model.not_found": 404,
  "model.not_ready": 503,
  /** No node can serve it, and waiting will not change that: not worth a client's retry. */
  "model.unavailable": 503,
  "balancer.overloaded": 503,
  "serving.paused": 503,
  /** llmlb is stopping: what runs finishes, and nothing new starts (nor what waited in its queue). */
  "serving.stopping": 503,
  "settings.read_only": 409,
  /** A setting from config.json, the environment or a flag does not fit: read at start, never over HTTP. */
  "config.invalid": 400,
  /** A model only an endpoint serves: it goes with the endpoint. */
  "registry.external": 409,
  "balancer.no_node": 502,
  /** Every node that has the model answered 429 (its rate limit, or its full queue). */
  "balancer.rate_limited": 429,
  /** The node failed mid-answer: the client has part of it (its stream's last event says so). */
  "node.crashed": 502,
  "inference.context_length_exceeded": 400,
  "inference.unavailable": 503,
  "inference.failed": 500,
  "hub.not_found": 404,
  "hub.file_not_found": 404,
  "hub.revision_not_found": 404,
  "hub.unauthorized": 401,
  "hub.rate_limited": 424,
  "hub.unreachable": 424,
  "hub.invalid_response": 502,
  "hub.no_usable_file": 422,
  "gpu_build.unavailable": 409,
  "gpu_build.running": 409,
  "gpu_build.not_running": 409,
  /** Understood, but this machine lacks what the build needs (the message lists it). */
  "gpu_build.missing_tools": 422,
  internal: 500,
};

/** OpenAI's `type` values, so OpenAI SDKs classify our errors as they do theirs. */
export function openAiType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 409) return "conflict_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** The wire code: OpenAI's own name where it has one (its SDKs and clients key on it), ours otherwise. */
function wireCode(code: ErrorCode): string {
  if (code === "model.not_found") return "model_not_found";
  if (code === "model.unavailable") return "model_unavailable";
  if (code === "auth.invalid_api_key") return "invalid_api_key";
  if (code === "inference.context_length_exceeded") return "context_length_exceeded";
  return code;
}

export interface HttpError {
  status: number;
  headers: Record<string, string>;
  body: { error: { message: string; type: string; code: string | null; param: string | null } };
}

export function toHttpError(error: AppError): HttpError {
  const status = statusByCode[error.code];
  // 5xx messages never carry internals: the log has them.
  const message = status >= 500 && error.code === "internal" ? "Internal server error" : error.message;
  const headers: Record<string, string> = {};
  if (error.retryAfter !== undefined)
    headers["retry-after"] = String(Math.max(0, Math.ceil(error.retryAfter)));
  if (error.retryable === false) headers["x-should-retry"] = "false";
  return {
    status,
    headers,
    body: {
      error: { message, type: openAiType(status), code: wireCode(error.code), param: error.param ?? null },
    },
  };
}

/**
 * An error in Anthropic's shape, for its Messages routes: its SDKs (and Claude Code) read `error.type`,
 * one of Anthropic's names for the status. `overloaded_error` says "try again soon", and clients that
 * go by the type retry it for minutes: a 503 that retrying cannot mend (no node can run the model) is
 * an `api_error`.
 */
export function anthropicErrorOf(http: HttpError, details?: Record<string, unknown>): AnthropicErrorBody {
  const types: Record<number, string> = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: http.headers["x-should-retry"] === "false" ? "api_error" : "overloaded_error",
  };
  const { status } = http;
  return {
    type: "error",
    error: {
      type: types[status] ?? (status >= 500 ? "api_error" : "invalid_request_error"),
      message: http.body.error.message,
      ...(details ? { details } : {}),
    },
  };
}

/**
 * Whether `error` says the disk is full: SQLite's (the registry) or the file system's, anywhere in
 * its causes.
 */
export function isDiskFull(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (code === "SQLITE_FULL" || code === "ENOSPC") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Whether a path is one of Anthropic's Messages routes, whose errors take Anthropic's shape. */
export const isAnthropicPath = (url: string) => /^\/v1\/messages(\/|\?|$)/.test(url);

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

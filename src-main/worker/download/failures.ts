/**
 * Which failures are worth another attempt (429, 5xx, cut or timed-out connections) and what an HTTP
 * answer that is not the file means for the user.
 */
import { parseRetryAfter } from "./backoff";
import { DownloadError, unauthorizedMessage } from "./errors";
import { header, type OpenedResponse } from "./hubRequest";
import type { DownloadRequest } from "./types";

/** A failure another attempt may get past; `retryAfterMs` when the server said when. */
export class TransientError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "TransientError";
  }
}

/** The server answered 200 to a range request: parallel segments cannot work against it. */
export class RangeIgnoredError extends Error {
  constructor() {
    super("the server ignored the Range header");
    this.name = "RangeIgnoredError";
  }
}

const TRANSIENT_STATUSES = new Set([408, 425, 429]);

/** Network errors worth another try, each in the words a user reads it in (its code follows them). */
const TRANSIENT_CODES = new Map([
  ["ECONNRESET", "the server closed the connection"],
  ["ECONNREFUSED", "the server refused the connection"],
  ["ECONNABORTED", "the connection was cut"],
  ["EPIPE", "the server closed the connection"],
  ["ETIMEDOUT", "the connection timed out"],
  ["ENETUNREACH", "the network is unreachable"],
  ["ENETDOWN", "the network is down"],
  ["EHOSTUNREACH", "the server is unreachable"],
  ["EAI_AGAIN", "the server's name could not be looked up"],
  ["ERR_STREAM_PREMATURE_CLOSE", "the connection closed early"],
  ["UND_ERR_SOCKET", "the server closed the connection"],
  ["UND_ERR_CLOSED", "the connection closed"],
  ["UND_ERR_CONNECT_TIMEOUT", "connecting timed out"],
  ["UND_ERR_HEADERS_TIMEOUT", "the server did not answer in time"],
  ["UND_ERR_BODY_TIMEOUT", "the server stopped sending"],
  ["UND_ERR_RES_CONTENT_LENGTH_MISMATCH", "the answer ended early"],
]);

/** The retry reason when `error` is transient, else undefined. Looks through `cause` chains. */
export function transientReason(error: unknown): { reason: string; retryAfterMs?: number } | undefined {
  if (error instanceof TransientError) return { reason: error.message, retryAfterMs: error.retryAfterMs };
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    const words = typeof code === "string" ? TRANSIENT_CODES.get(code) : undefined;
    if (words) return { reason: `${words} (${code})` };
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** What an answer other than 200/206 means, as an error to throw. Consumes the (small) body. */
export async function statusFailure(
  response: OpenedResponse,
  request: DownloadRequest,
  /** Whether a token went with the request: a refusal then says the token was refused. */
  withToken = false,
): Promise<Error> {
  await response.body.dump().catch(() => {});
  const status = response.statusCode;
  const hubMessage = header(response.headers, "x-error-message");
  const detail = hubMessage ? `: ${hubMessage.slice(0, 200)}` : "";
  const fromHub = new URL(response.url).origin === new URL(request.url).origin;
  if (TRANSIENT_STATUSES.has(status) || status >= 500) {
    return new TransientError(
      `HTTP ${status}${detail}`,
      parseRetryAfter(header(response.headers, "retry-after")),
    );
  }
  if (status === 401 || status === 403) {
    // A CDN's signed URL can expire mid-download; the next attempt starts at the hub and gets a new one.
    if (!fromHub) return new TransientError(`HTTP ${status} from the download server`);
    return new DownloadError("unauthorized", unauthorizedMessage(request.repo, status, withToken));
  }
  if (status === 404 || status === 410) {
    return new DownloadError(
      "not_found",
      `${request.filename} was not found in ${request.repo} at commit ${request.commit} (HTTP ${status})${detail}.`,
    );
  }
  if (status === 416) return sizeMismatch(request, undefined);
  return new DownloadError(
    "network",
    `Downloading ${request.filename} from ${request.repo} failed: the server answered HTTP ${status}${detail}.`,
    { retryable: false },
  );
}

export function sizeMismatch(request: DownloadRequest, servedSize: number | undefined): DownloadError {
  const served = servedSize === undefined ? "a different size" : `${servedSize} bytes`;
  return new DownloadError(
    "checksum",
    `${request.filename} from ${request.repo} is ${served} on the server, but ${request.size} bytes were expected; ` +
      "the file may have changed on the hub. Remove the model and add it again, to register the hub's current files.",
  );
}

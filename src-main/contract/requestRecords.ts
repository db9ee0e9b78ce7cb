/**
 * How a request of the access log reads wherever the product shows it: the dashboard's Requests page
 * and `llmlb requests`. Pure functions on the record's type, safe for the renderer.
 */
import type { RequestRecord } from "./requests";

/** How many requests the server keeps for `GET /v0/requests` (its log keeps every one). */
export const keptRequests = 5000;

/** How many requests a page of `GET /v0/requests` holds unless its `limit` says. */
export const requestPageSize = 200;

/** A request answered with an error: 400 or more, but a client that left (499). */
export function isFailedRequest(request: RequestRecord): boolean {
  return request.status >= 400 && request.status !== 499;
}

/** Which requests are asked for: only failures, only a model whose name (or the name a client sent) contains `model`. */
export interface RequestFilter {
  failuresOnly?: boolean;
  model?: string;
}

/**
 * Whether a request is among those asked for (the Requests page's filters, `llmlb requests`'s
 * options, `GET /v0/requests`'s query).
 */
export function requestMatches(request: RequestRecord, asked: RequestFilter): boolean {
  const needle = asked.model?.trim().toLowerCase() ?? "";
  return (
    (!asked.failuresOnly || isFailedRequest(request)) &&
    (needle === "" || (request.requested_model ?? request.model).toLowerCase().includes(needle))
  );
}

/**
 * What a request's row alone cannot say: why it failed (as its client was told), or that its client
 * left; and why the nodes tried before the last failed. Undefined when there is nothing to say.
 */
export function requestNote(request: RequestRecord): { code?: string; text: string } | undefined {
  const triedFirst = request.failed_tries?.length ? `Tried first: ${request.failed_tries.join("; ")}.` : "";
  const left =
    request.first_byte_ms !== undefined
      ? "The client left before its answer ended."
      : "The client left before its answer.";
  const reason = request.error?.message ?? (request.status === 499 ? left : "");
  const text = [reason, triedFirst].filter(Boolean).join(" ");
  if (!text) return undefined;
  return { ...(request.error?.code ? { code: request.error.code } : {}), text };
}

/** Its tokens: from its usage (`42`), or a stream's events (`~42`); undefined where unknown. */
export function requestTokens(request: RequestRecord): string | undefined {
  if (request.completion_tokens !== undefined) return String(request.completion_tokens);
  if (request.stream_events !== undefined) return `~${request.stream_events}`;
  return undefined;
}

/**
 * `GET /v0/requests` for a page of those asked for: the newest `limit` (the server's 200 when absent),
 * or those older than the request `before`.
 */
export function requestListPath(asked: RequestFilter & { before?: string; limit?: number }): string {
  const query = new URLSearchParams();
  if (asked.failuresOnly) query.set("failures", "true");
  if (asked.model?.trim()) query.set("model", asked.model.trim());
  if (asked.limit !== undefined) query.set("limit", String(asked.limit));
  if (asked.before !== undefined) query.set("before", asked.before);
  const encoded = query.toString();
  return `/v0/requests${encoded ? `?${encoded}` : ""}`;
}

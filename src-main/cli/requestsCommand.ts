import type { RequestList, RequestRecord } from "../contract";
import type { ApiClient } from "./apiClient";
import { formatTable } from "./format";
import type { Output } from "./modelCommands";

export interface RequestsOptions {
  /** Only those answered with an error (400 or more, but a client that left). */
  failures?: boolean;
  /** Only those for a model whose name contains this. */
  model?: string;
  limit?: number;
  json?: boolean;
}

/** `14:23:05` in this machine's time, with the day before it when that is not today. */
function when(iso: string, now = new Date()): string {
  const at = new Date(iso);
  const time = at.toTimeString().slice(0, 8);
  if (at.toDateString() === now.toDateString()) return time;
  const day = `${at.getFullYear()}-${String(at.getMonth() + 1).padStart(2, "0")}-${String(at.getDate()).padStart(2, "0")}`;
  return `${day} ${time}`;
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** What the table's last column says: why it failed (with its id, for the log), or what went before. */
function why(request: RequestRecord): string {
  const triedFirst = request.failed_tries?.length ? `tried first: ${request.failed_tries.join("; ")}` : "";
  const reason = request.error
    ? `${request.error.code ? `${request.error.code}: ` : ""}${request.error.message}`
    : request.status === 499
      ? "the client left before its answer"
      : "";
  const said = [reason, triedFirst].filter(Boolean).join("; ");
  return said ? `${said} (${request.id})` : "";
}

function row(request: RequestRecord): string[] {
  return [
    when(request.at),
    `${request.status}${request.broke_off ? " broke off" : ""}`,
    request.requested_model === undefined
      ? request.model
      : `${request.requested_model}${request.status === 404 ? " (not served here)" : ""}`,
    `${request.path}${request.stream ? " stream" : ""}`,
    request.node !== undefined
      ? `${request.node}${request.tries !== undefined ? ` (${request.tries} tried)` : ""}`
      : "-",
    duration(request.ms),
    request.completion_tokens !== undefined
      ? String(request.completion_tokens)
      : request.stream_events !== undefined
        ? `~${request.stream_events}`
        : "-",
    why(request),
  ];
}

/**
 * `llmlb requests`: the latest inference requests, newest first, as the access log has them (what the
 * dashboard's Requests page lists): each failure with its reason and request id, the id of its lines in
 * the log.
 */
export async function listRequests(client: ApiClient, options: RequestsOptions, io: Output): Promise<void> {
  const list = await client.request<RequestList>("GET", "/v0/requests");
  const needle = options.model?.toLowerCase();
  const shown = list.data
    .filter(
      (request) =>
        (!options.failures || (request.status >= 400 && request.status !== 499)) &&
        (needle === undefined || (request.requested_model ?? request.model).toLowerCase().includes(needle)),
    )
    .slice(0, options.limit);
  if (options.json) return io.out(JSON.stringify({ data: shown }, null, 2));
  if (shown.length === 0)
    return io.out(
      list.data.length === 0 ? "No request answered since llmlb started." : "No request matches.",
    );
  io.out(
    formatTable(["TIME", "STATUS", "MODEL", "ROUTE", "NODE", "DURATION", "TOKENS", "WHY"], shown.map(row)),
  );
}

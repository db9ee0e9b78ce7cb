import {
  requestListPath,
  requestMatches,
  requestNote,
  requestTokens,
  type RequestRecord,
  requestListSchema,
} from "../contract";
import { formatMilliseconds } from "../contract/units";
import { CliError, type ApiClient, serverJson } from "./apiClient";
import { formatTable } from "./format";
import type { Output } from "./modelCommands";

export interface RequestsOptions {
  /** Only those answered with an error (400 or more, but a client that left). */
  failures?: boolean;
  /** Only those for a model whose name contains this. */
  model?: string;
  limit?: number;
  /** Those older than this request (the last id of a list before). */
  before?: string;
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

/** What the table's last column says: why it failed, or what went before, with its id for the log. */
function why(request: RequestRecord): string {
  const note = requestNote(request);
  return note ? `${note.code ? `${note.code}: ` : ""}${note.text} (${request.id})` : "";
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
    formatMilliseconds(request.ms),
    requestTokens(request) ?? "-",
    why(request),
  ];
}

/**
 * `llmlb requests`: the latest inference requests, newest first, as the access log has them (what the
 * dashboard's Requests page lists): each failure with its reason and request id, the id of its lines in
 * the log.
 */
export async function listRequests(client: ApiClient, options: RequestsOptions, io: Output): Promise<void> {
  const list = await client.request(
    requestListSchema,
    "GET",
    requestListPath({
      failuresOnly: options.failures,
      model: options.model,
      limit: options.limit,
      before: options.before,
    }),
  );
  if (options.before !== undefined && list.has_more === undefined)
    throw new CliError(
      `The server at ${client.url} is an llmlb older than paging: it lists its latest requests only (leave out --before).`,
    );
  // A server older than its filters sends its latest 200 whatever was asked: they are applied here too.
  const kept = list.data
    .map((request, index) => ({ request, index }))
    .filter(({ request }) =>
      requestMatches(request, { failuresOnly: options.failures, model: options.model }),
    )
    .slice(0, options.limit);
  const shown = kept.map(({ request }) => request);
  if (options.json) {
    // As the server sent them, those shown.
    const sent = serverJson(list) as { data: unknown[] };
    return io.out(JSON.stringify({ ...sent, data: kept.map(({ index }) => sent.data[index]) }, null, 2));
  }
  if (shown.length === 0)
    return io.out(
      options.failures || options.model !== undefined || options.before !== undefined
        ? "No request matches."
        : "No request answered since llmlb started.",
    );
  io.out(
    formatTable(["TIME", "STATUS", "MODEL", "ROUTE", "NODE", "DURATION", "TOKENS", "WHY"], shown.map(row)),
  );
  if (list.has_more)
    io.out(`Older ones match too: add --before ${shown.at(-1)!.id} for the next ${shown.length}.`);
}

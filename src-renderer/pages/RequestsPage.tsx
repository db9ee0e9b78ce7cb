import { useEffect } from "react";
import type { RequestRecord } from "../../src-main/contract";
import { PageHead } from "../components/PageHead";
import { useActions, useAppStore } from "../useAppStore";

/** `12:04:31`, in the browser's time. */
function clockTime(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour12: false });
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/**
 * How it ended, as a load balancer's log would say it: 499 is a client that left; an answer that
 * broke off after it began says so.
 */
function StatusCell({ request }: { request: RequestRecord }) {
  const { status } = request;
  const tone = status === 499 ? "muted" : status >= 500 ? "danger" : status >= 400 ? "warn" : "accent";
  const title =
    status === 499
      ? "The client left before its answer"
      : request.broke_off
        ? "The answer broke off midway: the client got its beginning, then an error"
        : undefined;
  return (
    <span className={`pill pill-${tone}`} title={title}>
      {status}
      {request.broke_off && " · broke off"}
    </span>
  );
}

function tokensOf(request: RequestRecord): string {
  if (request.completion_tokens !== undefined) return String(request.completion_tokens);
  if (request.stream_events !== undefined) return `~${request.stream_events}`;
  return "–";
}

/**
 * The latest inference requests, as the access log writes them (newest first, live): which node
 * answered each (and how many were tried), what the client got, how long it took and its first byte,
 * its tokens. What a load balancer's status page shows.
 */
export function RequestsPage() {
  const { loadRequests } = useActions();
  const requests = useAppStore((s) => s.requests);
  const state = useAppStore((s) => s.requestsState);
  const error = useAppStore((s) => s.requestsError);
  useEffect(() => void loadRequests(), [loadRequests]);

  return (
    <>
      <PageHead title="Requests">
        The latest requests to <code>/v1</code> as they are answered: which node answered each, what the
        client got, and how fast. The log has every one (a line each, <code>inference request</code>).
      </PageHead>
      {state === "failed" && (
        <p className="form-error" role="alert">
          Could not read the requests: {error}
        </p>
      )}
      {state === "unavailable" && (
        <p className="muted">This llmlb is older than the Requests page: its log lists its requests.</p>
      )}
      {state === "ready" && requests.length === 0 ? (
        <p className="muted">No request answered since llmlb started. Send one from the Playground.</p>
      ) : (
        requests.length > 0 && (
          <div className="table-scroll" tabIndex={0} role="region" aria-label="Latest requests">
            <table className="requests-table">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Model</th>
                  <th scope="col">Route</th>
                  <th scope="col">Node</th>
                  <th scope="col">Status</th>
                  <th scope="col">Duration</th>
                  <th scope="col">First byte</th>
                  <th scope="col">Tokens</th>
                  <th scope="col">Client</th>
                </tr>
              </thead>
              <tbody>
                {requests.map((request) => (
                  <tr key={request.id || `${request.at}-${request.path}`}>
                    <td>{clockTime(request.at)}</td>
                    <td>
                      <code>{request.model}</code>
                    </td>
                    <td>
                      <code>{request.path}</code>
                    </td>
                    <td>
                      {request.node ?? "–"}
                      {request.tries !== undefined && <span className="muted"> ({request.tries} tried)</span>}
                    </td>
                    <td>
                      <StatusCell request={request} />
                    </td>
                    <td>{duration(request.ms)}</td>
                    <td>{request.first_byte_ms !== undefined ? duration(request.first_byte_ms) : "–"}</td>
                    <td>{tokensOf(request)}</td>
                    <td>{request.client ?? "–"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
    </>
  );
}

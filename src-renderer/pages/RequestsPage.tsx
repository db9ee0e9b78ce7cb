import { Fragment, useEffect, useId, useState } from "react";
import type { RequestRecord } from "../../src-main/contract";
import {
  keptRequests,
  requestMatches,
  requestNote,
  requestTokens,
  type RequestFilter,
} from "../../src-main/contract/requestRecords";
import { formatMilliseconds } from "../../src-main/contract/units";
import { clockTime } from "../format";
import { PageHead } from "../components/PageHead";
import { ServerWords } from "../components/ServerWords";
import { mergedRequests } from "../store/requestsSlice";
import { useActions, useAppStore } from "../useAppStore";

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

/**
 * The latest inference requests, as the access log writes them (newest first, live): which node
 * answered each (and how many were tried), what the client got, how long it took and its first byte,
 * its tokens. What a load balancer's status page shows.
 */
export function RequestsPage() {
  const { loadRequests, filterRequests, loadOlderRequests } = useActions();
  const requests = useAppStore((s) => s.requests);
  const state = useAppStore((s) => s.requestsState);
  const error = useAppStore((s) => s.requestsError);
  const filter = useAppStore((s) => s.requestsFilter);
  const hasMore = useAppStore((s) => s.requestsHasMore);
  const olderState = useAppStore((s) => s.olderRequestsState);
  const olderError = useAppStore((s) => s.olderRequestsError);
  useEffect(() => void loadRequests(), [loadRequests]);
  /** The list as it was when paused: rows stay where they are while someone reads them. */
  const [held, setHeld] = useState<RequestRecord[] | undefined>();
  const filterId = useId();
  const filtered = Boolean(filter.failuresOnly || filter.model?.trim());
  // The server is asked for those that match; until it answers, those listed are sifted here.
  const shown = (held ?? requests).filter((request) => requestMatches(request, filter));
  const heldIds = new Set(held?.map((request) => request.id));
  const heldBack = held ? requests.filter((request) => !heldIds.has(request.id)).length : 0;
  const counted = shown.some((request) => request.stream_events !== undefined);
  // Other requests asked for: the list is read again, and a paused one (of the others) ends.
  const refilter = (asked: RequestFilter) => {
    setHeld(undefined);
    void filterRequests(asked);
  };
  const showOlder = async () => {
    const added = await loadOlderRequests();
    setHeld((paused) => paused && mergedRequests(paused, added));
  };

  return (
    <>
      <PageHead title="Requests">
        The latest requests to <code>/v1</code> as they are answered: which node answered each, what the
        client got, and how fast. llmlb&apos;s log has every one: a line each (<code>inference request</code>)
        under its request id, on the standard error of <code>llmlb serve</code>, or in{" "}
        <code>logs/llmlb.log</code> in the app&apos;s data folder.
      </PageHead>
      {state === "failed" && (
        <p className="form-error" role="alert">
          Could not read the requests: {error}
        </p>
      )}
      {state === "unavailable" && (
        <p className="muted">This llmlb is older than the Requests page: its log lists its requests.</p>
      )}
      {(requests.length > 0 || held || filtered || state === "loading") && (
        <div className="requests-controls">
          <label className="checkbox">
            <input
              type="checkbox"
              checked={filter.failuresOnly ?? false}
              onChange={(event) => refilter({ ...filter, failuresOnly: event.target.checked })}
            />
            Failures only
          </label>
          <label htmlFor={filterId} className="visually-hidden">
            Filter by model
          </label>
          <input
            id={filterId}
            type="search"
            className="input requests-filter"
            placeholder="Filter by model"
            value={filter.model ?? ""}
            onChange={(event) => refilter({ ...filter, model: event.target.value })}
            onKeyDown={(event) => {
              if (event.key === "Escape") refilter({ ...filter, model: "" });
            }}
          />
          <button
            type="button"
            className="button"
            aria-pressed={held !== undefined}
            onClick={() => setHeld(held ? undefined : requests)}
          >
            Pause the list
          </button>
          {held && (
            <span className="muted" role="status">
              {heldBack} more answered since the list was paused.
            </span>
          )}
        </div>
      )}
      {shown.length === 0 ? (
        state === "loading" ? (
          <p className="muted">Reading the requests…</p>
        ) : filtered ? (
          <p className="muted">
            No request llmlb keeps matches (the latest {keptRequests.toLocaleString()} since it started).
          </p>
        ) : (
          state === "ready" && (
            <p className="muted">No request answered since llmlb started. Send one from the Playground.</p>
          )
        )
      ) : (
        <>
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
                {shown.map((request) => {
                  const note = requestNote(request);
                  return (
                    <Fragment key={request.id || `${request.at}-${request.path}`}>
                      <tr className={note ? "has-note" : undefined}>
                        <td>{clockTime(request.at)}</td>
                        <td className="request-model">
                          {request.requested_model !== undefined ? (
                            <>
                              <code title={request.requested_model}>{request.requested_model}</code>
                              {request.status === 404 && <span className="muted"> (not served here)</span>}
                            </>
                          ) : (
                            <code title={request.model}>{request.model}</code>
                          )}
                        </td>
                        <td>
                          <code>{request.path}</code>
                          {request.stream && <span className="muted"> · stream</span>}
                        </td>
                        <td>
                          {request.node ?? "–"}
                          {request.tries !== undefined && (
                            <span className="muted"> ({request.tries} tried)</span>
                          )}
                        </td>
                        <td>
                          <StatusCell request={request} />
                        </td>
                        <td>{formatMilliseconds(request.ms)}</td>
                        <td>
                          {request.first_byte_ms !== undefined
                            ? formatMilliseconds(request.first_byte_ms)
                            : "–"}
                          {request.queued_ms !== undefined && (
                            <span className="muted"> ({formatMilliseconds(request.queued_ms)} queued)</span>
                          )}
                        </td>
                        <td>{requestTokens(request) ?? "–"}</td>
                        <td>{request.client ?? "–"}</td>
                      </tr>
                      {note && (
                        <tr className="request-note">
                          <td colSpan={9}>
                            {note.code && <code>{note.code}</code>}
                            {note.code && ": "}
                            <ServerWords text={note.text} />
                            <span className="muted">
                              {" "}
                              · Request <code>{request.id}</code>
                            </span>
                          </td>
                        </tr>
                      )}
                    </Fragment>
                  );
                })}
              </tbody>
            </table>
          </div>
          {olderState === "failed" && (
            <p className="form-error" role="alert">
              Could not read older requests: {olderError}
            </p>
          )}
          {olderState === "unavailable" && (
            <p className="muted" role="status">
              No older request is kept here: llmlb keeps the latest {keptRequests.toLocaleString()}, and its
              log has every one.
            </p>
          )}
          {hasMore && (
            <button
              type="button"
              className="button requests-older"
              disabled={olderState === "loading"}
              onClick={() => void showOlder()}
            >
              {olderState === "loading" ? "Reading older requests…" : "Show older requests"}
            </button>
          )}
        </>
      )}
      {counted && (
        <p className="hint">
          ~: a stream that carried no usage, counted by its events (about one a token). A client that asks for
          usage (<code>stream_options.include_usage</code>) gets its count here too.
        </p>
      )}
    </>
  );
}

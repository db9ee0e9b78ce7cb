import { requestMatches, requestPageSize, type RequestFilter } from "../../src-main/contract/requestRecords";
import type { RequestRecord } from "../../src-main/contract";
import { ApiError, isNotFound } from "../api";
import type { LoadState } from "./settingsSlice";
import { messageOf, type Slice, type SliceDeps } from "./types";

/** A model name being typed is asked for once the typing pauses this long. */
const typingPauseMs = 250;

export interface RequestsSlice {
  /** The latest inference requests asked for (`requestsFilter`), newest first. */
  requests: RequestRecord[];
  /** Older ones asked for are kept by the server: `loadOlderRequests` brings the next page. */
  requestsHasMore: boolean;
  requestsFilter: RequestFilter;
  /** `unavailable`: a server older than the Requests page. */
  requestsState: LoadState;
  requestsError: string | undefined;
  /**
   * Reading an older page; `failed` with `olderRequestsError` saying why; `unavailable`: the list's
   * oldest is no longer kept by the server (a busy one pushed it out), so nothing older is.
   */
  olderRequestsState: LoadState;
  olderRequestsError: string | undefined;
  loadRequests(): Promise<void>;
  /**
   * Asks the server for these requests only (it keeps more than a page: a failure of an hour ago is
   * found); a model name being typed, once the typing pauses.
   */
  filterRequests(filter: RequestFilter): Promise<void>;
  /** The page before the list's oldest, added at its end; resolves to what it added. */
  loadOlderRequests(): Promise<RequestRecord[]>;
  /** Requests answered since (a `requests.done` event), oldest first. */
  addRequests(answered: RequestRecord[]): void;
}

/** `first`, then those of `then` it lacks (by id). */
export function mergedRequests(first: RequestRecord[], then: RequestRecord[]): RequestRecord[] {
  const seen = new Set(first.map((request) => request.id));
  return [...first, ...then.filter((request) => !seen.has(request.id))];
}

/**
 * The Requests page: the server's latest inference requests (all, or those a filter asks for), then
 * each one answered as it comes, and older pages on asking. A request answered while the list is read
 * may come in both, the list and an event: it is listed once.
 */
export const createRequestsSlice =
  ({ api }: SliceDeps): Slice<RequestsSlice> =>
  (set, get) => {
    /** Requests answered while the list is being read (newest first), if it is. */
    let whileReading: RequestRecord[] | undefined;
    /**
     * Reads of the list begun: only the latest one's answer is taken (two may overlap: a reconnect's,
     * a filter's). An older page read before the latest began is dropped too.
     */
    let reads = 0;
    /** A read put off while a model name is typed: its timer, and what ends its wait at once. */
    let typing: { timer: ReturnType<typeof setTimeout>; end: () => void } | undefined;
    return {
      requests: [],
      requestsHasMore: false,
      requestsFilter: {},
      requestsState: "idle",
      requestsError: undefined,
      olderRequestsState: "idle",
      olderRequestsError: undefined,
      async loadRequests() {
        set({ requestsState: "loading" });
        const arrived: RequestRecord[] = [];
        whileReading = arrived;
        const read = ++reads;
        try {
          const list = await api.listRequests(get().requestsFilter);
          if (read !== reads) return;
          // The list is the server's whole account: what was shown before it (a server since started
          // again, another filter) is not kept, only what came while it was read.
          set({
            requests: mergedRequests(arrived, list.data),
            requestsHasMore: list.has_more ?? false,
            requestsState: "ready",
            requestsError: undefined,
            olderRequestsState: "idle",
            olderRequestsError: undefined,
          });
        } catch (error) {
          if (read !== reads) return;
          set(
            isNotFound(error)
              ? { requestsState: "unavailable" }
              : { requestsState: "failed", requestsError: messageOf(error) },
          );
        } finally {
          if (whileReading === arrived) whileReading = undefined;
        }
      },
      async filterRequests(filter) {
        const typed = (filter.model ?? "") !== (get().requestsFilter.model ?? "");
        set({ requestsFilter: filter });
        if (typing) {
          clearTimeout(typing.timer);
          typing.end();
          typing = undefined;
        }
        if (typed)
          await new Promise<void>((end) => (typing = { timer: setTimeout(end, typingPauseMs), end }));
        // Asked again meanwhile: that one reads.
        if (get().requestsFilter !== filter) return;
        await get().loadRequests();
      },
      async loadOlderRequests() {
        const oldest = get().requests.at(-1);
        if (!oldest) return [];
        const read = reads;
        set({ olderRequestsState: "loading", olderRequestsError: undefined });
        try {
          const list = await api.listRequests({ ...get().requestsFilter, before: oldest.id });
          if (read !== reads) return [];
          const listed = get().requests;
          const requests = mergedRequests(listed, list.data);
          set({ requests, requestsHasMore: list.has_more ?? false, olderRequestsState: "ready" });
          return requests.slice(listed.length);
        } catch (error) {
          if (read !== reads) return [];
          // Its oldest pushed out of what the server keeps: nothing older is kept either.
          if (error instanceof ApiError && error.param === "before")
            set({ requestsHasMore: false, olderRequestsState: "unavailable" });
          else set({ olderRequestsState: "failed", olderRequestsError: messageOf(error) });
          return [];
        }
      },
      addRequests(answered) {
        const newest = answered
          .filter((request) => requestMatches(request, get().requestsFilter))
          .toReversed();
        if (newest.length === 0) return;
        if (whileReading) whileReading.unshift(...newest);
        // The list keeps its length (a page at least, as the server sends): the oldest make room, and
        // come back on asking.
        const listed = get().requests;
        const requests = mergedRequests(newest, listed);
        const length = Math.max(requestPageSize, listed.length);
        set({
          requests: requests.slice(0, length),
          requestsHasMore: get().requestsHasMore || requests.length > length,
        });
      },
    };
  };

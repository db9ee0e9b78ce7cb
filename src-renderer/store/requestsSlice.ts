import type { RequestRecord } from "../../src-main/contract";
import { isNotFound } from "../api";
import type { LoadState } from "./settingsSlice";
import { messageOf, type Slice, type SliceDeps } from "./types";

/** As many as the server keeps. */
const kept = 200;

export interface RequestsSlice {
  /** The latest inference requests, newest first. */
  requests: RequestRecord[];
  /** `unavailable`: a server older than the Requests page. */
  requestsState: LoadState;
  requestsError: string | undefined;
  loadRequests(): Promise<void>;
  /** Requests answered since (a `requests.done` event), oldest first. */
  addRequests(answered: RequestRecord[]): void;
}

/** `first`, then those of `then` it lacks (by id), at most as many as the server keeps. */
function merged(first: RequestRecord[], then: RequestRecord[]): RequestRecord[] {
  const seen = new Set(first.map((request) => request.id));
  return [...first, ...then.filter((request) => !seen.has(request.id))].slice(0, kept);
}

/**
 * The Requests page: the server's latest inference requests, then each one answered as it comes.
 * A request answered while the list is read may come in both, the list and an event: it is listed once.
 */
export const createRequestsSlice =
  ({ api }: SliceDeps): Slice<RequestsSlice> =>
  (set, get) => {
    /** Requests answered while the list is being read (newest first), if it is. */
    let whileReading: RequestRecord[] | undefined;
    /** Reads of the list begun: only the latest one's answer is taken (two may overlap, a reconnect's). */
    let reads = 0;
    return {
      requests: [],
      requestsState: "idle",
      requestsError: undefined,
      async loadRequests() {
        set({ requestsState: "loading" });
        const arrived: RequestRecord[] = [];
        whileReading = arrived;
        const read = ++reads;
        try {
          const list = await api.listRequests();
          if (read !== reads) return;
          // The list is the server's whole account: what was shown before it (a server since started
          // again) is not kept, only what came while it was read.
          set({
            requests: merged(arrived, list.data),
            requestsState: "ready",
            requestsError: undefined,
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
      addRequests(answered) {
        const newest = answered.toReversed();
        if (whileReading) whileReading.unshift(...newest);
        set({ requests: merged(newest, get().requests) });
      },
    };
  };

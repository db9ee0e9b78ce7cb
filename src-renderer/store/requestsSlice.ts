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

/** The Requests page: the server's latest inference requests, then each one answered as it comes. */
export const createRequestsSlice =
  ({ api }: SliceDeps): Slice<RequestsSlice> =>
  (set, get) => ({
    requests: [],
    requestsState: "idle",
    requestsError: undefined,
    async loadRequests() {
      set({ requestsState: "loading" });
      try {
        const list = await api.listRequests();
        // What came meanwhile (events) and what the list holds meet at the list's newest.
        const known = new Set(list.data.map((request) => request.id));
        const newer = get().requests.filter((request) => !known.has(request.id));
        set({
          requests: [...newer, ...list.data].slice(0, kept),
          requestsState: "ready",
          requestsError: undefined,
        });
      } catch (error) {
        set(
          isNotFound(error)
            ? { requestsState: "unavailable" }
            : { requestsState: "failed", requestsError: messageOf(error) },
        );
      }
    },
    addRequests(answered) {
      set({ requests: [...answered.toReversed(), ...get().requests].slice(0, kept) });
    },
  });

import type { Status } from "../../src-main/contract";
import { messageOf, type Slice, type SliceDeps } from "./types";

export interface StatusSlice {
  /** `GET /v0/status`; undefined until read, or when the server has no such route. */
  status: Status | undefined;
  /** Serving paused: /v1 answers 503. Follows `serving` events. */
  paused: boolean;
  pausing: boolean;
  setPaused(paused: boolean): Promise<void>;
  /**
   * `asking`: the quit request is on its way; `quitting`: llmlb said it is quitting; `quit`: then its
   * event stream ended, llmlb is gone as asked (the page stops trying to reach it).
   */
  quitState: "running" | "asking" | "quitting" | "quit";
  quit(): Promise<void>;
}

export const createStatusSlice =
  ({ api }: SliceDeps): Slice<StatusSlice> =>
  (set, get) => ({
    status: undefined,
    paused: false,
    pausing: false,
    quitState: "running",
    async quit() {
      set({ quitState: "asking" });
      try {
        await api.quit();
        // Its event stream may have ended first: then it has quit already.
        if (get().quitState === "asking") set({ quitState: "quitting" });
      } catch (error) {
        if (get().quitState === "quit") return;
        set({ quitState: "running" });
        get().pushBanner("error", messageOf(error));
      }
    },
    async setPaused(paused) {
      set({ pausing: true });
      try {
        const status = await api.setServing(paused);
        set({ status, paused: status?.paused ?? paused });
      } catch (error) {
        get().pushBanner("error", messageOf(error));
      } finally {
        set({ pausing: false });
      }
    },
  });

import type { ServerEvent } from "../../src-main/contract";
import { ApiError, isNotFound, isTokenRefusal, SERVER_UNREACHABLE } from "../api";
import type { AdminToken } from "../adminToken";
import { openEventStream, type EventSourceFactory } from "../events";
import type { LoadState } from "./settingsSlice";
import { messageOf, type Slice, type SliceDeps } from "./types";

export interface LiveSlice {
  /** `loading` until the first snapshot; `failed` when it could not be read (see `loadError`). */
  snapshot: "loading" | "ready" | "failed";
  loadError: string | undefined;
  /**
   * The server refused the page for want of the admin token: opened without its link, or (with
   * `tokenRefused`) the token it sent is no longer the one llmlb takes, as after a restart with another.
   */
  signedOut: boolean;
  /** The token sent was refused, rather than none sent. */
  tokenRefused: boolean;
  /** A request or the event stream was refused for its token: the page asks for one. */
  signOut(): void;
  /** The event stream: `down` while it reconnects (what is shown may be stale). */
  connection: "connecting" | "live" | "down";
  /** Subscribes to events, then reads the snapshot. Returns the function that stops. */
  start(): () => void;
  /**
   * Keeps an admin token pasted on the signed-out page, then reads with it. Resolves true when the
   * server took it.
   */
  signIn(token: string): Promise<boolean>;
  /** Reads models, nodes and status afresh; events arriving meanwhile are applied after it. */
  loadSnapshot(): Promise<void>;
  /**
   * After the stream was down: the snapshot, and what pages read for themselves (settings, endpoints)
   * where they were read or failed, so neither a stale notice nor a "Could not read" outlives the outage.
   */
  readAgain(): void;
  applyEvent(event: ServerEvent): void;
}

export interface LiveDeps extends SliceDeps {
  events: EventSourceFactory;
  /** Where the token the api and event stream send is kept. */
  adminToken: AdminToken;
}

export const createLiveSlice = ({ api, events, adminToken }: LiveDeps): Slice<LiveSlice> => {
  // Events that arrive while a snapshot is in flight wait for it, then apply in order. Each event
  // carries the whole model or node, so replaying one the snapshot already reflects changes nothing,
  // and a change made after the snapshot was read is not lost.
  let pending: ServerEvent[] | undefined;
  let generation = 0;
  let stopEvents: (() => void) | undefined;
  let restartEvents: (() => void) | undefined;

  return (set, get) => ({
    snapshot: "loading",
    loadError: undefined,
    signedOut: false,
    tokenRefused: false,
    connection: "connecting",
    start() {
      const listen = () =>
        openEventStream({
          factory: events,
          onEvent: (event) => (pending ? pending.push(event) : get().applyEvent(event)),
          onOpen: (reconnected) => {
            set({ connection: "live" });
            if (reconnected) get().readAgain();
          },
          onDown: () => {
            set({ connection: "down" });
            // Gone because the user quit it: nothing to reconnect to until they start it again.
            if (get().quitState === "quitting" || get().quitState === "asking") {
              stopEvents?.();
              set({ quitState: "quit" });
            }
          },
          onTokenRefused: () => get().signOut(),
        });
      stopEvents = listen();
      restartEvents = () => {
        stopEvents?.();
        stopEvents = listen();
      };
      void get().loadSnapshot();
      return () => {
        stopEvents?.();
        stopEvents = undefined;
        restartEvents = undefined;
      };
    },
    signOut() {
      // A token given by a link or pasted, refused: the one kept before, if any, is tried instead.
      if (adminToken.fallBack()) {
        restartEvents?.();
        void get().loadSnapshot();
        return;
      }
      set({ signedOut: true, tokenRefused: adminToken.read() !== undefined, connection: "down" });
    },
    async signIn(token) {
      adminToken.use(token);
      // The stream refused without the token waits to try again: try now, with it.
      restartEvents?.();
      await get().loadSnapshot();
      return get().snapshot === "ready" && !get().signedOut;
    },
    async loadSnapshot() {
      const mine = ++generation;
      pending ??= [];
      if (get().snapshot === "failed") set({ snapshot: "loading" });
      try {
        const [models, nodes, status] = await Promise.all([
          api.listModels(),
          api.listNodes(),
          // An older server has no /v0/status: the header then counts from models and nodes.
          api.status().catch((error: unknown) => {
            if (isNotFound(error)) return undefined;
            throw error;
          }),
        ]);
        if (mine !== generation) return;
        adminToken.keep();
        set({
          models: models.data,
          modelsTotal: models.total,
          nodes: nodes.data,
          status,
          paused: status?.paused ?? false,
          snapshot: "ready",
          loadError: undefined,
          signedOut: false,
          tokenRefused: false,
        });
      } catch (error) {
        if (mine !== generation) return;
        // A token given by a link or pasted, refused: the one kept before, if any, is tried instead.
        if (error instanceof ApiError && error.status === 401 && adminToken.fallBack()) {
          restartEvents?.();
          return get().loadSnapshot();
        }
        if (error instanceof ApiError && isTokenRefusal(error.status, error.code)) {
          // What was read before stays (greyed out as when disconnected) behind the sign-in form.
          set({ loadError: messageOf(error), ...(get().snapshot === "ready" ? {} : { snapshot: "failed" }) });
          get().signOut();
        } else if (get().snapshot === "ready") get().pushBanner("error", messageOf(error));
        else set({ snapshot: "failed", loadError: messageOf(error), signedOut: false });
      } finally {
        if (mine === generation) {
          const replay = pending ?? [];
          pending = undefined;
          for (const event of replay) get().applyEvent(event);
        }
      }
    },
    readAgain() {
      const state = get();
      void state.loadSnapshot();
      // llmlb is back: "can't reach it" is no longer true.
      if (state.chatError === SERVER_UNREACHABLE) set({ chatError: undefined });
      if (state.registerError === SERVER_UNREACHABLE) set({ registerError: null });
      for (const banner of state.banners)
        if (banner.kind === "error" && banner.text === SERVER_UNREACHABLE) state.dismissBanner(banner.id);
      const wasRead = (load: LoadState) => load === "ready" || load === "failed";
      if (wasRead(state.settingsState)) void state.loadSettings();
      if (wasRead(state.endpointsState)) void state.loadEndpoints();
      if (wasRead(state.requestsState)) void state.loadRequests();
      if (state.nodeJoin !== undefined) void state.loadNodeJoin();
    },
    applyEvent(event) {
      const state = get();
      switch (event.type) {
        case "model.updated":
          return state.upsertModel(event.model);
        case "model.removed":
          return state.dropModel(event.name);
        case "node.updated":
          state.upsertNode(event.node);
          if (event.node.kind === "endpoint") state.endpointNodeUpdated(event.node);
          return;
        case "node.removed":
          state.dropNode(event.id);
          return state.endpointNodeRemoved(event.id);
        case "serving":
          return set({ paused: event.paused });
        case "gpu.build":
          return state.setGpuBuild(event.build);
        case "node.token_replaced":
          // Replaced elsewhere (the CLI, another window): the command shown would no longer work.
          if (state.nodeJoin !== undefined) void state.loadNodeJoin();
          return;
        case "requests.done":
          return state.addRequests(event.requests);
      }
    },
  });
};

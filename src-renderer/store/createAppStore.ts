import { createStore } from "zustand/vanilla";
import { adminTokenIn, type AdminToken } from "../adminToken";
import type { Api } from "../api";
import type { EventSourceFactory } from "../events";
import { createAnnouncerSlice } from "./announcerSlice";
import { createBannersSlice } from "./bannersSlice";
import { createEndpointsSlice } from "./endpointsSlice";
import { createGpuBuildSlice } from "./gpuBuildSlice";
import { createLiveSlice } from "./liveSlice";
import { createModelsSlice } from "./modelsSlice";
import { createNodesSlice } from "./nodesSlice";
import { createPlaygroundSlice } from "./playgroundSlice";
import { createRequestsSlice } from "./requestsSlice";
import { createSettingsSlice } from "./settingsSlice";
import { createStatusSlice } from "./statusSlice";
import type { AppState } from "./types";

export interface AppStoreOptions {
  api: Api;
  /** Opens the event stream; `fetchEventSource` in the app, a fake in tests. */
  events: EventSourceFactory;
  /** Where the admin token the api and events send is kept; in memory by default. */
  adminToken?: AdminToken;
}

/** One store from slices; a fresh one per app and per test. */
export function createAppStore({ api, events, adminToken = adminTokenIn(undefined) }: AppStoreOptions) {
  return createStore<AppState>()((...a) => ({
    ...createModelsSlice({ api })(...a),
    ...createNodesSlice({ api })(...a),
    ...createBannersSlice()(...a),
    ...createStatusSlice({ api })(...a),
    ...createSettingsSlice({ api })(...a),
    ...createEndpointsSlice({ api })(...a),
    ...createGpuBuildSlice({ api })(...a),
    ...createLiveSlice({ api, events, adminToken })(...a),
    ...createPlaygroundSlice({ api })(...a),
    ...createRequestsSlice({ api })(...a),
    ...createAnnouncerSlice()(...a),
  }));
}

export type AppStore = ReturnType<typeof createAppStore>;

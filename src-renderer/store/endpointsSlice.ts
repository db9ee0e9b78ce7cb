import type { Endpoint, EndpointCreateRequest } from "../../src-main/contract";
import { isNotFound } from "../api";
import type { LoadState } from "./settingsSlice";
import { messageOf, type Slice, type SliceDeps } from "./types";

export interface EndpointsSlice {
  /** External OpenAI-compatible servers added as nodes (`/v0/endpoints`). */
  endpoints: Endpoint[];
  /** `unavailable`: the server has no endpoints route yet. */
  endpointsState: LoadState;
  endpointsError: string | undefined;
  addingEndpoint: boolean;
  loadEndpoints(): Promise<void>;
  /** True when added. */
  addEndpoint(request: EndpointCreateRequest): Promise<boolean>;
  removeEndpoint(id: string): Promise<boolean>;
}

export const createEndpointsSlice =
  ({ api }: SliceDeps): Slice<EndpointsSlice> =>
  (set, get) => ({
    endpoints: [],
    endpointsState: "idle",
    endpointsError: undefined,
    addingEndpoint: false,
    async loadEndpoints() {
      if (get().endpointsState === "idle" || get().endpointsState === "failed") {
        set({ endpointsState: "loading" });
      }
      try {
        const list = await api.listEndpoints();
        set({ endpoints: list.data, endpointsState: "ready", endpointsError: undefined });
      } catch (error) {
        if (isNotFound(error)) set({ endpointsState: "unavailable" });
        else set({ endpointsState: "failed", endpointsError: messageOf(error) });
      }
    },
    async addEndpoint(request) {
      set({ addingEndpoint: true });
      try {
        const endpoint = await api.addEndpoint(request);
        set({ endpoints: [...get().endpoints.filter((e) => e.id !== endpoint.id), endpoint] });
        get().pushBanner("success", `Added ${endpoint.name}`, `endpoint:${request.name}`);
        return true;
      } catch (error) {
        get().pushBanner("error", messageOf(error), `endpoint:${request.name}`);
        return false;
      } finally {
        set({ addingEndpoint: false });
      }
    },
    async removeEndpoint(id) {
      try {
        await api.removeEndpoint(id);
      } catch (error) {
        if (!isNotFound(error)) {
          get().pushBanner("error", messageOf(error));
          return false;
        }
      }
      set({ endpoints: get().endpoints.filter((e) => e.id !== id) });
      return true;
    },
  });

import type { Endpoint, EndpointCreateRequest, NodeInfo } from "../../src-main/contract";
import type { EndpointUpdateRequest } from "../../src-main/contract";
import { isNotFound } from "../api";
import type { LoadState } from "./settingsSlice";
import { fieldRefusal, messageOf, type Slice, type SliceDeps } from "./types";

/** Why an endpoint was not added, and the field it is about when the server said (`url`, `name`). */
export interface EndpointRefusal {
  field?: keyof EndpointCreateRequest;
  message: string;
}

const requestFields: readonly (keyof EndpointCreateRequest)[] = ["name", "url", "api_key", "parallel"];

export interface EndpointsSlice {
  /** External OpenAI-compatible servers added as nodes (`/v0/endpoints`). */
  endpoints: Endpoint[];
  /** `unavailable`: the server has no endpoints route yet. */
  endpointsState: LoadState;
  endpointsError: string | undefined;
  addingEndpoint: boolean;
  loadEndpoints(): Promise<void>;
  /** Null when added; else why not, for the form to say at the field. */
  addEndpoint(request: EndpointCreateRequest): Promise<EndpointRefusal | null>;
  /** Changes an endpoint; the server's refusal when it refused, else null. */
  updateEndpoint(id: string, patch: EndpointUpdateRequest): Promise<string | null>;
  removeEndpoint(id: string): Promise<boolean>;
  /** A `node.updated` of an endpoint's node: its status, last error and models, as the list shows them. */
  endpointNodeUpdated(node: NodeInfo): void;
  /** A `node.removed`: the endpoint with that id, if it is one, is gone (removed elsewhere, the CLI). */
  endpointNodeRemoved(id: string): void;
}

type EndpointChange = { type: "updated"; node: NodeInfo } | { type: "removed"; id: string };

/** The endpoint as its node says it is now: what the node does not carry (its API key) stays as read. */
function withNode(endpoint: Endpoint, node: NodeInfo): Endpoint {
  return {
    ...endpoint,
    status: node.status,
    // An endpoint's node is offline for the reason its last health check failed.
    last_error: node.status === "offline" ? node.health.reason : null,
    models: node.models.map((entry) => entry.model),
    parallel: node.parallel ?? endpoint.parallel,
  };
}

export const createEndpointsSlice = ({ api }: SliceDeps): Slice<EndpointsSlice> => {
  // Node events that arrive while the list is read wait for it, then apply in order, as the live
  // snapshot's do (liveSlice.ts); only the latest read's answer is kept.
  let pending: EndpointChange[] | undefined;
  let generation = 0;

  return (set, get) => {
    const apply = (change: EndpointChange) => {
      if (pending) {
        pending.push(change);
        return;
      }
      // Never read (the Nodes page was not opened), or not readable: there is no list to follow.
      if (get().endpointsState !== "ready") return;
      const endpoints = get().endpoints;
      if (change.type === "removed") {
        set({ endpoints: endpoints.filter((e) => e.id !== change.id) });
      } else if (endpoints.some((e) => e.id === change.node.id)) {
        set({ endpoints: endpoints.map((e) => (e.id === change.node.id ? withNode(e, change.node) : e)) });
      } else {
        // Added elsewhere: its node does not say all the list shows (whether it has an API key).
        void get().loadEndpoints();
      }
    };

    return {
      endpoints: [],
      endpointsState: "idle",
      endpointsError: undefined,
      addingEndpoint: false,
      async loadEndpoints() {
        const mine = ++generation;
        pending ??= [];
        if (get().endpointsState === "idle" || get().endpointsState === "failed") {
          set({ endpointsState: "loading" });
        }
        try {
          const list = await api.listEndpoints();
          if (mine !== generation) return;
          set({ endpoints: list.data, endpointsState: "ready", endpointsError: undefined });
        } catch (error) {
          if (mine !== generation) return;
          if (isNotFound(error)) set({ endpointsState: "unavailable" });
          else set({ endpointsState: "failed", endpointsError: messageOf(error) });
        } finally {
          if (mine === generation) {
            const replay = pending ?? [];
            pending = undefined;
            for (const change of replay) apply(change);
          }
        }
      },
      async addEndpoint(request) {
        set({ addingEndpoint: true });
        try {
          const endpoint = await api.addEndpoint(request);
          set({ endpoints: [...get().endpoints.filter((e) => e.id !== endpoint.id), endpoint] });
          get().pushBanner("success", `Added ${endpoint.name}`, `endpoint:${request.name}`);
          return null;
        } catch (error) {
          return fieldRefusal(error, requestFields) ?? { message: messageOf(error) };
        } finally {
          set({ addingEndpoint: false });
        }
      },
      async updateEndpoint(id, patch) {
        try {
          const endpoint = await api.updateEndpoint(id, patch);
          set({ endpoints: get().endpoints.map((e) => (e.id === endpoint.id ? endpoint : e)) });
          if (patch.parallel !== undefined)
            get().announce(`${endpoint.name} now takes ${endpoint.parallel} requests at once.`);
          return null;
        } catch (error) {
          return messageOf(error);
        }
      },
      async removeEndpoint(id) {
        const name = get().endpoints.find((e) => e.id === id)?.name ?? id;
        try {
          await api.removeEndpoint(id);
        } catch (error) {
          if (!isNotFound(error)) {
            get().pushBanner("error", messageOf(error));
            return false;
          }
        }
        set({ endpoints: get().endpoints.filter((e) => e.id !== id) });
        get().pushBanner("success", `Removed ${name}`);
        return true;
      },
      endpointNodeUpdated: (node) => apply({ type: "updated", node }),
      endpointNodeRemoved: (id) => apply({ type: "removed", id }),
    };
  };
};

import type { NodeService } from "../nodes/nodeService";
import type { EndpointService } from "./endpointService";

/**
 * The node service as the balancer, `GET /v0/nodes` and metrics see it: workers and endpoints alike.
 * Everything but listing and routing is the workers' (registration, heartbeats, syncs, memory).
 */
export function withEndpoints(
  workers: NodeService,
  endpoints: EndpointService,
  /** The names of the nodes a model is pinned to (its settings); empty: any. Default: none pinned. */
  pinnedNodes: (modelId: string) => readonly string[] = () => [],
): NodeService {
  return {
    ...workers,
    list() {
      const list = workers.list();
      const data = [...list.data, ...endpoints.asNodes()].sort((a, b) => (a.name < b.name ? -1 : 1));
      return { ...list, data };
    },
    routesFor(modelId) {
      const local = workers.routesFor(modelId);
      const external = endpoints.routesFor(modelId);
      const routes = external.length === 0 ? local : [...local, ...external];
      // A worker pinned away unloads the model at its next sync; the pin holds from the next request.
      const pinned = pinnedNodes(modelId);
      return pinned.length === 0 ? routes : routes.filter((route) => pinned.includes(route.name));
    },
  };
}

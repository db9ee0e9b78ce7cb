import type { NodeService } from "../nodes/nodeService";
import type { EndpointService } from "./endpointService";

/**
 * The node service as the balancer, `GET /v0/nodes` and metrics see it: workers and endpoints alike.
 * Everything but listing and routing is the workers' (registration, heartbeats, syncs, memory).
 */
export function withEndpoints(workers: NodeService, endpoints: EndpointService): NodeService {
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
      return external.length === 0 ? local : [...local, ...external];
    },
  };
}

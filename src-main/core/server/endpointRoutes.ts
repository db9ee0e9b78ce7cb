import type { FastifyInstance } from "fastify";
import { endpointCreateRequestSchema, endpointUpdateRequestSchema } from "../../contract";
import { AppError, isAppError } from "../../shared/errors";
import type { EndpointService } from "../endpoints/endpointService";
import type { NodeService } from "../nodes/nodeService";

/** `/v0/endpoints`: OpenAI-compatible servers added as nodes (admin token, like all of /v0). */
export function registerEndpointRoutes(
  app: FastifyInstance,
  endpoints: EndpointService,
  nodes: Pick<NodeService, "list">,
): void {
  /** An endpoint named by a worker node's name is a slip worth naming: the two share one list. */
  async function onEndpoint<T>(ref: string, change: () => T | Promise<T>): Promise<T> {
    try {
      return await change();
    } catch (error) {
      const worker =
        isAppError(error) && error.code === "endpoint.not_found"
          ? nodes
              .list()
              .data.find((node) => node.kind !== "endpoint" && (node.name === ref || node.id === ref))
          : undefined;
      if (!worker) throw error;
      throw new AppError(
        "endpoint.not_found",
        `${worker.name} is a worker node, not an endpoint: \`llmlb node rm ${worker.name}\` (DELETE /v0/nodes/${worker.name}) removes it once it is offline.`,
        { param: "id" },
      );
    }
  }

  app.get("/v0/endpoints", async () => endpoints.list());
  app.post("/v0/endpoints", async (request, reply) => {
    const body = endpointCreateRequestSchema.parse(request.body ?? {});
    return reply.status(201).send(await endpoints.add(body));
  });
  app.patch<{ Params: { ref: string } }>("/v0/endpoints/:ref", async (request) => {
    const patch = endpointUpdateRequestSchema.parse(request.body ?? {});
    return onEndpoint(request.params.ref, () => endpoints.update(request.params.ref, patch));
  });
  app.delete<{ Params: { ref: string } }>("/v0/endpoints/:ref", async (request, reply) => {
    await onEndpoint(request.params.ref, () => endpoints.remove(request.params.ref));
    return reply.status(204).send();
  });
}

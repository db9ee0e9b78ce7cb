import type { FastifyInstance } from "fastify";
import { endpointCreateRequestSchema, endpointUpdateRequestSchema } from "../../contract";
import type { EndpointService } from "../endpoints/endpointService";

/** `/v0/endpoints`: OpenAI-compatible servers added as nodes (admin token, like all of /v0). */
export function registerEndpointRoutes(app: FastifyInstance, endpoints: EndpointService): void {
  app.get("/v0/endpoints", async () => endpoints.list());
  app.post("/v0/endpoints", async (request, reply) => {
    const body = endpointCreateRequestSchema.parse(request.body ?? {});
    return reply.status(201).send(await endpoints.add(body));
  });
  app.patch<{ Params: { ref: string } }>("/v0/endpoints/:ref", async (request) => {
    const patch = endpointUpdateRequestSchema.parse(request.body ?? {});
    return endpoints.update(request.params.ref, patch);
  });
  app.delete<{ Params: { ref: string } }>("/v0/endpoints/:ref", async (request, reply) => {
    endpoints.remove(request.params.ref);
    return reply.status(204).send();
  });
}

import type { FastifyInstance } from "fastify";
import { heartbeatRequestSchema, nodeRegisterRequestSchema } from "../../contract";
import { AppError } from "../../shared/errors";
import { credentialOf } from "../../shared/httpGuards";
import type { RouteOptions } from "./routes";

/** The node protocol: plain HTTP, so a node on another machine speaks it unchanged. */
export function registerNodeRoutes(app: FastifyInstance, options: RouteOptions): void {
  const { nodes } = options;

  app.post("/v0/nodes/register", { config: { access: "join" } }, async (request, reply) => {
    const body = nodeRegisterRequestSchema.parse(request.body ?? {});
    return reply.status(201).send(nodes.register(body));
  });

  app.post<{ Params: { id: string } }>(
    "/v0/nodes/:id/heartbeat",
    { config: { access: "node" } },
    async (request) => {
      const token = credentialOf(request)!;
      if (nodes.nodeForToken(token) !== request.params.id) {
        throw new AppError("auth.invalid_token", "This node token belongs to another node.");
      }
      return nodes.heartbeat(request.params.id, token, heartbeatRequestSchema.parse(request.body ?? {}));
    },
  );

  app.get("/v0/nodes", async () => nodes.list());
}

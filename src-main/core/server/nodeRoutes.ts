import type { FastifyInstance } from "fastify";
import { nodeProtocol } from "../../contract";
import { AppError } from "../../shared/errors";
import { credentialOf } from "../../shared/httpGuards";
import type { RouteOptions } from "./routes";

/** The node protocol's control-plane side (`nodeProtocol`): plain HTTP, so a node on another machine speaks it unchanged. */
export function registerNodeRoutes(app: FastifyInstance, options: RouteOptions): void {
  const { nodes } = options;
  const { register, heartbeat } = nodeProtocol;

  app.route({
    method: register.method,
    url: register.path,
    config: { access: register.access },
    handler: async (request, reply) =>
      reply.status(201).send(nodes.register(register.request.parse(request.body ?? {}))),
  });

  app.route<{ Params: { id: string } }>({
    method: heartbeat.method,
    url: heartbeat.path,
    config: { access: heartbeat.access },
    handler: async (request) => {
      const token = credentialOf(request)!;
      if (nodes.nodeForToken(token) !== request.params.id) {
        throw new AppError("auth.invalid_token", "This node token belongs to another node.");
      }
      return nodes.heartbeat(request.params.id, token, heartbeat.request.parse(request.body ?? {}));
    },
  });

  app.get("/v0/nodes", async () => nodes.list());
}

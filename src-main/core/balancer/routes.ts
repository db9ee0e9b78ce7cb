import type { FastifyInstance } from "fastify";
import type { Balancer } from "./balancer";

/** The OpenAI inference routes, each forwarded to a node that has the requested model ready. */
export function registerBalancedRoutes(app: FastifyInstance, balancer: Balancer): void {
  for (const path of ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]) {
    // Long prompts and many-message chats are bigger than management bodies.
    app.post(path, { bodyLimit: 64 * 1024 * 1024 }, async (request, reply) =>
      balancer.forward(request, reply, path),
    );
  }
}

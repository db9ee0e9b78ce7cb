import type { FastifyInstance } from "fastify";
import { AppError } from "../errors";
import type { Balancer, InferenceBody } from "./balancer";

/** The inference routes (OpenAI's, Anthropic's Messages), each forwarded to a node that has the model ready. */
export function registerBalancedRoutes(app: FastifyInstance, balancer: Balancer): void {
  // A scope of their own: here a JSON body is kept as sent besides being parsed, so nodes get the
  // client's bytes rather than a serialization of them, which also spares the work of one.
  void app.register(async (scope) => {
    const { onProtoPoisoning, onConstructorPoisoning } = scope.initialConfig;
    // Fastify's own JSON parser still judges the body: the same errors, the same poisoning checks.
    const parseJson = scope.getDefaultJsonParser(
      onProtoPoisoning ?? "error",
      onConstructorPoisoning ?? "error",
    );
    scope.removeContentTypeParser("application/json");
    scope.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, raw: Buffer, done) => {
      parseJson(request, raw.toString("utf8"), (error, json) =>
        error ? done(error) : done(null, { raw, json } satisfies InferenceBody),
      );
    });
    for (const path of [
      "/v1/chat/completions",
      "/v1/completions",
      "/v1/embeddings",
      // Anthropic's Messages API, which llmlb's workers serve too.
      "/v1/messages",
      "/v1/messages/count_tokens",
    ]) {
      // Long prompts and many-message chats are bigger than management bodies.
      scope.post(path, { bodyLimit: 64 * 1024 * 1024 }, async (request, reply) => {
        // No Content-Type and no bytes: Fastify runs no parser at all.
        if (request.body === undefined) {
          throw new AppError(
            "request.invalid",
            `${path} needs a JSON body (Content-Type: application/json) naming the model.`,
          );
        }
        return balancer.forward(request, reply, path);
      });
    }
  });
}

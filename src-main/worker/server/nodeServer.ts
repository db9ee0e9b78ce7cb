import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "../../shared/logger";
import { checkHost, credentialOf, sameSecret } from "../../shared/httpGuards";
import { closeConnectionsAsTheyGoIdle } from "../../shared/httpClose";
import { handleError } from "../../shared/httpErrors";
import { AppError } from "../../shared/errors";
import { nodeProtocol } from "../../contract";

export interface NodeServerOptions {
  log: Logger;
  /** Adds the inference routes. */
  registerRoutes?: (app: FastifyInstance) => void;
  /** The node token, once registered: what the control plane calls the node with. */
  nodeToken: () => string | undefined;
  onSync: () => void;
  /** The control plane asks to try a failed model again; answers whether it was failed here. */
  /** Retries a model failed here; resolves once the control plane was told it is on its way again. */
  onRetry?: (model: string) => Promise<boolean>;
  /** Host names accepted besides loopback ones (the name a remote control plane calls it by). Default: none. */
  allowedHosts?: string[];
}

/**
 * The node's own HTTP server, the node protocol's node side (`nodeProtocol`): the control plane
 * checks its health, tells it to sync or retry a model, and sends it inference.
 */
export async function createNodeServer(options: NodeServerOptions): Promise<FastifyInstance> {
  let requests = 0;
  const app = Fastify({
    loggerInstance: options.log.child({ module: "node-http" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // The balancer passes long prompts on (it accepts up to 64 MiB too).
    bodyLimit: 64 * 1024 * 1024,
    // The balancer sends the id its client has: the node's lines for a request carry it as reqId. Only
    // an id of the balancer's shape is taken (anyone may send the header, token or not).
    genReqId: (request) => {
      const given = request.headers["x-request-id"];
      return typeof given === "string" && /^req_[0-9a-f]{32}$/.test(given) ? given : `node-${++requests}`;
    },
  });
  const { health, sync, retry } = nodeProtocol;
  const allowedHosts = (options.allowedHosts ?? []).map((host) => host.toLowerCase());
  app.addHook("onRequest", async (request) => {
    checkHost(request, allowedHosts);
    if (request.url === health.path) return;
    const token = options.nodeToken();
    const given = credentialOf(request);
    // Compared in constant time, as the control plane compares its tokens.
    if (!token || given === undefined || !sameSecret(given, token))
      throw new AppError("auth.missing_token", "This node answers its control plane only.");
  });
  app.setErrorHandler(handleError);
  // Stopping, it lets running requests finish, then closes the balancer's keep-alive connections.
  closeConnectionsAsTheyGoIdle(app);
  app.route({ method: health.method, url: health.path, handler: async () => ({ status: "ok" }) });
  app.route({
    method: sync.method,
    url: sync.path,
    handler: async (_request, reply) => {
      options.onSync();
      return reply.status(204).send();
    },
  });
  app.route({
    method: retry.method,
    url: retry.path,
    handler: async (request) => {
      const { model } = retry.request.parse(request.body ?? {});
      return retry.response.parse({ retried: (await options.onRetry?.(model)) ?? false });
    },
  });
  options.registerRoutes?.(app);
  return app;
}

import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";

/**
 * While the server closes, running requests may finish (the drain), but a client's keep-alive
 * connection that goes idle after that would hold the close up for the keep-alive timeout (72 s):
 * once closing, each connection is closed as soon as its last response has ended.
 */
export function closeConnectionsAsTheyGoIdle(app: FastifyInstance): void {
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.server.on("request", (_request: IncomingMessage, response: ServerResponse) => {
    response.once("finish", () => {
      if (closing) setImmediate(() => app.server.closeIdleConnections());
    });
  });
}

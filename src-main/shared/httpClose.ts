import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";

/**
 * While the server closes, running requests may finish (the drain), but a connection with none would
 * hold the close up: a client's keep-alive connection gone idle (for its keep-alive timeout, 72 s),
 * or one opened just before and never used (Node's own idle closing leaves it, as it would a request
 * still being sent, until the headers timeout). Once closing, each connection is closed as soon as it
 * has no request running: at once for those that have none, else as its last response ends.
 */
export function closeConnectionsAsTheyGoIdle(app: FastifyInstance): void {
  let closing = false;
  /** Each open connection, and the requests running on it. */
  const running = new Map<Socket, number>();
  const closeIfIdle = (socket: Socket) => {
    if (closing && (running.get(socket) ?? 0) === 0) socket.destroy();
  };
  app.server.on("connection", (socket: Socket) => {
    running.set(socket, 0);
    socket.once("close", () => running.delete(socket));
    // Accepted as the server closed: no request of it will be taken.
    closeIfIdle(socket);
  });
  app.server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const { socket } = request;
    running.set(socket, (running.get(socket) ?? 0) + 1);
    // Ended, or cut off (the client left): either way no longer running.
    response.once("close", () => {
      if (!running.has(socket)) return;
      running.set(socket, Math.max(0, running.get(socket)! - 1));
      setImmediate(() => closeIfIdle(socket));
    });
  });
  app.addHook("preClose", async () => {
    closing = true;
    for (const socket of running.keys()) closeIfIdle(socket);
  });
}

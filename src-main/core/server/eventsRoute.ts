import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import type { EventBus } from "../events/eventBus";
import { sseEvent } from "../../shared/sse";

export interface EventsRouteOptions {
  events: EventBus;
  /** A comment line this often keeps proxies and idle timers from closing a quiet stream. Default: 15 s. */
  keepAliveMs?: number;
}

/**
 * `GET /v0/events`: server-sent events, one unnamed message per change, data = a ServerEvent as JSON.
 * The admin token comes as for every /v0 route, as a header (the dashboard reads the stream with fetch).
 */
export function registerEventsRoute(app: FastifyInstance, options: EventsRouteOptions): void {
  const open = new Set<ServerResponse>();
  // Streams never end by themselves: close them so shutting the server down does not wait on them.
  app.addHook("preClose", async () => {
    for (const stream of open) stream.end();
  });

  app.get("/v0/events", async (request, reply) => {
    const stream = reply.raw;
    reply.hijack();
    stream.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    });
    // How long a client's EventSource waits before reconnecting after the server went away.
    stream.write("retry: 2000\n\n");
    open.add(stream);
    const unsubscribe = options.events.subscribe((event) => {
      stream.write(sseEvent(event));
    });
    const keepAlive = setInterval(() => stream.write(": keep-alive\n\n"), options.keepAliveMs ?? 15_000);
    keepAlive.unref();
    request.raw.socket.setTimeout(0);
    stream.once("close", () => {
      clearInterval(keepAlive);
      unsubscribe();
      open.delete(stream);
    });
  });
}

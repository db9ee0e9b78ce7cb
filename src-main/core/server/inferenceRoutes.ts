import type { Logger } from "../../shared/logger";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { viaHeader, type RequestRecord } from "../../contract";
import type { RequestLog } from "../requestLog";
import { anthropicErrorOf, AppError, isAnthropicPath, toHttpError } from "../../shared/errors";
import type { AnswerSink, InferenceBody, InferenceRequest } from "../balancer/answerSink";
import type { Balancer } from "../balancer/balancer";
import type { BalancerMetrics } from "../metrics";
import { namedSseEvent, sseEvent } from "../../shared/sse";
import { errorAnswered } from "../../shared/httpErrors";
import { recordedError } from "../balancer/answerError";

/**
 * Inference requests handed to the balancer, which counts each in the metrics. The others (a body
 * refused before, as malformed JSON or a Responses request that cannot be run) are counted as they
 * are answered (see countRefusedInference).
 */
export const forwarded = new WeakSet<FastifyRequest>();

/** The routes forwarded to nodes as they are: OpenAI's, and Anthropic's Messages API, which workers serve too. */
const balancedRoutes = [
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings",
  "/v1/rerank",
  "/v1/reranking",
  "/v1/messages",
  "/v1/messages/count_tokens",
];

/** The routes whose requests the metrics count: those, and the Responses API's. */
const countedRoutes = new Set([...balancedRoutes, "/v1/responses"]);

/** Whether a request is one the access log writes a line for, however it is answered. */
export function isAccessLogged(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return request.method === "POST" && route !== undefined && countedRoutes.has(route);
}

/**
 * Counts in the metrics, and writes in the access log, an inference request answered without
 * reaching the balancer (refused as it was read: malformed, or without its API key), under no model,
 * as the balancer does a request for a model it does not know: a dashboard of error rates sees these
 * too.
 */
export function countRefusedInference(
  request: FastifyRequest,
  reply: FastifyReply,
  metrics: Pick<BalancerMetrics, "requestDone">,
  requests?: Pick<RequestLog, "record">,
): void {
  const route = request.routeOptions.url;
  if (!isAccessLogged(request) || route === undefined || forwarded.has(request)) return;
  metrics.requestDone("unknown", route, reply.statusCode, reply.elapsedTime / 1000);
  const told = errorAnswered(request);
  const entry: RequestRecord = {
    id: request.id,
    at: new Date().toISOString(),
    client: request.ip,
    model: "unknown",
    path: route,
    status: reply.statusCode,
    ms: Math.round(reply.elapsedTime),
    ...(told ? { error: recordedError(told.code, told.message) } : {}),
  };
  const { id: _id, at: _at, ...line } = entry;
  request.log[reply.statusCode >= 500 ? "warn" : "info"](line, "inference request");
  requests?.record(entry);
}

/** Long prompts and many-message chats are bigger than management bodies. */
export const inferenceBodyLimit = 64 * 1024 * 1024;

/** The inference routes (OpenAI's, Anthropic's Messages), each forwarded to a node that has the model ready. */
export function registerBalancedRoutes(
  app: FastifyInstance,
  balancer: Balancer,
  /** More routes that read the raw body too (the Responses API). */
  more?: (scope: FastifyInstance) => void,
): void {
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
      // A stored response's DELETE, with the header and no body (as openai-python sends it).
      if (request.method === "DELETE" && raw.length === 0) return done(null, undefined);
      parseJson(request, raw.toString("utf8"), (error, json) =>
        error ? done(error) : done(null, { raw, json } satisfies InferenceBody),
      );
    });
    for (const path of balancedRoutes) {
      scope.post(path, { bodyLimit: inferenceBodyLimit }, async (request, reply) => {
        const inference = inferenceRequestOf(request, path);
        forwarded.add(request);
        return balancer.forward(inference, replySink(request, reply));
      });
    }
    more?.(scope);
  });
}

/** What the balancer needs of a Fastify request, its body parsed by the scope above. */
export function inferenceRequestOf(request: FastifyRequest, path: string): InferenceRequest {
  // No Content-Type and no bytes: Fastify runs no parser at all.
  if (request.body === undefined) {
    throw new AppError(
      "request.invalid",
      `${path} needs a JSON body (Content-Type: application/json) naming the model.`,
    );
  }
  const via = request.headers[viaHeader];
  return {
    path,
    body: request.body as InferenceBody,
    accept: request.headers.accept,
    via: typeof via === "string" ? via : undefined,
    log: request.log as Logger,
    client: request.ip,
    id: request.id,
  };
}

/** The client's HTTP response as a balancer's sink: the node's answer goes out as it came. */
export function replySink(request: FastifyRequest, reply: FastifyReply): AnswerSink {
  const client = reply.raw;
  return {
    get gone() {
      return client.destroyed;
    },
    onGone(listener) {
      const onClose = () => client.writableFinished || listener();
      client.once("close", onClose);
      return () => client.off("close", onClose);
    },
    head(status, headers) {
      // A page's request (CORS): the headers set for it so far go out with the node's head.
      if (request.headers.origin !== undefined) {
        for (const [name, value] of Object.entries(reply.getHeaders())) {
          if (value !== undefined) client.setHeader(name, value);
        }
      }
      reply.hijack();
      client.setHeader("x-request-id", request.id);
      if (isAnthropicPath(request.url)) client.setHeader("request-id", request.id);
      client.writeHead(status, headers);
    },
    write: (chunk) => client.write(chunk),
    onDrain: (listener) => client.once("drain", listener),
    taken: () => client.socket?.bytesWritten ?? 0,
    abandon: () => void client.destroy(),
    end: () => client.end(),
    cut(error, streaming) {
      if (!streaming) return void client.destroy();
      const http = toHttpError(error);
      client.end(isAnthropicPath(request.url) ? namedSseEvent(anthropicErrorOf(http)) : sseEvent(http.body));
    },
  };
}

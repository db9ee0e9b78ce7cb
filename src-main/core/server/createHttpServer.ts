import { randomUUID } from "node:crypto";
import fs from "node:fs";
import fastifyCors, { type FastifyCorsOptions } from "@fastify/cors";
import fastifyStatic from "@fastify/static";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from "fastify";
import { AppError, isAnthropicPath, isAppError } from "../../shared/errors";
import { createAuthThrottle } from "./authThrottle";
import type { Logger } from "../../shared/logger";
import type { ModelService } from "../models/modelService";
import type { NodeService } from "../nodes/nodeService";
import type { Balancer } from "../balancer/balancer";
import type { Metrics } from "../metrics";
import { countRefusedInference, isAccessLogged, registerBalancedRoutes } from "./inferenceRoutes";
import { registerResponsesRoutes, type ResponsesRouteOptions } from "./responsesRoutes";
import { errorHandler, handleError } from "../../shared/httpErrors";
import { closeConnectionsAsTheyGoIdle } from "../../shared/httpClose";
import { dashboardLink } from "../../contract/dashboardLink";
import {
  checkAccess,
  credentialOf,
  expiredFormerCookie,
  checkHost,
  type Access,
  type Credentials,
} from "../../shared/httpGuards";
import { registerNodeRoutes, type NodeJoining } from "./nodeRoutes";
import type { EndpointService } from "../endpoints/endpointService";
import { registerEndpointRoutes } from "./endpointRoutes";
import { registerAppRoutes, type AppRouteOptions } from "./appRoutes";
import type { EventBus } from "../events/eventBus";
import { registerEventsRoute } from "./eventsRoute";
import { registerManagementRoutes, registerOpenAiRoutes } from "./routes";
import { registerRequestsRoute } from "./requestsRoute";
import type { RequestLog } from "../requestLog";

export interface HttpServerOptions {
  models: ModelService;
  nodes: NodeService;
  /** OpenAI-compatible servers added as nodes (`/v0/endpoints`). Default: those routes are absent. */
  endpoints?: EndpointService;
  balancer: Balancer;
  /** Where the Responses API keeps responses. */
  responses: Omit<ResponsesRouteOptions, "balancer" | "resolveName">;
  metrics: Metrics;
  /** The latest inference requests (`GET /v0/requests`). Default: none kept, the route absent. */
  requests?: RequestLog;
  /** Status, pause and settings: the app's own routes. */
  app: AppRouteOptions;
  events: EventBus;
  /** How another machine joins (`/v0/nodes/join`). */
  joining: NodeJoining;
  credentials: Credentials;
  log: Logger;
  version: string;
  uptimeSeconds: () => number;
  instanceId: string;
  /** Host header names accepted besides loopback ones. Default: none. */
  allowedHosts?: string[];
  /** Accept any IP address in Host (listening beyond loopback). Default: false. */
  acceptAddresses?: boolean;
  /** Origins whose pages may read /v1 answers (`*` any). Default: none. */
  corsOrigins?: string[];
  /** Largest request body in bytes. Default: 1 MiB. */
  bodyLimitBytes?: number;
  /** The built dashboard, served at `/` when present. Default: none. */
  rendererDir?: string;
}

/** CORS for the OpenAI API only: pages of these origins may call /v1, never /v0. */
function openAiCors(origins: string[]): FastifyCorsOptions {
  const origin = origins.includes("*") ? "*" : origins;
  return {
    delegator: (request, callback) =>
      callback(null, {
        origin: request.url.startsWith("/v1/") ? origin : false,
        methods: ["GET", "POST", "DELETE"],
        // Whatever the page's request carries: the SDKs add their own (`x-stainless-*`, and more with each
        // release), and a header adds no power here: /v1 is open to the origin, and its key is the page's.
        // (Left unset, the preflight answers with the headers it was asked for, as api.openai.com does.)
        maxAge: 600,
      }),
  };
}

/** Who may call a route that does not say: management needs the admin token, the OpenAI API its keys. */
function defaultAccess(route: string): Access {
  if (route.startsWith("/v0")) return "admin";
  if (route.startsWith("/v1") || route === "/metrics") return "api";
  return "public";
}

/** The control plane's HTTP server, as the composition root and tests hold it. */
export type HttpApp = FastifyInstance;

export async function createHttpServer(options: HttpServerOptions): Promise<HttpApp> {
  const app = Fastify({
    loggerInstance: options.log.child({ module: "http" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    // Ids carry '/' percent-encoded; keep it one segment until the route decodes it.
    routerOptions: { maxParamLength: 2048 },
    return503OnClosing: true,
    // Node's own bound on receiving a whole request, which Fastify lifts: a client may not hold a
    // request open unsent for ever (a slow body, a connection kept by a process that sends nothing).
    requestTimeout: 300_000,
    // Sent back as x-request-id (the OpenAI SDKs keep it as the request's id) and logged as reqId: a
    // failed call a user reports can be found in the log. Unique across restarts, unlike a counter.
    genReqId: () => `req_${randomUUID().replaceAll("-", "")}`,
    // Errors Fastify meets before routing (a malformed URL) take the same shape as all others.
    frameworkErrors: (error, request, reply) => handleError(error, request, reply),
  });
  // JSON only: Fastify would also accept text/plain bodies.
  app.removeContentTypeParser("text/plain");
  // A DELETE says Content-Type: application/json with no body where clients set the header on every
  // request (openai-python does): nothing to parse, not an empty JSON body to refuse.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) =>
    request.method === "DELETE" && body === ""
      ? done(null, undefined)
      : parseJson(request, body as string, done),
  );
  closeConnectionsAsTheyGoIdle(app);

  // Before the access check: a 401 a page may read says what is wrong, not just "CORS".
  const corsOrigins = options.corsOrigins ?? [];
  if (corsOrigins.length > 0) await app.register(fastifyCors, openAiCors(corsOrigins));

  const allowedHosts = (options.allowedHosts ?? []).map((host) => host.toLowerCase());
  const throttle = createAuthThrottle();
  app.addHook("onRequest", async (request, reply) => {
    // Nothing of llmlb is to be framed by another page (clickjacking the dashboard's buttons).
    void reply.header("x-request-id", request.id).header("x-frame-options", "DENY");
    // Anthropic's SDKs read the id from their own header (`request_id`, `requestID` on errors).
    if (isAnthropicPath(request.url)) void reply.header("request-id", request.id);
    checkHost(request, allowedHosts, options.acceptAddresses);
    const expired = expiredFormerCookie(request);
    if (expired) void reply.header("set-cookie", expired);
    if (request.method === "GET" && request.url.startsWith("/?")) {
      // An address with ?token=… (printed by earlier versions): the dashboard takes the token from the
      // fragment, which no server or log sees, and keeps it for this origin alone.
      const token = new URLSearchParams(request.url.slice(2)).get("token");
      if (token !== null) {
        checkAccess({ headers: { authorization: `Bearer ${token}` } }, "admin", options.credentials);
        return reply.redirect(dashboardLink("", token), 303);
      }
    }
    // The matched route decides, so no spelling of a path slips past the check; unmatched /v0 paths
    // need the admin token too, so they do not reveal which routes exist.
    const route = request.routeOptions.url ?? request.url.split("?")[0]!.toLowerCase();
    const access = (request.routeOptions.config as { access?: Access } | undefined)?.access;
    checkGuessing(request, access ?? defaultAccess(route));
  });
  /**
   * The access check; on /v1 and /metrics, with wrong API keys counted per address (see
   * createAuthThrottle). Keys are chosen by people, and may be short; the tokens llmlb makes are not
   * guessed, and workers whose token was replaced keep trying theirs until they register again.
   */
  function checkGuessing(request: FastifyRequest, access: Access): void {
    if (access !== "api") return checkAccess(request, access, options.credentials);
    throttle.check(request.ip);
    try {
      checkAccess(request, access, options.credentials);
    } catch (error) {
      const given = credentialOf(request);
      if (isAppError(error) && error.code === "auth.invalid_api_key" && given !== undefined)
        throttle.failed(request.ip, given);
      throw error;
    }
  }

  app.addHook("onResponse", async (request, reply) =>
    countRefusedInference(request, reply, options.metrics, options.requests),
  );
  // An inference request's refusal is said by its access-log line: not a second line too.
  app.setErrorHandler(errorHandler({ accessLogged: isAccessLogged }));
  app.setNotFoundHandler((request) => {
    throw new AppError(
      "request.not_found",
      `Route ${request.method}:${request.url.split("?")[0]} not found.`,
    );
  });

  const routeOptions = {
    models: options.models,
    nodes: options.nodes,
    version: options.version,
    uptimeSeconds: options.uptimeSeconds,
    instanceId: options.instanceId,
  };
  registerManagementRoutes(app, routeOptions);
  registerNodeRoutes(app, routeOptions, options.joining, options.credentials);
  if (options.endpoints) registerEndpointRoutes(app, options.endpoints, routeOptions.nodes);
  registerOpenAiRoutes(app, routeOptions);
  registerAppRoutes(app, options.app);
  registerEventsRoute(app, { events: options.events });
  if (options.requests) registerRequestsRoute(app, options.requests);
  registerBalancedRoutes(app, options.balancer, (scope) =>
    registerResponsesRoutes(scope, {
      balancer: options.balancer,
      resolveName: (name) => options.models.resolveName(name),
      ...options.responses,
    }),
  );
  // Prometheus scrapes without credentials; like /v1/models it is loopback-only by default.
  app.get("/metrics", async (_request, reply) =>
    reply.type(options.metrics.contentType).send(await options.metrics.render()),
  );

  if (options.rendererDir && fs.existsSync(options.rendererDir)) {
    await app.register(fastifyStatic, { root: options.rendererDir, prefix: "/", wildcard: false });
  } else {
    app.get("/", async (_request, reply) =>
      reply.type("text/plain").send("llmlb is running. The dashboard is not built: run `npm run build`.\n"),
    );
  }
  return app;
}

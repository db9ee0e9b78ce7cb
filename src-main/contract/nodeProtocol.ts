import { z } from "zod";
import { manifestSchema, modelListSchema, removedFilesSchema } from "./models";
import {
  heartbeatRequestSchema,
  heartbeatResponseSchema,
  modelRetryRequestSchema,
  nodeLoadRequestSchema,
  nodeLoadResponseSchema,
  nodeRegisterRequestSchema,
  nodeUnloadResponseSchema,
  nodeRegisterResponseSchema,
  nodeRetryResponseSchema,
} from "./nodes";

/**
 * The node protocol's version: what a node and its control plane must share. It changes only with a
 * change to the routes or shapes below that one side's older llmlb cannot take (a field both sides
 * may lack does not change it). A node registers with its own; the control plane refuses one it does
 * not speak (`node.protocol_mismatch`), and a node refuses a control plane that speaks another.
 * Absent from either side's messages: 1, the version llmlbs older than the field speak.
 */
export const nodeProtocolVersion = 1;

/** What a control plane or node whose messages do not say their protocol speaks. */
export const protocolOf = (said: number | undefined): number => said ?? 1;

interface ProtocolSide {
  /** How the message names it: "This node", "this control plane". */
  who: string;
  /** Its llmlb's version, where it said it. */
  version: string | undefined;
  protocol: number;
}

/**
 * Why a node and its control plane cannot work together, as either side says it (`other` first):
 * both llmlbs and both protocols, and the way out.
 */
export function protocolMismatch(other: ProtocolSide, own: ProtocolSide): string {
  const runs = (side: ProtocolSide) =>
    side.version === undefined ? "an llmlb that does not say its version" : `llmlb ${side.version}`;
  return `${other.who} runs ${runs(other)}, which speaks node protocol ${other.protocol}; ${own.who} runs ${runs(own)}, which speaks ${own.protocol}. Run the same llmlb on both machines.`;
}

/**
 * Who may call a node-protocol route: anyone (health checks), the token that lets nodes join, a
 * registered node's own token, the admin token or a node's (listings), or the control plane (which
 * calls a node with that node's token).
 */
export type NodeRouteAccess = "public" | "join" | "node" | "admin-or-node" | "control-plane";

export interface NodeRoute {
  method: "GET" | "POST";
  /** Fastify's form: `:id` for a parameter (filled in, percent-encoded, by `nodeRoutePath`). */
  path: string;
  access: NodeRouteAccess;
  /** The body's schema; absent: no body. */
  request?: z.ZodType;
  /** The answer's schema; absent: no body (204). */
  response?: z.ZodType;
}

/**
 * The node protocol, declared once: what a node asks the control plane (register, heartbeat, the
 * registry, a model's manifest) and what the control plane asks a node (health, sync, retry, load,
 * unload). The
 * control plane's routes, the worker's client and server, and the sync push all read it, so a route
 * renamed or reshaped here is a type error wherever it is used.
 */
export const nodeProtocol = {
  // A node → the control plane.
  register: {
    method: "POST",
    path: "/v0/nodes/register",
    access: "join",
    request: nodeRegisterRequestSchema,
    response: nodeRegisterResponseSchema,
  },
  heartbeat: {
    method: "POST",
    path: "/v0/nodes/:id/heartbeat",
    access: "node",
    request: heartbeatRequestSchema,
    response: heartbeatResponseSchema,
  },
  /** Also a management route: the admin token reads it too. */
  listModels: { method: "GET", path: "/v0/models", access: "admin-or-node", response: modelListSchema },
  manifest: {
    method: "GET",
    path: "/v0/models/registry/:id/manifest.json",
    access: "admin-or-node",
    response: manifestSchema,
  },
  /** What a node may delete of its downloads (absent from older control planes: then it deletes none). */
  removedFiles: {
    method: "GET",
    path: "/v0/removed-files",
    access: "admin-or-node",
    response: removedFilesSchema,
  },
  // The control plane → a node (and the control plane's own health, which nodes answer alike).
  health: {
    method: "GET",
    path: "/v0/health",
    access: "public",
    // The control plane says more (its version, uptime, models): this much every node says.
    response: z.object({ status: z.literal("ok") }).passthrough(),
  },
  sync: { method: "POST", path: "/v0/sync", access: "control-plane" },
  retry: {
    method: "POST",
    path: "/v0/retry",
    access: "control-plane",
    request: modelRetryRequestSchema,
    response: nodeRetryResponseSchema,
  },
  /** Answers once the model is loaded (a first load on a GPU may take minutes), or failed to. */
  load: {
    method: "POST",
    path: "/v0/load",
    access: "control-plane",
    // `ttl` only where asked: an older worker refuses the field (and says so).
    request: nodeLoadRequestSchema,
    response: nodeLoadResponseSchema,
  },
  unload: {
    method: "POST",
    path: "/v0/unload",
    access: "control-plane",
    request: modelRetryRequestSchema,
    response: nodeUnloadResponseSchema,
  },
} as const satisfies Record<string, NodeRoute>;

export type NodeProtocol = typeof nodeProtocol;
export type NodeRouteName = keyof NodeProtocol;
/** What a route's request carries. */
export type NodeRouteRequest<R extends NodeRoute> = R["request"] extends z.ZodType
  ? z.input<R["request"]>
  : undefined;
/** What a route answers. */
export type NodeRouteAnswer<R extends NodeRoute> = R["response"] extends z.ZodType
  ? z.output<R["response"]>
  : undefined;

/** A route's path with its parameters filled in (`:id` → the percent-encoded id). */
export function nodeRoutePath(route: NodeRoute, params: Record<string, string> = {}): string {
  return route.path.replace(/:([a-z]+)/gi, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`${route.path} needs ${name}`);
    return encodeURIComponent(value);
  });
}

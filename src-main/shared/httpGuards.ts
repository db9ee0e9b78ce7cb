import crypto from "node:crypto";
import net from "node:net";
import type { FastifyRequest } from "fastify";
import { AppError } from "./errors";

/** Whether a host name or address is this machine's loopback. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The host name of a Host header: `localhost:8080` → localhost, `[::1]:8080` → ::1. */
export function hostNameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader);
  if (bracketed) return bracketed[1]!.toLowerCase();
  const match = /^([^:]+)(?::\d+)?$/.exec(hostHeader);
  return match ? match[1]!.toLowerCase() : undefined;
}

/**
 * Only loopback names and addresses (and configured extras) may appear in Host: a page on another
 * origin that rebinds its DNS name to 127.0.0.1 still sends its own name, and is refused.
 */
export function checkHost(
  request: FastifyRequest,
  allowedHosts: readonly string[],
  /** Listening beyond loopback: clients name the machine by its addresses, which no DNS can rebind. */
  acceptAddresses = false,
): void {
  const host = hostNameOf(request.headers.host);
  if (host && (isLoopbackHost(host) || host.endsWith(".localhost") || allowedHosts.includes(host))) return;
  if (host && acceptAddresses && net.isIP(host) !== 0) return;
  throw new AppError("auth.forbidden_host", `Host "${request.headers.host ?? ""}" is not allowed.`);
}

/**
 * The cookie earlier versions kept the admin token in. Browsers send a 127.0.0.1 cookie to every port
 * there, so another local server received the token: it is no credential now, and is expired.
 */
const formerAdminCookie = "llmlb_admin";

/** A `Set-Cookie` that expires the former admin cookie, for a request that still carries it. */
export function expiredFormerCookie(request: Pick<FastifyRequest, "headers">): string | undefined {
  return request.headers.cookie?.includes(`${formerAdminCookie}=`)
    ? `${formerAdminCookie}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict`
    : undefined;
}

/** Whether two secrets are equal, in a time that does not tell how much of them matched. */
export function sameSecret(given: string, expected: string): boolean {
  const a = crypto.createHash("sha256").update(given).digest();
  const b = crypto.createHash("sha256").update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

/**
 * The credential a request carries: `Authorization: Bearer …` (CLI, nodes, scripts, OpenAI SDKs, the
 * dashboard) or `x-api-key` (Anthropic's SDKs and Claude Code). Never a cookie: no other site's page
 * can make a browser send either, so no change can be forged from one.
 */
export function credentialOf(request: Pick<FastifyRequest, "headers">): string | undefined {
  const authorization = request.headers.authorization;
  // The scheme name is case-insensitive (RFC 9110).
  const bearer = /^bearer /i.test(authorization ?? "") ? authorization!.slice(7).trim() : undefined;
  const apiKey = request.headers["x-api-key"];
  return bearer ?? (typeof apiKey === "string" && apiKey !== "" ? apiKey : undefined);
}

/** Who may call a route. */
export type Access =
  | "public"
  /** The admin token. */
  | "admin"
  /** The admin token or any registered node's token (model listings and manifests). */
  | "admin-or-node"
  /** A registered node's token (heartbeats; the route checks it is that node's). */
  | "node"
  /**
   * The admin token, the node token that lets nodes join, or a node's own token (a worker started
   * again registers with the token it was given last; the route checks the name is that node's).
   */
  | "join"
  /** One of the API keys, or the admin token; anyone when no API key is configured (/v1, /metrics). */
  | "api";

export interface Credentials {
  adminToken: string;
  /** Whether a worker may join with this secret (the node token, or this llmlb's own workers'). */
  acceptsJoin(given: string): boolean;
  apiKeys: readonly string[];
  nodeForToken(token: string): string | undefined;
}

export function checkAccess(
  request: Pick<FastifyRequest, "headers">,
  access: Access,
  credentials: Credentials,
): void {
  // Without API keys /v1 is open: nothing to read or hash on the proxy's hot path.
  if (access === "public" || (access === "api" && credentials.apiKeys.length === 0)) return;
  const given = credentialOf(request);
  const isAdmin = given !== undefined && sameSecret(given, credentials.adminToken);
  if (access === "api") {
    if (isAdmin) return;
    if (given !== undefined && credentials.apiKeys.some((key) => sameSecret(given, key))) return;
    throw new AppError(
      "auth.invalid_api_key",
      given === undefined
        ? "This server needs an API key: send Authorization: Bearer <key> or x-api-key: <key> (in the OpenAI and Anthropic SDKs, api_key)."
        : "The API key is not valid for this server.",
    );
  }
  const allowed =
    given !== undefined &&
    (access === "admin"
      ? isAdmin
      : access === "join"
        ? isAdmin || credentials.acceptsJoin(given) || credentials.nodeForToken(given) !== undefined
        : access === "admin-or-node"
          ? isAdmin || credentials.nodeForToken(given) !== undefined
          : credentials.nodeForToken(given) !== undefined);
  if (allowed) return;
  const needed =
    access === "node"
      ? "a node token"
      : access === "join"
        ? "the admin token or the node token"
        : "the admin token";
  throw new AppError(
    given === undefined ? "auth.missing_token" : "auth.invalid_token",
    given === undefined
      ? `This endpoint needs ${needed}: send Authorization: Bearer <token> (tokens are in the data directory).`
      : `The token is not valid for this endpoint (it needs ${needed}).`,
  );
}

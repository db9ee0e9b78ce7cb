import type { FastifyInstance } from "fastify";
import {
  nodeDrainRequestSchema,
  nodeProtocol,
  nodeRemoveQuerySchema,
  type NodeJoinInfo,
  type NodeRemoved,
} from "../../contract";
import { AppError } from "../../shared/errors";
import { checkAccess, credentialOf, type Credentials } from "../../shared/httpGuards";
import type { RouteOptions } from "./routes";

/** How another machine joins: what `GET /v0/nodes/join` shows, and a new node token. */
export interface NodeJoining {
  info(): NodeJoinInfo;
  /** A new node token (refused where the configuration sets it), and how to join with it. */
  replaceToken(): NodeJoinInfo;
}

/** The node protocol's control-plane side (`nodeProtocol`): plain HTTP, so a node on another machine speaks it unchanged. */
export function registerNodeRoutes(
  app: FastifyInstance,
  options: RouteOptions,
  joining: NodeJoining,
  credentials: Credentials,
): void {
  const { nodes } = options;
  const { register, heartbeat } = nodeProtocol;

  app.route({
    method: register.method,
    url: register.path,
    config: { access: register.access },
    handler: async (request, reply) => {
      const body = register.request.parse(request.body ?? {});
      // Checked again now that the body is in: a body sent slowly may outlast a new node token, or the
      // removal of the node whose own token this is. Nothing awaits between this and the registration.
      checkAccess(request, register.access, credentials);
      return reply.status(201).send(nodes.register(body, credentialOf(request)!));
    },
  });

  app.route<{ Params: { id: string } }>({
    method: heartbeat.method,
    url: heartbeat.path,
    config: { access: heartbeat.access },
    handler: async (request) => {
      const token = credentialOf(request)!;
      if (nodes.nodeForToken(token) !== request.params.id) {
        throw new AppError("auth.invalid_token", "This node token belongs to another node.");
      }
      return nodes.heartbeat(request.params.id, token, heartbeat.request.parse(request.body ?? {}));
    },
  });

  app.get("/v0/nodes", async () => nodes.list());

  // Admin only (the default for /v0): the node token, and the command that joins another machine.
  app.get("/v0/nodes/join", async (): Promise<NodeJoinInfo> => joining.info());
  app.post("/v0/nodes/join/token", async (): Promise<NodeJoinInfo> => joining.replaceToken());

  // Admin only (the default for /v0). Out of rotation for maintenance, or back: HAProxy's drain.
  app.put<{ Params: { ref: string } }>("/v0/nodes/:ref/draining", async (request) => {
    const { draining } = nodeDrainRequestSchema.parse(request.body ?? {});
    try {
      return nodes.setDraining(request.params.ref, draining);
    } catch (error) {
      throw endpointInstead(
        request.params.ref,
        error,
        (name) =>
          `${name} is an endpoint: only worker nodes are drained. To send it nothing, remove it (\`llmlb endpoint rm ${name}\`), or pin models to other nodes (\`llmlb model set <id> --nodes <names>\`).`,
      );
    }
  });

  // Admin only (the default for /v0). A worker node that is gone for good (retired, renamed), or, with
  // force, one whose machine is to be kept out (its token stops working at once).
  app.delete<{ Params: { ref: string } }>("/v0/nodes/:ref", async (request): Promise<NodeRemoved> => {
    const { ref } = request.params;
    const force = nodeRemoveQuerySchema.parse(request.query ?? {}).force === "true";
    try {
      const removed = nodes.remove(ref, { force });
      const pinned = options.models.pinnedTo(removed.name);
      return pinned.length > 0 ? { ...removed, pinned_models: pinned } : removed;
    } catch (error) {
      throw endpointInstead(
        ref,
        error,
        (name) =>
          `${name} is an endpoint: remove it with \`llmlb endpoint rm ${name}\` (DELETE /v0/endpoints/${name}).`,
      );
    }
  });

  /**
   * Endpoints are listed as nodes, but added, removed and routed to as endpoints: a worker node's
   * `not_found` for one of them says so (`node.is_endpoint`, in `words` of its name); any other error
   * is as it was.
   */
  function endpointInstead(ref: string, error: unknown, words: (name: string) => string): unknown {
    const endpoint =
      error instanceof AppError && error.code === "node.not_found"
        ? nodes.list().data.find((node) => node.kind === "endpoint" && (node.id === ref || node.name === ref))
        : undefined;
    return endpoint ? new AppError("node.is_endpoint", words(endpoint.name), { param: "id" }) : error;
  }
}

import {
  errorBodySchema,
  nodeProtocol,
  nodeRoutePath,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type Manifest,
  type Model,
  type NodeRegisterRequest,
  type NodeRegisterResponse,
  type NodeRoute,
  type NodeRouteAnswer,
  type NodeRouteRequest,
} from "../contract";
import type { KeptNodeToken } from "./keptNodeToken";

/** A refusal by the control plane, with its status (404 on a heartbeat means: register again) and code. */
export class ControlPlaneError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export interface ControlPlaneClient {
  register(request: NodeRegisterRequest): Promise<NodeRegisterResponse>;
  heartbeat(nodeId: string, beat: HeartbeatRequest): Promise<HeartbeatResponse>;
  /** Every registered model (all pages). */
  listModels(): Promise<Model[]>;
  manifest(modelId: string): Promise<Manifest>;
  /**
   * The files removed models left unused (sha256): what this node may delete of its downloads.
   * Undefined from a control plane older than this route: then it deletes none.
   */
  removedFiles(): Promise<ReadonlySet<string> | undefined>;
}

interface CallOptions<R extends NodeRoute> {
  params?: Record<string, string>;
  query?: Record<string, string | number>;
  body?: NodeRouteRequest<R>;
}

/**
 * The node protocol over HTTP (`nodeProtocol`): the join token to register, then the node's own token.
 * With `kept`, the token of the worker's last registration registers it first, where it still works.
 */
export function createControlPlaneClient(
  baseUrl: string,
  joinToken: string,
  kept?: KeptNodeToken,
): ControlPlaneClient {
  let nodeToken: string | undefined;

  async function call<R extends NodeRoute>(
    route: R,
    token: string,
    options: CallOptions<R> = {},
  ): Promise<NodeRouteAnswer<R>> {
    const query = options.query
      ? `?${new URLSearchParams(Object.entries(options.query).map(([name, value]) => [name, String(value)]))}`
      : "";
    const response = await fetch(baseUrl + nodeRoutePath(route, options.params) + query, {
      method: route.method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    const json = (await response.json().catch(() => undefined)) as unknown;
    if (!response.ok) {
      const parsed = errorBodySchema.safeParse(json);
      throw new ControlPlaneError(
        response.status,
        parsed.success ? parsed.data.error.message : `HTTP ${response.status}`,
        parsed.success ? (parsed.data.error.code ?? null) : null,
      );
    }
    return route.response?.parse(json) as NodeRouteAnswer<R>;
  }

  const asNode = () => {
    if (!nodeToken) throw new ControlPlaneError(401, "not registered yet");
    return nodeToken;
  };

  return {
    async register(request) {
      const own = kept?.read();
      let answer: NodeRegisterResponse | undefined;
      if (own) {
        try {
          answer = await call(nodeProtocol.register, own, { body: request });
        } catch (error) {
          // Removed there, or another control plane: the join token, as at a first start.
          if (!(error instanceof ControlPlaneError && error.status === 401)) throw error;
          kept!.forget();
        }
      }
      answer ??= await call(nodeProtocol.register, joinToken, { body: request });
      nodeToken = answer.node_token;
      kept?.write(answer.node_token);
      return answer;
    },
    heartbeat: (nodeId, beat) =>
      call(nodeProtocol.heartbeat, asNode(), { params: { id: nodeId }, body: beat }),
    async listModels() {
      const models: Model[] = [];
      for (let offset = 0; ; offset += 1000) {
        const page = await call(nodeProtocol.listModels, asNode(), { query: { limit: 1000, offset } });
        models.push(...page.data);
        if (models.length >= page.total || page.data.length === 0) return models;
      }
    },
    manifest: (modelId) => call(nodeProtocol.manifest, asNode(), { params: { id: modelId } }),
    async removedFiles() {
      try {
        return new Set((await call(nodeProtocol.removedFiles, asNode())).sha256);
      } catch (error) {
        // An older control plane: no such route (404, or 401 where it asks the admin token of a
        // route it does not know).
        if (error instanceof ControlPlaneError && (error.status === 404 || error.status === 401))
          return undefined;
        throw error;
      }
    },
  };
}

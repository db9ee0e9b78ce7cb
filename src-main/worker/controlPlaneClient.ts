import {
  errorBodySchema,
  heartbeatResponseSchema,
  manifestSchema,
  modelListSchema,
  nodeRegisterResponseSchema,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type Manifest,
  type Model,
  type NodeRegisterRequest,
  type NodeRegisterResponse,
} from "../contract";

/** A refusal by the control plane, with its status (404 on a heartbeat means: register again). */
export class ControlPlaneError extends Error {
  constructor(
    readonly status: number,
    message: string,
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
}

/** The node protocol over HTTP: the join token to register, then the node's own token. */
export function createControlPlaneClient(baseUrl: string, joinToken: string): ControlPlaneClient {
  let nodeToken: string | undefined;

  async function call(method: string, path: string, token: string, body?: unknown): Promise<unknown> {
    const response = await fetch(baseUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    const json = (await response.json().catch(() => undefined)) as unknown;
    if (!response.ok) {
      const parsed = errorBodySchema.safeParse(json);
      throw new ControlPlaneError(
        response.status,
        parsed.success ? parsed.data.error.message : `HTTP ${response.status}`,
      );
    }
    return json;
  }

  const asNode = () => {
    if (!nodeToken) throw new ControlPlaneError(401, "not registered yet");
    return nodeToken;
  };

  return {
    async register(request) {
      const answer = nodeRegisterResponseSchema.parse(
        await call("POST", "/v0/nodes/register", joinToken, request),
      );
      nodeToken = answer.node_token;
      return answer;
    },
    async heartbeat(nodeId, beat) {
      return heartbeatResponseSchema.parse(
        await call("POST", `/v0/nodes/${encodeURIComponent(nodeId)}/heartbeat`, asNode(), beat),
      );
    },
    async listModels() {
      const models: Model[] = [];
      for (let offset = 0; ; offset += 1000) {
        const page = modelListSchema.parse(
          await call("GET", `/v0/models?limit=1000&offset=${offset}`, asNode()),
        );
        models.push(...page.data);
        if (models.length >= page.total || page.data.length === 0) return models;
      }
    },
    async manifest(modelId) {
      return manifestSchema.parse(
        await call("GET", `/v0/models/registry/${encodeURIComponent(modelId)}/manifest.json`, asNode()),
      );
    },
  };
}

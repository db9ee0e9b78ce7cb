import type { Endpoint, EndpointCreateRequest, EndpointList, ErrorBody } from "../src-main/contract";
import type { EndpointUpdateRequest } from "../src-main/contract";
import type { Alias, Model, ModelList, ModelRetryResponse, ModelSettingsPatch } from "../src-main/contract";
import type { ModelLoadResponse, ModelUnloadResponse, RequestList } from "../src-main/contract";
import type { NodeInfo, NodeJoinInfo, NodeList, NodeRemoved, RegisterResponse } from "../src-main/contract";
import type { QuitResponse, Settings, SettingsUpdate, Status } from "../src-main/contract";
import type { ChatMessage } from "../src-main/contract";
import type { BuildGpu, GpuBuildStatus } from "../src-main/contract";
import { truncatedMessagesHeader } from "../src-main/contract/headers";
import { requestListPath, type RequestFilter } from "../src-main/contract/requestRecords";
import { readChatStream, StreamedError, type ChatStreamOutcome } from "../src-main/shared/chatStream";
import { authorization, type AdminToken } from "./adminToken";

/**
 * A refusal from the server, with its HTTP status, namespaced code (`registry.duplicate`, …) and the
 * request field it is about, when it names one (`param`: `port`, `hub_cache_dir`, …).
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** A call that reached no server: llmlb is not running (or not at this address). */
export const SERVER_UNREACHABLE = "Can't reach the llmlb server. Is it still running?";

/** The code of a chat whose stream broke after it began (llmlb stopped, the network dropped). */
export const STREAM_CUT_OFF = "stream.cut_off";

/**
 * A 401 about the admin token (`auth.*`), not one the hub gave about the Hugging Face token
 * (`hub.unauthorized`, for a gated repo).
 */
export function isTokenRefusal(status: number, code: string | null | undefined): boolean {
  return status === 401 && (!code || code.startsWith("auth."));
}

/** True when the server does not know the route: an older server without that feature. */
export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}

/** Everything the dashboard asks the control plane; tests hand the store a fake one. */
export interface Api {
  listModels(): Promise<ModelList>;
  register(input: string): Promise<RegisterResponse>;
  removeModel(name: string): Promise<void>;
  /** Changes a model's settings (`null` puts one back to its default); answers the model as it is now. */
  updateModelSettings(name: string, settings: ModelSettingsPatch): Promise<Model>;
  addAlias(model: string, alias: string): Promise<Alias>;
  removeAlias(alias: string): Promise<Alias>;
  /** Tries a model again on every node where it failed or crashed the worker. */
  retryModel(name: string): Promise<ModelRetryResponse>;
  /** The latest inference requests asked for, newest first (those before the request `before`, where given). */
  listRequests(asked?: RequestFilter & { before?: string }): Promise<RequestList>;
  /** Loads a model into one worker node's memory now; answered once loaded, or why not. */
  loadModel(name: string, node: string): Promise<ModelLoadResponse>;
  /** Frees the memory a model holds on one worker node (it loads again at its next request there). */
  unloadModel(name: string, node: string): Promise<ModelUnloadResponse>;
  listNodes(): Promise<NodeList>;
  /**
   * Removes an offline worker node for good, or with `force` an online one (its token stops working);
   * refused (409) for one online without it, one of this llmlb's own that runs, or an endpoint.
   */
  removeNode(id: string, force?: boolean): Promise<NodeRemoved>;
  /** Takes a worker node out of rotation (its running requests finish), or puts it back. */
  setNodeDraining(id: string, draining: boolean): Promise<NodeInfo>;
  /** The node token and the command that joins another machine with it. */
  nodeJoin(): Promise<NodeJoinInfo>;
  /** A new node token: the old one lets no machine in any more. */
  replaceNodeToken(): Promise<NodeJoinInfo>;
  status(): Promise<Status>;
  setServing(paused: boolean): Promise<Status>;
  settings(): Promise<Settings>;
  updateSettings(update: SettingsUpdate): Promise<Settings>;
  listEndpoints(): Promise<EndpointList>;
  addEndpoint(request: EndpointCreateRequest): Promise<Endpoint>;
  /** Changes an endpoint (how many requests it gets at once); answers it as it is now. */
  updateEndpoint(id: string, patch: EndpointUpdateRequest): Promise<Endpoint>;
  removeEndpoint(id: string): Promise<void>;
  /** Quits llmlb: it drains, then exits (see `Status.can_quit`). */
  quit(): Promise<QuitResponse>;
  /** Building llama.cpp for this machine's GPU: where it stands, start one, cancel it. */
  gpuBuild(): Promise<GpuBuildStatus>;
  startGpuBuild(gpu: BuildGpu): Promise<GpuBuildStatus>;
  cancelGpuBuild(): Promise<GpuBuildStatus>;
  /**
   * A streamed chat completion on /v1, as any OpenAI client sends it: each piece of text goes to
   * `onText` as it comes. Resolves when the answer is complete (or `signal` stopped it).
   */
  chat(
    request: ChatRequest,
    onText: (text: string) => void,
    signal?: AbortSignal,
    /** The model's reasoning, where its server streams it apart from the answer (an endpoint's). */
    onReasoning?: (text: string) => void,
  ): Promise<ChatOutcome>;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  /** Each answer token's log probability, with this many likeliest alternatives. */
  logprobs?: boolean;
  top_logprobs?: number;
  /** llmlb's own: what a conversation that outgrows the context does (an endpoint's server may refuse it). */
  context_overflow?: "truncate_oldest";
}

/** `finishReason` is null when the stream ended without one (stopped). */
export interface ChatOutcome extends Omit<ChatStreamOutcome, "complete"> {
  /** The oldest messages the server left out to fit the model's context. */
  truncatedMessages?: number;
}

async function request<T>(
  token: AdminToken,
  onTokenRefused: (() => void) | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        ...authorization(token),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(SERVER_UNREACHABLE, 0);
  }
  if (response.status === 204) return undefined as T;
  const json = (await response.json().catch(() => undefined)) as unknown;
  if (!response.ok) {
    const error = (json as Partial<ErrorBody> | undefined)?.error;
    if (isTokenRefusal(response.status, error?.code)) onTokenRefused?.();
    throw new ApiError(
      error?.message ?? `The server answered ${response.status} ${response.statusText}.`.replace(" .", "."),
      response.status,
      error?.code ?? null,
      error?.param ?? null,
    );
  }
  return json as T;
}

/**
 * The one module that calls `fetch` (but for the event stream's reader). `onTokenRefused`: a /v0 call
 * was answered 401, the admin token sent is not (or no longer) the one llmlb takes.
 */
export function createHttpApi(token: AdminToken, onTokenRefused?: () => void): Api {
  const call = <T>(method: string, path: string, body?: unknown) =>
    request<T>(token, onTokenRefused, method, path, body);
  return {
    // The dashboard keeps the whole list live and filters it locally: every page of it (1000 is the
    // server's page limit), or a registry past it would read short and its search miss models.
    async listModels() {
      // A registry that changes between two pages shifts the later ones: read again (a few times at
      // most; the event stream brings what changes after).
      for (let attempt = 1; ; attempt++) {
        const first = await call<ModelList>("GET", "/v0/models?limit=1000");
        const byName = new Map(first.data.map((model) => [model.name, model]));
        let changed = false;
        for (let offset = first.data.length; offset < first.total && !changed;) {
          const page = await call<ModelList>("GET", `/v0/models?limit=1000&offset=${offset}`);
          changed = page.total !== first.total;
          if (page.data.length === 0) break;
          for (const model of page.data) byName.set(model.name, model);
          offset += page.data.length;
        }
        if (changed && attempt < 3) continue;
        const data = [...byName.values()];
        return { ...first, limit: data.length, data };
      }
    },
    register: (input) => call("POST", "/v0/models/register", { url: input }),
    removeModel: (name) => call("DELETE", `/v0/models/${encodeURIComponent(name)}`),
    updateModelSettings: (name, settings) =>
      call("PATCH", `/v0/models/${encodeURIComponent(name)}`, { settings }),
    addAlias: (model, alias) => call("POST", "/v0/aliases", { alias, model }),
    removeAlias: (alias) => call("DELETE", `/v0/aliases/${encodeURIComponent(alias)}`),
    retryModel: (name) => call("POST", "/v0/models/retry", { model: name }),
    listRequests: (asked = {}) => call("GET", requestListPath(asked)),
    loadModel: (name, node) => call("POST", "/v0/models/load", { model: name, node }),
    unloadModel: (name, node) => call("POST", "/v0/models/unload", { model: name, node }),
    listNodes: () => call("GET", "/v0/nodes"),
    removeNode: (id, force = false) =>
      call("DELETE", `/v0/nodes/${encodeURIComponent(id)}${force ? "?force=true" : ""}`),
    setNodeDraining: (id, draining) =>
      call("PUT", `/v0/nodes/${encodeURIComponent(id)}/draining`, { draining }),
    nodeJoin: () => call("GET", "/v0/nodes/join"),
    replaceNodeToken: () => call("POST", "/v0/nodes/join/token"),
    status: () => call("GET", "/v0/status"),
    setServing: (paused) => call("PUT", "/v0/serving", { paused }),
    settings: () => call("GET", "/v0/settings"),
    updateSettings: (update) => call("PUT", "/v0/settings", update),
    listEndpoints: () => call("GET", "/v0/endpoints"),
    addEndpoint: (request) => call("POST", "/v0/endpoints", request),
    updateEndpoint: (id, patch) => call("PATCH", `/v0/endpoints/${encodeURIComponent(id)}`, patch),
    removeEndpoint: (id) => call("DELETE", `/v0/endpoints/${encodeURIComponent(id)}`),
    quit: () => call("POST", "/v0/quit"),
    gpuBuild: () => call("GET", "/v0/gpu/build"),
    startGpuBuild: (gpu) => call("POST", "/v0/gpu/build", { gpu }),
    cancelGpuBuild: () => call("DELETE", "/v0/gpu/build"),
    async chat(request, onText, signal, onReasoning) {
      let response: Response;
      try {
        response = await fetch("/v1/chat/completions", {
          method: "POST",
          headers: { ...authorization(token), "content-type": "application/json" },
          body: JSON.stringify({ ...request, stream: true, stream_options: { include_usage: true } }),
          signal,
        });
      } catch {
        if (signal?.aborted) return { finishReason: null, completionTokens: undefined };
        throw new ApiError(SERVER_UNREACHABLE, 0);
      }
      if (!response.ok || !response.body) {
        const error = ((await response.json().catch(() => undefined)) as Partial<ErrorBody> | undefined)
          ?.error;
        throw new ApiError(
          error?.message ?? `The server answered ${response.status}.`,
          response.status,
          error?.code ?? null,
        );
      }
      const truncatedMessages = Number(response.headers.get(truncatedMessagesHeader) ?? 0);
      try {
        // The playground shows what came, however the stream ended.
        const { complete: _, ...outcome } = await readChatStream(response.body, onText, onReasoning);
        return { ...outcome, truncatedMessages };
      } catch (error) {
        if (signal?.aborted) return { finishReason: null, completionTokens: undefined };
        if (error instanceof StreamedError) throw new ApiError(error.message, 0, error.code);
        // The browser says only "network error": what the user needs is that the answer is incomplete.
        throw new ApiError(
          "The answer was cut off: llmlb or the connection stopped before it was complete.",
          0,
          STREAM_CUT_OFF,
        );
      }
    },
  };
}

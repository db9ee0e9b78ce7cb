import type { Endpoint, EndpointCreateRequest, EndpointList, ErrorBody } from "../src-main/contract";
import type { ModelList, NodeList, RegisterResponse } from "../src-main/contract";
import type { QuitResponse, Settings, SettingsUpdate, Status } from "../src-main/contract";

/** A refusal from the server, with its HTTP status and namespaced code (`registry.duplicate`, …). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
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
  listNodes(): Promise<NodeList>;
  status(): Promise<Status>;
  setServing(paused: boolean): Promise<Status>;
  settings(): Promise<Settings>;
  updateSettings(update: SettingsUpdate): Promise<Settings>;
  listEndpoints(): Promise<EndpointList>;
  addEndpoint(request: EndpointCreateRequest): Promise<Endpoint>;
  removeEndpoint(id: string): Promise<void>;
  /** Quits llmlb: it drains, then exits (see `Status.can_quit`). */
  quit(): Promise<QuitResponse>;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    // Same origin as the API: the admin token rides along as an HttpOnly cookie.
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError("Can't reach the llmlb server. Is it still running?", 0);
  }
  if (response.status === 204) return undefined as T;
  const json = (await response.json().catch(() => undefined)) as unknown;
  if (!response.ok) {
    const error = (json as Partial<ErrorBody> | undefined)?.error;
    throw new ApiError(
      error?.message ?? `The server answered ${response.status} ${response.statusText}.`.replace(" .", "."),
      response.status,
      error?.code ?? null,
    );
  }
  return json as T;
}

/** The one module that calls `fetch`. */
export function createHttpApi(): Api {
  return {
    // 1000 is the server's page limit; the dashboard keeps the whole list live and filters locally.
    listModels: () => call("GET", "/v0/models?limit=1000"),
    register: (input) => call("POST", "/v0/models/register", { url: input }),
    removeModel: (name) => call("DELETE", `/v0/models/${encodeURIComponent(name)}`),
    listNodes: () => call("GET", "/v0/nodes"),
    status: () => call("GET", "/v0/status"),
    setServing: (paused) => call("PUT", "/v0/serving", { paused }),
    settings: () => call("GET", "/v0/settings"),
    updateSettings: (update) => call("PUT", "/v0/settings", update),
    listEndpoints: () => call("GET", "/v0/endpoints"),
    addEndpoint: (request) => call("POST", "/v0/endpoints", request),
    removeEndpoint: (id) => call("DELETE", `/v0/endpoints/${encodeURIComponent(id)}`),
    quit: () => call("POST", "/v0/quit"),
  };
}

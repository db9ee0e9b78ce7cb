import type { ErrorBody, ModelList, RegisterResponse } from "../src-main/contract";

/** The one module that talks to the control plane; the admin cookie rides along. */
async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return undefined as T;
  const json = (await response.json().catch(() => undefined)) as unknown;
  if (!response.ok) {
    const message =
      (json as ErrorBody | undefined)?.error?.message ?? `The server answered ${response.status}.`;
    throw new Error(message);
  }
  return json as T;
}

export const api = {
  listModels: (search = "") =>
    call<ModelList>("GET", `/v0/models?limit=1000${search ? `&search=${encodeURIComponent(search)}` : ""}`),
  register: (url: string) => call<RegisterResponse>("POST", "/v0/models/register", { url }),
  remove: (id: string) => call<void>("DELETE", `/v0/models/${encodeURIComponent(id)}`),
};

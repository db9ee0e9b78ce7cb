import { AppError } from "../../shared/errors";

function invalid(message: string): AppError {
  return new AppError("input.invalid", message, { param: "url" });
}

/**
 * An endpoint's base URL as stored and shown: http(s), no credentials, query or fragment, ending in
 * `/v1` without a trailing slash (`http://host:8000/` → `http://host:8000/v1`, `…/openai/v1/` →
 * `…/openai/v1`). Credentials belong in `api_key`, where they are never shown again.
 */
export function normalizeEndpointUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw invalid(`${JSON.stringify(input)} is not a URL.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid(`The endpoint URL must be http or https, not ${url.protocol.replace(/:$/, "")}.`);
  }
  if (url.username || url.password) {
    throw invalid("The endpoint URL must not carry credentials: pass the key as api_key instead.");
  }
  if (url.search || url.hash || input.includes("?") || input.includes("#")) {
    throw invalid("The endpoint URL must not have a query or a fragment.");
  }
  const path = url.pathname.replace(/\/+$/, "");
  return `${url.origin}${path.endsWith("/v1") ? path : `${path}/v1`}`;
}

/**
 * What the balancer prefixes to an OpenAI path (`/v1/chat/completions`) to reach the endpoint: its
 * base URL without the final `/v1`.
 */
export function routeBaseOf(endpointUrl: string): string {
  return endpointUrl.slice(0, -"/v1".length);
}

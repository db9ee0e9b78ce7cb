import {
  type EndpointCreateRequest,
  type EndpointUpdateRequest,
  endpointListSchema,
  endpointSchema,
  modelListSchema,
} from "../contract";
import { CliError, noAnswer, type ApiClient, serverJson } from "./apiClient";
import { formatTable, summarizeNames } from "./format";
import type { Output } from "./modelCommands";

function modelSummary(models: string[]): string {
  return models.length === 0 ? "no models" : summarizeNames(models);
}

const atOnce = (parallel: number) => `${parallel} request${parallel === 1 ? "" : "s"} at once`;

export async function addEndpoint(
  client: ApiClient,
  name: string,
  url: string,
  options: { apiKey?: string; parallel?: number },
  io: Output,
): Promise<void> {
  const request: EndpointCreateRequest = {
    name,
    url,
    ...(options.apiKey ? { api_key: options.apiKey } : {}),
    ...(options.parallel !== undefined ? { parallel: options.parallel } : {}),
  };
  const endpoint = await client.request(endpointSchema, "POST", "/v0/endpoints", request);
  io.out(
    `Added endpoint ${endpoint.name} (${endpoint.url}), ${endpoint.models.length} model(s): ${modelSummary(endpoint.models)}; ${atOnce(endpoint.parallel)}`,
  );
  // A model registered here under the same id is now shared with the endpoint: worth knowing, and undoing.
  const served = new Set(endpoint.models);
  if (served.size === 0) return;
  const registered = await client.request(modelListSchema, "GET", "/v0/models?limit=1000");
  for (const model of registered.data) {
    if (model.source === "endpoint" || !served.has(model.name)) continue;
    // Pinned to other nodes: none of its requests go to this endpoint.
    const pin = model.settings.nodes;
    if (pin.length > 0 && !pin.includes(endpoint.name)) continue;
    io.err(
      `note: ${model.name} is registered here too: its requests are now shared between its workers and ${endpoint.name} (\`llmlb model set ${model.name} --nodes <names>\` keeps them on some).`,
    );
  }
}

/**
 * `llmlb endpoint set`: changes what an endpoint takes, where it is, or its key (`false`: none); the
 * requests it runs now finish as they are.
 */
export async function setEndpoint(
  client: ApiClient,
  ref: string,
  options: { parallel?: number; baseUrl?: string; apiKey?: string | false },
  io: Output,
): Promise<void> {
  const patch: EndpointUpdateRequest = {
    ...(options.parallel !== undefined && { parallel: options.parallel }),
    ...(options.baseUrl !== undefined && { url: options.baseUrl }),
    ...(options.apiKey !== undefined && { api_key: options.apiKey === false ? null : options.apiKey }),
  };
  if (Object.keys(patch).length === 0)
    throw new CliError("Nothing to change: give --parallel, --base-url, --api-key or --no-api-key.");
  const endpoint = await client.request(
    endpointSchema,
    "PATCH",
    `/v0/endpoints/${encodeURIComponent(ref)}`,
    patch,
  );
  if (patch.url !== undefined || patch.api_key !== undefined)
    io.out(
      `Endpoint ${endpoint.name} answered at ${endpoint.url} (${endpoint.has_api_key ? "with" : "without"} an API key), ${endpoint.models.length} model(s): ${modelSummary(endpoint.models)}.`,
    );
  if (patch.parallel !== undefined)
    io.out(
      `Endpoint ${endpoint.name} now gets ${atOnce(endpoint.parallel)} (running requests finish as they are).`,
    );
}

export async function listEndpoints(
  client: ApiClient,
  options: { json?: boolean },
  io: Output,
): Promise<void> {
  const list = await client.request(endpointListSchema, "GET", "/v0/endpoints");
  if (options.json) {
    io.out(JSON.stringify(serverJson(list), null, 2));
    return;
  }
  if (list.data.length === 0) {
    io.out("No endpoints. Add an OpenAI-compatible server with: llmlb endpoint add <name> <url>");
    return;
  }
  io.out(
    formatTable(
      ["NAME", "STATUS", "MODELS", "PARALLEL", "API KEY", "URL"],
      list.data.map((endpoint) => [
        endpoint.name,
        endpoint.status,
        String(endpoint.models.length),
        String(endpoint.parallel),
        endpoint.has_api_key ? "yes" : "no",
        endpoint.url,
      ]),
    ),
  );
  // Why an endpoint is offline is a sentence: below the table, one per line.
  for (const endpoint of list.data) {
    if (endpoint.status === "offline" && endpoint.last_error) {
      io.out(`${endpoint.name}: ${endpoint.last_error}`);
    }
  }
}

export async function removeEndpoint(client: ApiClient, ref: string, io: Output): Promise<void> {
  // Named as a person knows it, even when removed by its id.
  const list = await client.request(endpointListSchema, "GET", "/v0/endpoints");
  const endpoint =
    list.data.find((entry) => entry.id === ref) ?? list.data.find((entry) => entry.name === ref);
  await client.request(noAnswer, "DELETE", `/v0/endpoints/${encodeURIComponent(ref)}`);
  io.out(endpoint ? `Removed endpoint ${endpoint.name} (${endpoint.url})` : `Removed endpoint ${ref}`);
  if (!endpoint) return;
  // A model pinned to it is served nowhere now: said, as `llmlb node rm` says it.
  const registered = await client.request(modelListSchema, "GET", "/v0/models?limit=1000");
  const pinned = registered.data
    .filter((model) => model.source !== "endpoint" && model.settings.nodes.includes(endpoint.name))
    .map((model) => model.name);
  if (pinned.length > 0)
    io.err(
      `warning: the pin of ${summarizeNames(pinned)} still names ${endpoint.name}: pin ${pinned.length === 1 ? "it" : "them"} anew (llmlb model set <id> --nodes <names>, or --nodes any).`,
    );
}

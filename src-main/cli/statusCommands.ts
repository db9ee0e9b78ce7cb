import { nodeListSchema, statusSchema, type LoadedModel } from "../contract";
import { dashboardLink } from "../contract/dashboardLink";
import { formatDuration } from "../contract/units";
import { modelStateText } from "../core/models/describeState";
import { CliError, type ApiClient, serverJson } from "./apiClient";
import type { Output } from "./modelCommands";
import { backendsLeftOut, notServing } from "./nodeCommands";

/** `llmlb status`: where the server is, whether it serves, what is loaded where, and what waits. */
export async function showStatus(client: ApiClient, options: { json?: boolean }, io: Output): Promise<void> {
  const status = await client.request(statusSchema, "GET", "/v0/status");
  const nodes = await client.request(nodeListSchema, "GET", "/v0/nodes");
  if (options.json) {
    io.out(
      JSON.stringify(
        {
          ...(serverJson(status) as object),
          url: client.url,
          nodes: (serverJson(nodes) as { data: unknown }).data,
        },
        null,
        2,
      ),
    );
    return;
  }
  io.out(`llmlb ${status.version} at ${client.url} (up ${formatDuration(status.uptime_seconds)})`);
  io.out(`  OpenAI API: ${client.url}/v1${status.api_key_required ? " (needs an API key)" : ""}`);
  io.out(`  Serving:    ${status.paused ? "paused (`llmlb resume` to serve again)" : "yes"}`);
  // Registered here, and served by endpoints: what /v1/models lists.
  io.out(`  Models:     ${status.models.total}, ${status.models.ready} ready`);
  io.out(`  Nodes:      ${status.nodes.online} online, ${status.nodes.total - status.nodes.online} offline`);
  // Online, but passed over while others can take its requests: one failed there, and it has not answered since.
  const failing = notServing(nodes.data, ["failing"]);
  if (failing.length > 0) io.out(`  Failing:    ${failing[0]}`);
  for (const line of failing.slice(1)) io.out(`              ${line}`);
  // Kept across restarts: a drain forgotten after maintenance would go on taking capacity unseen.
  const drained = nodes.data.filter((node) => node.drained).map((node) => node.name);
  if (drained.length > 0)
    io.out(
      `  Drained:    ${drained.join(", ")} (no new requests; \`llmlb node undrain <name>\` puts one back)`,
    );
  const leftOut = backendsLeftOut(nodes.data);
  if (leftOut.length > 0) io.out(`  Left out:   ${leftOut[0]}`);
  for (const line of leftOut.slice(1)) io.out(`              ${line}`);
  // What `model show` says of each download under way, here too: a big first download is what a
  // new user waits on.
  const downloads = nodes.data.flatMap((node) =>
    node.models
      .filter((model) => model.state === "downloading" || model.state === "verifying")
      .map(
        (model) =>
          `${node.name}: ${model.model} ${modelStateText({ ...model, node_id: node.id, node_name: node.name, node_status: node.status })}`,
      ),
  );
  if (downloads.length > 0) io.out(`  Downloads:  ${downloads[0]}`);
  for (const line of downloads.slice(1)) io.out(`              ${line}`);
  const loaded = nodes.data.flatMap((node) =>
    node.loaded.map((entry) =>
      entry.loading_since
        ? `${node.name}: ${entry.model} (loading for ${formatDuration((Date.now() - Date.parse(entry.loading_since)) / 1000)}; requests wait)`
        : `${node.name}: ${entry.model} (${entry.busy}/${entry.sequences} sequences busy${untilText(entry)})`,
    ),
  );
  io.out(`  Loaded:     ${loaded.length === 0 ? "none" : loaded[0]}`);
  for (const line of loaded.slice(1)) io.out(`              ${line}`);
  const queues = status.queues.filter((queue) => queue.in_flight > 0 || queue.waiting > 0);
  const queueLines = queues.map(
    (queue) => `${queue.model}: ${queue.in_flight} running, ${queue.waiting} waiting`,
  );
  io.out(`  Requests:   ${queueLines.length === 0 ? "none running" : queueLines[0]}`);
  for (const line of queueLines.slice(1)) io.out(`              ${line}`);
}

/** When a loaded model leaves memory: once its requests end (asked to), or after its idle time. */
function untilText(entry: LoadedModel): string {
  if (entry.unloading) return "; unloads once they end";
  if (entry.idle_until === undefined) return "";
  const seconds = (Date.parse(entry.idle_until) - Date.now()) / 1000;
  return `; unloads in ${formatDuration(Math.max(0, seconds))} unless a request comes`;
}

/** `llmlb pause` / `llmlb resume`: inference answers 503 while paused; management keeps working. */
export async function setServing(client: ApiClient, paused: boolean, io: Output): Promise<void> {
  await client.request(statusSchema, "PUT", "/v0/serving", { paused });
  io.out(
    paused
      ? "Serving paused: /v1 requests get 503 until `llmlb resume` (or until llmlb restarts)."
      : "Serving resumed.",
  );
}

/**
 * `llmlb dashboard`: the running server's dashboard link, token in its fragment (what `llmlb serve`
 * printed at start), once the server has taken the token.
 */
export async function showDashboardLink(client: ApiClient, io: Output): Promise<void> {
  await client.request(statusSchema, "GET", "/v0/status");
  if (client.token === undefined)
    throw new CliError(`No admin token for ${client.url}: give it with --token.`);
  io.out(dashboardLink(client.url, client.token));
}

import {
  backendNames,
  type NodeList,
  healthSchema,
  nodeJoinInfoSchema,
  nodeListSchema,
  nodeRemovedSchema,
  nodeSchema,
} from "../contract";
import { type ApiClient, serverJson } from "./apiClient";
import { formatBytes, formatTable, summarizeNames } from "./format";
import type { Output } from "./modelCommands";

/**
 * "Vulkan (vm-cpu0): <why>", once per backend and reason: the GPU backends the device probes of the
 * online nodes' machines left out (every worker of a machine reports the same).
 */
export function backendsLeftOut(nodes: NodeList["data"]): string[] {
  const seen = new Map<string, { names: string[]; line: (names: string) => string }>();
  for (const node of nodes.filter((candidate) => candidate.status === "online")) {
    for (const { backend, reason } of node.backends_left_out) {
      const key = `${backend}\n${reason}`;
      const entry = seen.get(key) ?? {
        names: [],
        line: (names) => `${backendNames[backend]} (${names}): ${reason}`,
      };
      entry.names.push(node.name);
      seen.set(key, entry);
    }
  }
  return [...seen.values()].map((entry) => entry.line(entry.names.join(", ")));
}

/** "gpu-1 (failing): <why>", for each node that does not take requests now and `states` names. */
export function notServing(nodes: NodeList["data"], states: ("failing" | "offline")[]): string[] {
  return nodes.flatMap(({ name, health }) =>
    health.state !== "ok" && states.includes(health.state)
      ? [`${name} (${health.state}): ${health.reason}`]
      : [],
  );
}

/** "gpu-box-cuda0 runs llmlb 0.9.0", for each online worker whose llmlb is not `server`'s. */
export function otherVersions(nodes: NodeList["data"], server: string): string[] {
  return nodes.flatMap(({ name, status, llmlb_version }) =>
    status === "online" && llmlb_version !== undefined && llmlb_version !== server
      ? [`${name} runs llmlb ${llmlb_version}`]
      : [],
  );
}

export async function listNodes(client: ApiClient, options: { json?: boolean }, io: Output): Promise<void> {
  const nodes = await client.request(nodeListSchema, "GET", "/v0/nodes");
  if (options.json) {
    io.out(JSON.stringify(serverJson(nodes), null, 2));
    return;
  }
  if (nodes.data.length === 0) {
    io.out("No nodes. `llmlb serve` starts one per GPU (or one CPU worker) unless --workers none.");
    return;
  }
  io.out(
    formatTable(
      ["NAME", "BACKEND", "LLAMA.CPP", "DEVICES", "MEMORY FREE/TOTAL", "STATUS", "MODELS READY", "URL"],
      nodes.data.map((node) => [
        node.name,
        node.backend,
        // Known once the worker has loaded llama.cpp (with its first model).
        node.llama_cpp
          ? `${node.llama_cpp.release} (${node.llama_cpp.build === "local" ? "built here" : "prebuilt"})`
          : "-",
        node.devices.map((device) => device.name).join("; ") || "-",
        // An endpoint does not say what memory it has.
        node.memory.total_bytes > 0
          ? `${formatBytes(node.memory.free_bytes)} / ${formatBytes(node.memory.total_bytes)}`
          : "-",
        // Online, but passed over since a request failed there: why is said below the table.
        node.health.state === "failing"
          ? "failing"
          : node.status === "online" && node.drained
            ? "drained"
            : node.status === "online" && node.draining
              ? "stopping"
              : node.status,
        // What an offline node last said is not what it has ready now: nothing is.
        node.status === "online"
          ? `${node.models.filter((m) => m.state === "ready").length}/${node.models.length}`
          : `0/${node.models.length}`,
        node.url,
      ]),
    ),
  );
  const idle = notServing(nodes.data, ["failing", "offline"]);
  if (idle.length > 0) {
    io.out("");
    io.out("Failing or offline:");
    for (const line of idle) io.out(`  ${line}`);
  }
  const leftOut = backendsLeftOut(nodes.data);
  if (leftOut.length > 0) {
    io.out("");
    io.out("GPU backends left out:");
    for (const line of leftOut) io.out(`  ${line}`);
  }
  const { version } = await client.request(healthSchema, "GET", "/v0/health");
  const others = otherVersions(nodes.data, version);
  if (others.length > 0) {
    io.out("");
    io.out(`Another llmlb than this server's (${version}); run one llmlb on every machine:`);
    for (const line of others) io.out(`  ${line}`);
  }
}

/**
 * `llmlb node rm`: an offline worker node, gone for good (the server refuses an online one, and says
 * why), or with `--force` an online one whose machine is to be kept out.
 */
export async function removeNode(
  client: ApiClient,
  ref: string,
  options: { force?: boolean },
  io: Output,
): Promise<void> {
  const removed = await client.request(
    nodeRemovedSchema,
    "DELETE",
    `/v0/nodes/${encodeURIComponent(ref)}${options.force ? "?force=true" : ""}`,
  );
  const models =
    removed.models.length === 0
      ? ""
      : ` and the states it reported for ${removed.models.length} model(s): ${summarizeNames(removed.models)}`;
  io.out(`Removed node ${removed.name} (${removed.url})${models}`);
  if (removed.was_online)
    io.err(
      `note: ${removed.name} was online: its token no longer works, but its machine still has the node token it joined with, and joins again with it unless that was replaced before this removal. To keep it out: \`llmlb node token --replace\`, then remove it again.`,
    );
  const pinned = removed.pinned_models ?? [];
  if (pinned.length > 0)
    io.err(
      `warning: the pin of ${summarizeNames(pinned)} still names ${removed.name}: pin ${pinned.length === 1 ? "it" : "them"} anew (llmlb model set <id> --nodes <names>, or --nodes any).`,
    );
}

/** `llmlb node drain|undrain <name>`: out of rotation for maintenance, or back. */
export async function drainNode(
  client: ApiClient,
  ref: string,
  draining: boolean,
  io: Output,
): Promise<void> {
  const node = await client.request(nodeSchema, "PUT", `/v0/nodes/${encodeURIComponent(ref)}/draining`, {
    draining,
  });
  const busy = node.loaded.reduce((sum, entry) => sum + entry.busy, 0);
  io.out(
    draining
      ? `Drained ${node.name}: nothing new goes to it${busy > 0 ? `; ${busy} running request(s) finish there` : ""}. \`llmlb node undrain ${node.name}\` puts it back.`
      : `${node.name} is back in rotation.`,
  );
}

/** `llmlb node token [--replace]`: the node token, and the command that joins another machine with it. */
export async function showJoin(
  client: ApiClient,
  options: { replace?: boolean; json?: boolean },
  io: Output,
): Promise<void> {
  const join = options.replace
    ? await client.request(nodeJoinInfoSchema, "POST", "/v0/nodes/join/token")
    : await client.request(nodeJoinInfoSchema, "GET", "/v0/nodes/join");
  if (options.json) {
    io.out(JSON.stringify(serverJson(join), null, 2));
    return;
  }
  if (options.replace)
    io.out(
      "Replaced the node token. Machines already joined stay; new ones need this token. `llmlb node rm --force <name>` removes one to keep out.",
    );
  io.out(`Node token: ${join.node_token}`);
  if (join.unreachable) {
    io.out(`No other machine can join yet. ${join.unreachable}`);
    return;
  }
  io.out(join.commands.length === 1 ? "On the other machine, run:" : "On the other machine, run one of:");
  for (const { command } of join.commands) io.out(`  ${command}`);
}

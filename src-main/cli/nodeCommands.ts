import type { NodeList } from "../contract";
import type { ApiClient } from "./apiClient";
import { formatBytes, formatTable } from "./format";
import type { Output } from "./modelCommands";

export async function listNodes(client: ApiClient, options: { json?: boolean }, io: Output): Promise<void> {
  const nodes = await client.request<NodeList>("GET", "/v0/nodes");
  if (options.json) {
    io.out(JSON.stringify(nodes, null, 2));
    return;
  }
  if (nodes.data.length === 0) {
    io.out("No nodes. `llmlb serve` starts one per GPU (or one CPU worker) unless --workers none.");
    return;
  }
  io.out(
    formatTable(
      ["NAME", "BACKEND", "DEVICES", "MEMORY FREE/TOTAL", "STATUS", "MODELS READY", "URL"],
      nodes.data.map((node) => [
        node.name,
        node.backend,
        node.devices.map((device) => device.name).join("; ") || "-",
        // An endpoint does not say what memory it has.
        node.memory.total_bytes > 0
          ? `${formatBytes(node.memory.free_bytes)} / ${formatBytes(node.memory.total_bytes)}`
          : "-",
        node.status,
        `${node.models.filter((m) => m.state === "ready").length}/${node.models.length}`,
        node.url,
      ]),
    ),
  );
}

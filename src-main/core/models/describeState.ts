import type { ModelOnNode } from "../../contract";
import { formatBytes, formatDuration } from "../../contract/units";

/** One node's state of a model in a few words: `ready`, `downloading 45% (1.2 GB/2.7 GB, 30 MB/s, 50 s left)`. */
export function modelStateText(node: ModelOnNode): string {
  if (node.node_status === "offline") return `${node.state} (node offline)`;
  if (node.state === "error" && node.crashed) return "crashed";
  if (node.state === "error" && node.waits_for_retry) return "error, waits for a retry";
  if (node.state === "pending" && node.queued_behind) return `queued after ${node.queued_behind}'s download`;
  if (node.state === "pending" && node.waiting_for) return `waiting for ${node.waiting_for}`;
  if (node.state !== "downloading") return node.state;
  const percent = node.bytes_total > 0 ? Math.floor((node.bytes_done / node.bytes_total) * 100) : 0;
  const speed = node.bytes_per_second > 0 ? `, ${formatBytes(node.bytes_per_second)}/s` : "";
  const left =
    node.bytes_per_second > 0
      ? `, ${formatDuration((node.bytes_total - node.bytes_done) / node.bytes_per_second)} left`
      : "";
  const interrupted =
    node.interrupted !== undefined ? `, interrupted: ${node.interrupted}; trying again` : "";
  const restarted = node.restarted !== undefined ? `, begun again from the start: ${node.restarted}` : "";
  return `downloading ${percent}% (${formatBytes(node.bytes_done)}/${formatBytes(node.bytes_total)}${speed}${left}${interrupted}${restarted})`;
}

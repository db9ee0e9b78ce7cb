import type { ModelOnNode } from "../../contract";

/** Bytes as people read them: 1.2 GB, 830 MB, 512 B (decimal units, as disks and the hub count). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function duration(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** One node's state of a model in a few words: `ready`, `downloading 45% (1.2 GB/2.7 GB, 30 MB/s, 50 s left)`. */
export function modelStateText(node: ModelOnNode): string {
  if (node.node_status === "offline") return `${node.state} (node offline)`;
  if (node.state !== "downloading") return node.state;
  const percent = node.bytes_total > 0 ? Math.floor((node.bytes_done / node.bytes_total) * 100) : 0;
  const speed = node.bytes_per_second > 0 ? `, ${formatBytes(node.bytes_per_second)}/s` : "";
  const left =
    node.bytes_per_second > 0
      ? `, ${duration((node.bytes_total - node.bytes_done) / node.bytes_per_second)} left`
      : "";
  return `downloading ${percent}% (${formatBytes(node.bytes_done)}/${formatBytes(node.bytes_total)}${speed}${left})`;
}

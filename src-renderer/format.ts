import type { Artifact, Model, NodeInfo } from "../src-main/contract";

/** Bytes as people read them: 1.2 GB, 830 MB, 512 B (decimal units, as disks and the hub count; as the CLI). */
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

/** A span in the largest unit that reads well: 45 s, 12 min, 1.5 h. */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.ceil(seconds))} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
export function formatAgo(iso: string, now: number): string {
  const seconds = (now - Date.parse(iso)) / 1000;
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 45) return "just now";
  return `${formatDuration(seconds)} ago`;
}

export function percentOf(done: number, total: number): number {
  return total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
}

const backendLabels: Record<NodeInfo["backend"], string> = {
  cuda: "CUDA",
  metal: "Metal",
  vulkan: "Vulkan",
  cpu: "CPU",
  external: "External",
};

export function backendLabel(backend: NodeInfo["backend"]): string {
  return backendLabels[backend] ?? backend;
}

/** "1 model", "3 models". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** The size of what a node downloads for `filename`: the whole set when it is one part of a split GGUF. */
export function artifactSize(model: Model, artifact: Artifact): number {
  if (!artifact.split_group) return artifact.size_bytes;
  return model.artifacts
    .filter((a) => a.split_group === artifact.split_group)
    .reduce((sum, a) => sum + a.size_bytes, 0);
}

export function findArtifact(model: Model, filename: string | null | undefined): Artifact | undefined {
  return filename ? model.artifacts.find((a) => a.filename === filename) : undefined;
}

/** The name of a file without its folders. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

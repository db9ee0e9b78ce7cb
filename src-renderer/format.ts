import type { NodeInfo } from "../src-main/contract";
import { formatDuration } from "../src-main/contract/units";

// The dashboard states sizes and times as the CLI and the API do.
export { formatBytes, formatDuration } from "../src-main/contract/units";
export { artifactSize, findArtifact, repoFilesText, servedArtifact } from "../src-main/contract/modelFiles";

/** "just now" (or `recent`: what under 45 s reads as), "5 min ago", "3 h ago", "2 days ago". */
export function formatAgo(iso: string, now: number, recent = "just now"): string {
  const seconds = (now - Date.parse(iso)) / 1000;
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 45) return recent;
  return `${formatDuration(seconds)} ago`;
}

/**
 * `12:04:31` (`12:04` without seconds) in the browser's time, with the day before it when that is not
 * today.
 */
export function clockTime(iso: string, now = new Date(), seconds = true): string {
  const at = new Date(iso);
  const time = at.toLocaleTimeString(undefined, {
    hourCycle: "h23",
    hour: "2-digit",
    minute: "2-digit",
    ...(seconds && { second: "2-digit" }),
  });
  if (at.toDateString() === now.toDateString()) return time;
  return `${at.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${time}`;
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

/** The name of a file without its folders. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * How sizes and spans of time read wherever the product states them: the API's messages, the CLI and
 * the dashboard, so a download reads the same in all three. Pure functions, safe for the renderer.
 */

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

/** A request's time, to the millisecond under a second: 830 ms, 1.53 s, 12.4 s. */
export function formatMilliseconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** A span in the largest unit that reads well: 45 s, 12 min, 1.5 h, 3 days. */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.ceil(seconds))} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

import fs from "node:fs/promises";
import { formatBytes } from "../../contract/units";
import { DownloadError, makeRoom } from "./errors";

/**
 * Fails before a byte is fetched when the disk holding `folder` has less free space than what is left
 * of the file to download: hours of a download of tens of gigabytes that could never finish are not
 * spent finding out. Where the free space cannot be read, the download goes on (a full disk still
 * stops it, as `disk_full`, when it comes).
 */
export async function ensureRoom(
  folder: string,
  bytesLeft: number,
  file: string,
  where: string,
): Promise<void> {
  let free: number;
  try {
    const stats = await fs.statfs(folder);
    free = stats.bavail * stats.bsize;
  } catch {
    return;
  }
  if (free >= bytesLeft) return;
  throw new DownloadError(
    "disk_full",
    `${file} needs ${formatBytes(bytesLeft)} more on the disk holding ${where}, which has ${formatBytes(free)} free. ${makeRoom}`,
    { retryable: false },
  );
}

import fs from "node:fs/promises";
import path from "node:path";
import { formatBytes } from "../../contract/units";
import { downloadsAhead, type BlobLock } from "./blobLock";
import { partialFiles, repoOfFolder } from "../../shared/hfCachePaths";
import { DownloadError, makeRoom } from "./errors";

/** A download into the same cache that started first, and what it has still to write. */
export interface DownloadAhead {
  repo: string;
  bytesLeft: number;
}

/**
 * The downloads under way into the cache at `cacheRoot` that took their lock before `lock`, and the
 * bytes each has still to write to disk: its file's size less what its partial already holds.
 */
export async function downloadsAheadOf(cacheRoot: string, lock: BlobLock): Promise<DownloadAhead[]> {
  const ahead = await downloadsAhead(cacheRoot, lock);
  return Promise.all(
    ahead.map(async ({ lockPath, size }) => {
      const files = partialFiles(lockPath.replace(/\.lock$/, ""));
      // What is on disk: a partial in pieces may be sparse, so its blocks, not its length.
      const written = await Promise.all(
        [files.partial, files.pieces].map((file) =>
          fs.stat(file).then(
            (stat) => stat.blocks * 512,
            () => 0,
          ),
        ),
      );
      return {
        repo: repoOfFolder(path.basename(path.dirname(path.dirname(lockPath)))),
        bytesLeft: Math.max(0, size - written[0]! - written[1]!),
      };
    }),
  );
}

/**
 * Fails before a byte is fetched when the disk holding `folder` has less free space than what is left
 * of the file to download, once the downloads `ahead` of it into the same cache have what they still
 * need: hours of a download of tens of gigabytes that could never finish are not spent finding out, and
 * two that fit only one at a time do not both fill the disk halfway. Where the free space cannot be
 * read, the download goes on (a full disk still stops it, as `disk_full`, when it comes).
 */
export async function ensureRoom(
  folder: string,
  bytesLeft: number,
  file: string,
  where: string,
  ahead: DownloadAhead[] = [],
): Promise<void> {
  // All there (a resumed download that only has to be checked): nothing to make room for.
  if (bytesLeft <= 0) return;
  let free: number;
  try {
    const stats = await fs.statfs(folder);
    free = stats.bavail * stats.bsize;
  } catch {
    return;
  }
  const claimed = ahead.reduce((sum, download) => sum + download.bytesLeft, 0);
  if (free - claimed >= bytesLeft) return;
  const others =
    claimed > 0
      ? `, ${formatBytes(claimed)} of it for the download${ahead.length > 1 ? "s" : ""} of ${[
          ...new Set(ahead.map((download) => download.repo)),
        ].join(", ")} under way into the same cache`
      : "";
  throw new DownloadError(
    "disk_full",
    `${file} needs ${formatBytes(bytesLeft)} more on the disk holding ${where}, which has ${formatBytes(free)} free${others}. ${makeRoom}`,
    { retryable: false },
  );
}

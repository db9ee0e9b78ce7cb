/** Whether a file is already complete in the cache, whoever put it there (us, huggingface-cli, …). */
import fs from "node:fs/promises";
import type { CachePaths } from "../../shared/hfCachePaths";
import { snapshotMatches } from "./snapshotLink";
import type { DownloadRequest } from "./types";
import { validateCacheEntry } from "./validateRequest";

/**
 * A complete copy of the file: the blob with the right size, else a snapshot entry that is a regular file
 * of the right size (huggingface_hub moves the blob there when it cannot symlink). Size is the check; the
 * hash was verified by whoever wrote it, and re-hashing gigabytes on every start would be too slow.
 */
export async function completeCopy(paths: CachePaths, size: number): Promise<string | undefined> {
  if (await isFileOfSize(paths.blob, size, "stat")) return paths.blob;
  if (await isFileOfSize(paths.snapshot, size, "lstat")) return paths.snapshot;
  return undefined;
}

async function isFileOfSize(file: string, size: number, how: "stat" | "lstat"): Promise<boolean> {
  try {
    const stat = await fs[how](file);
    return stat.isFile() && stat.size === size;
  } catch {
    return false;
  }
}

/** Where a file of a repo lives in the cache, and whether it is complete there. */
export async function cachedSnapshotPath(
  cacheDir: string,
  request: Pick<DownloadRequest, "repo" | "commit" | "filename" | "sha256" | "size">,
): Promise<string | undefined> {
  const paths = validateCacheEntry(cacheDir, request);
  return (await snapshotMatches(paths.snapshot, paths.blob, request.size)) ? paths.snapshot : undefined;
}

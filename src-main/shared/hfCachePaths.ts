/**
 * Where things live in the Hugging Face cache, exactly as huggingface_hub lays it out:
 * `models--org--name/{blobs/<sha256>, snapshots/<commit>/<filename>, refs/<revision>}`.
 * Pure path arithmetic; callers validate the inputs first (see validateRequest.ts).
 */
import path from "node:path";

export interface CachePaths {
  /** The cache root, absolute. */
  root: string;
  repoDir: string;
  blob: string;
  /**
   * huggingface_hub's name for a partial blob, a prefix of it, so either tool can resume the other's
   * download (huggingface_hub resumes from its length, and publishes one of full length unchecked).
   */
  partial: string;
  /**
   * A download in parallel pieces, full length with holes until done: ours alone, since
   * huggingface_hub would take its length for the bytes it has.
   */
  pieces: string;
  /** Our resume bookkeeping (segment progress, validator) next to the partial or the pieces. */
  partialState: string;
  lock: string;
  snapshot: string;
  /** Undefined when the revision is the commit itself (huggingface_hub writes no ref then). */
  ref: string | undefined;
}

export function repoFolderName(repo: string): string {
  return `models--${repo.split("/").join("--")}`;
}

/** The repo a cache folder holds (`models--org--name` → `org/name`): `repoFolderName` undone. */
export function repoOfFolder(folder: string): string {
  return folder
    .replace(/^models--/, "")
    .split("--")
    .join("/");
}

/** The partial download of a blob (a prefix, or pieces) and its resume sidecar. */
export function partialFiles(blob: string): Pick<CachePaths, "partial" | "pieces" | "partialState"> {
  return {
    partial: `${blob}.incomplete`,
    pieces: `${blob}.llmlb-pieces`,
    partialState: `${blob}.incomplete.json`,
  };
}

/** `<cacheDir>/models--org--name`. */
export function repoCacheDir(cacheDir: string, repo: string): string {
  return path.join(path.resolve(cacheDir), repoFolderName(repo));
}

export function cachePaths(
  cacheDir: string,
  entry: { repo: string; revision?: string; commit: string; filename: string; sha256: string },
): CachePaths {
  const root = path.resolve(cacheDir);
  const repoDir = repoCacheDir(root, entry.repo);
  const blob = path.join(repoDir, "blobs", entry.sha256);
  const ref =
    entry.revision === undefined || entry.revision === entry.commit
      ? undefined
      : path.join(repoDir, "refs", ...entry.revision.split("/"));
  return {
    root,
    repoDir,
    blob,
    ...partialFiles(blob),
    lock: `${blob}.lock`,
    snapshot: path.join(repoDir, "snapshots", entry.commit, ...entry.filename.split("/")),
    ref,
  };
}

/** The relative symlink target huggingface_hub writes: `../../blobs/<sha>`, one more `../` per folder level. */
export function snapshotLinkTarget(snapshotPath: string, blobPath: string): string {
  return path.relative(path.dirname(snapshotPath), blobPath);
}

/** Whether `candidate` is `root` itself or below it, lexically. */
export function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

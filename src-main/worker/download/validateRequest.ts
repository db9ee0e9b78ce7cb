/**
 * Every input checked again right before it becomes a path: a request that slipped past the
 * registration checks must still never write outside the cache root.
 */
import {
  isCommitSha,
  isSha256,
  isValidRepoId,
  unsafePathReason,
  unsafeRevisionReason,
} from "../../shared/hfNames";
import { cachePaths, isInside, repoCacheDir, type CachePaths } from "../../shared/hfCachePaths";
import { DownloadError } from "./errors";
import type { DownloadRequest } from "./types";

type CacheEntry = Pick<DownloadRequest, "repo" | "commit" | "filename" | "sha256" | "size"> &
  Partial<Pick<DownloadRequest, "revision">>;

function invalid(message: string): DownloadError {
  return new DownloadError("invalid", message);
}

function text(value: unknown, field: string): string {
  if (typeof value !== "string") throw invalid(`The download's ${field} is not a string.`);
  return value;
}

/** The cache paths of a file, once its repo, filename, commit, revision, sha256 and size are proven safe. */
export function validateCacheEntry(cacheDir: string, entry: CacheEntry): CachePaths {
  if (typeof cacheDir !== "string" || cacheDir.length === 0 || cacheDir.includes("\0")) {
    throw invalid("The Hugging Face cache folder is not set.");
  }
  const repo = text(entry.repo, "repo");
  if (!isValidRepoId(repo)) throw invalid(`"${repo}" is not a valid Hugging Face repo id.`);
  const filename = text(entry.filename, "filename");
  const fileProblem = unsafePathReason(filename);
  if (fileProblem) throw invalid(`Refusing to download "${filename}" from ${repo}: ${fileProblem}.`);
  if (!isCommitSha(text(entry.commit, "commit"))) {
    throw invalid(`The commit of ${repo} is not a 40-character hex sha: "${entry.commit}".`);
  }
  if (entry.revision !== undefined) {
    const revisionProblem = unsafeRevisionReason(text(entry.revision, "revision"));
    if (revisionProblem)
      throw invalid(`Refusing revision "${entry.revision}" of ${repo}: ${revisionProblem}.`);
  }
  if (!isSha256(text(entry.sha256, "sha256"))) {
    throw invalid(
      `The expected sha256 of ${filename} is not 64 lowercase hex characters: "${entry.sha256}".`,
    );
  }
  if (typeof entry.size !== "number" || !Number.isSafeInteger(entry.size) || entry.size < 0) {
    throw invalid(`The expected size of ${filename} is not a whole number of bytes: ${String(entry.size)}.`);
  }
  const paths = cachePaths(cacheDir, entry);
  for (const target of [paths.blob, paths.snapshot, paths.ref ?? paths.repoDir]) {
    if (!isInside(paths.repoDir, target) || !isInside(paths.root, target)) {
      throw invalid(`Refusing to write ${target}: it is outside the cache folder ${paths.root}.`);
    }
  }
  return paths;
}

export function validateRequest(cacheDir: string, request: DownloadRequest): CachePaths {
  const paths = validateCacheEntry(cacheDir, request);
  const revision = text(request.revision, "revision");
  if (revision.length === 0) throw invalid(`The revision of ${request.repo} is empty.`);
  let url: URL;
  try {
    url = new URL(text(request.url, "url"));
  } catch {
    throw invalid(`The download URL of ${request.filename} is not a URL: "${request.url}".`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalid(`The download URL of ${request.filename} is not http(s): "${request.url}".`);
  }
  return paths;
}

/** `<cacheDir>/models--org--name`, for a repo id proven valid. */
export function validatedRepoCacheDir(cacheDir: string, repo: string): string {
  if (typeof repo !== "string" || !isValidRepoId(repo))
    throw invalid(`"${String(repo)}" is not a valid Hugging Face repo id.`);
  if (typeof cacheDir !== "string" || cacheDir.length === 0)
    throw invalid("The Hugging Face cache folder is not set.");
  return repoCacheDir(cacheDir, repo);
}

/**
 * The worker's own downloader of Hugging Face files into the standard Hugging Face cache: resumable
 * (`blobs/<sha256>.incomplete` + a sidecar), parallel range segments, sha256-verified before it is
 * published, one download per blob across processes, retries with backoff.
 *
 * Modules: validateRequest/cachePaths (where, safely), cacheLookup/snapshotLink (the cache layout),
 * blobLock (cross-process lock), downloadBlob (partial → verified blob), partialState (pieces + sidecar),
 * fetchPiece/hubRequest/failures/backoff (HTTP, retries), pieceWriter/fileHasher (disk, sha256),
 * piecePool, progressReporter.
 */
export { downloadToHfCache } from "./downloadToHfCache";
export { cachedSnapshotPath } from "./cacheLookup";
export { cachePaths, partialFiles } from "../../shared/hfCachePaths";
export { validatedRepoCacheDir as repoCacheDir } from "./validateRequest";
export { DownloadError, type DownloadErrorCode } from "./errors";
export { lockHeld, removeStaleLock } from "./blobLock";
export { sha256OfFile } from "./sha256OfFile";
export type { DownloadOptions, DownloadProgress, DownloadRequest, DownloadResult } from "./types";

/**
 * downloadToHfCache: validate, reuse what the cache already has, otherwise take the blob's lock,
 * download, verify and publish the snapshot entry. Known failures leave as a DownloadError; a bug
 * (an unexpected error) is passed on as it is.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { Agent } from "undici";
import type { Logger } from "../../shared/logger";
import { acquireBlobLock, lockHeld, removeStaleLock } from "./blobLock";
import { completeCopy } from "./cacheLookup";
import type { CachePaths } from "../../shared/hfCachePaths";
import { downloadBlob } from "./downloadBlob";
import { abortedError, DownloadError, fromLocalError } from "./errors";
import { publishSnapshot } from "./snapshotLink";
import type { DownloadOptions, DownloadRequest, DownloadResult } from "./types";
import { validateRequest } from "./validateRequest";

const DEFAULT_SEGMENTS = 4;
const MAX_SEGMENTS = 16;
const DEFAULT_MIN_SEGMENT_BYTES = 32 * 1024 * 1024;
const DEFAULT_ATTEMPTS = 8;
const DEFAULT_RETRY_BASE_MS = 500;

export async function downloadToHfCache(
  request: DownloadRequest,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const paths = validateRequest(options.cacheDir, request);
  const log = options.log.child({ repo: request.repo, file: request.filename, commit: request.commit });
  const signal = options.signal ?? new AbortController().signal;
  try {
    signal.throwIfAborted();
    const cached = await useCachedCopy(request, paths, log, options.onProgress);
    if (cached) return cached;

    await fs.mkdir(path.dirname(paths.blob), { recursive: true });
    const lock = await acquireBlobLock(paths.lock, {
      signal,
      log,
      onWaiting: options.onWaiting,
      size: request.size,
      ...(options.by !== undefined ? { by: options.by } : {}),
    });
    try {
      // Whoever held the lock before us may have just finished this very file.
      const finishedMeanwhile = await useCachedCopy(request, paths, log, options.onProgress);
      if (finishedMeanwhile) return { ...finishedMeanwhile, fetchedByAnother: lock.waited };
      const dispatcher = new Agent({
        connect: { timeout: 30_000 },
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
        keepAliveTimeout: 30_000,
      });
      const started = performance.now();
      let fetchedBytes: number;
      try {
        fetchedBytes = await downloadBlob(request, paths, {
          dispatcher,
          lock,
          token: options.token,
          log,
          signal,
          onProgress: options.onProgress,
          connections: clampInteger(options.segments, DEFAULT_SEGMENTS, 1, MAX_SEGMENTS),
          minSegmentBytes: clampInteger(
            options.minSegmentBytes,
            DEFAULT_MIN_SEGMENT_BYTES,
            1,
            Number.MAX_SAFE_INTEGER,
          ),
          attempts: clampInteger(options.retries, DEFAULT_ATTEMPTS, 1, 1000),
          retryBaseDelayMs: clampInteger(options.retryBaseDelayMs, DEFAULT_RETRY_BASE_MS, 0, 60_000),
        });
      } finally {
        await dispatcher.destroy();
      }
      await publishSnapshot(paths, request.commit, request.size, log);
      const seconds = (performance.now() - started) / 1000;
      const bytesPerSecond = seconds > 0 ? Math.round(fetchedBytes / seconds) : 0;
      options.onProgress?.({ bytesDone: request.size, bytesTotal: request.size, bytesPerSecond });
      return { snapshotPath: paths.snapshot, blobPath: paths.blob, fetchedBytes, alreadyCached: false };
    } finally {
      await lock.release();
    }
  } catch (error) {
    if (error instanceof DownloadError) throw error;
    if (signal.aborted) throw abortedError(error);
    throw fromLocalError(error, paths.root);
  }
}

/** The result for a file the cache already holds complete, after (re)making its snapshot entry and ref. */
async function useCachedCopy(
  request: DownloadRequest,
  paths: CachePaths,
  log: Logger,
  onProgress: DownloadOptions["onProgress"],
): Promise<DownloadResult | undefined> {
  const copy = await completeCopy(paths, request.size);
  if (copy === undefined) return undefined;
  await publishSnapshot(paths, request.commit, request.size, log);
  await tidyAround(paths, log);
  log.debug({ path: copy }, "already in the cache");
  onProgress?.({ bytesDone: request.size, bytesTotal: request.size, bytesPerSecond: 0 });
  return { snapshotPath: paths.snapshot, blobPath: copy, fetchedBytes: 0, alreadyCached: true };
}

function clampInteger(value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, Math.floor(value)));
}

/**
 * What a download killed between publishing its blob and cleaning up left beside it: its partial's
 * sidecar, a partial, its lock. Left alone while a live process holds the lock (its own download).
 */
async function tidyAround(paths: CachePaths, log: Logger): Promise<void> {
  if (await lockHeld(paths.lock)) return;
  await Promise.all(
    [paths.partial, paths.pieces, paths.partialState].map((file) => fs.rm(file, { force: true })),
  );
  await removeStaleLock(paths.lock, log);
}

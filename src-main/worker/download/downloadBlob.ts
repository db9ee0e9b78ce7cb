/**
 * Gets one blob into `blobs/<sha256>`: resumes or starts its partial file, fetches the missing pieces in
 * parallel, checks size and sha256, and only then renames the partial into place. The caller holds the
 * blob's lock. On failure or abort the partial and its sidecar stay for the next attempt, except after a
 * checksum mismatch, where nothing of the bad bytes is kept.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { Dispatcher } from "undici";
import type { Logger } from "../../shared/logger";
import type { CachePaths } from "../../shared/hfCachePaths";
import type { BlobLock } from "./blobLock";
import { downloadsAheadOf, ensureRoom } from "./diskRoom";
import { DownloadError } from "./errors";
import { RangeIgnoredError } from "./failures";
import { fetchPiece, type TransferContext } from "./fetchPiece";
import { FileHasher } from "./fileHasher";
import {
  contiguousBytes,
  doneBytes,
  loadPartialState,
  pieceLength,
  planPieces,
  savePartialState,
  type PartialState,
} from "./partialState";
import type { WrittenListener } from "./pieceWriter";
import { runPool } from "./piecePool";
import { ProgressReporter } from "./progressReporter";
import type { DownloadOptions, DownloadProgress, DownloadRequest } from "./types";

export interface BlobDownloadOptions {
  dispatcher: Dispatcher;
  /** The blob's lock, held: the downloads into the cache that took theirs first have room first. */
  lock: BlobLock;
  token?: DownloadOptions["token"];
  log: Logger;
  signal: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  connections: number;
  minSegmentBytes: number;
  attempts: number;
  retryBaseDelayMs: number;
}

/** Returns the body bytes fetched. */
export async function downloadBlob(
  request: DownloadRequest,
  paths: CachePaths,
  options: BlobDownloadOptions,
): Promise<number> {
  const { log } = options;
  const opened = await openPartial(paths, request, options);
  const { file, state } = opened;
  try {
    await ensureRoom(
      paths.root,
      request.size - doneBytes(state.pieces),
      request.filename,
      paths.root,
      await downloadsAheadOf(paths.root, options.lock),
    );
    await options.lock.claimRoom();
  } catch (error) {
    await file.close();
    throw error;
  }
  const hasher = new FileHasher(file, () => contiguousBytes(state.pieces));
  const reporter = new ProgressReporter(request.size, options.onProgress);
  // Where it starts (or resumes), at once: a server that is slow to answer must not leave that unsaid.
  reporter.report(doneBytes(state.pieces), 0);
  let fetched = 0;
  let saving: Promise<void> | undefined;
  let keepPartial = true;

  // Progress goes out only after the sidecar holding it is saved: what was reported survives a kill.
  const onWritten: WrittenListener = (position, buffers) => {
    for (const buffer of buffers) fetched += buffer.length;
    hasher.advance();
    if (saving !== undefined || !reporter.due()) return;
    const done = doneBytes(state.pieces);
    const fetchedNow = fetched;
    saving = savePartialState(paths.partialState, state)
      .then(() => reporter.report(done, fetchedNow))
      .catch((error: unknown) => log.warn({ err: error }, "could not save the download's progress"))
      .finally(() => (saving = undefined));
  };

  const transfer = async () => {
    const context: TransferContext = {
      request,
      dispatcher: options.dispatcher,
      token: readToken(options.token),
      file,
      state,
      singleStream: state.pieces.length === 1,
      onWritten,
      onStalled: (reason) => reporter.stalled(doneBytes(state.pieces), fetched, reason),
      restartFromZero: async (why) => {
        reporter.restarted(why);
        await file.truncate(0);
        for (const piece of state.pieces) piece.done = 0;
        hasher.reset();
      },
      log,
      attempts: options.attempts,
      retryBaseDelayMs: options.retryBaseDelayMs,
    };
    const missing = state.pieces.filter((piece) => piece.done < pieceLength(piece));
    await runPool(missing, context.singleStream ? 1 : options.connections, options.signal, (piece, signal) =>
      fetchPiece(context, piece, signal),
    );
  };

  const started = performance.now();
  let mismatch: DownloadError | undefined;
  try {
    hasher.advance(); // hash what an earlier run left, while the rest downloads
    try {
      await transfer();
    } catch (error) {
      if (!(error instanceof RangeIgnoredError)) throw error;
      log.warn("the server ignores Range requests; downloading in one stream from the start");
      reporter.restarted("the server does not send parts of a file, so it comes in one stream");
      state.pieces = planPieces(request.size, 1, 1);
      state.validator = undefined;
      await file.truncate(0);
      // A prefix from now on: huggingface_hub's name again (the open file goes on under it).
      if (opened.at !== paths.partial) {
        await fs.rename(opened.at, paths.partial);
        opened.at = paths.partial;
      }
      hasher.reset();
      await savePartialState(paths.partialState, state);
      await transfer();
    }
    const actual = await hasher.digest();
    const { size } = await file.stat();
    if (size !== request.size || actual !== request.sha256) mismatch = checksumError(request, actual, size);
    // On disk before it is published: after a power cut, a blob of the right size must not be one with
    // holes the page cache never wrote (the cache's only check of a finished file is its size).
    else await file.sync();
    keepPartial = false;
  } finally {
    await hasher.stop();
    await saving;
    // Nothing fetched (a refusal at its first request): no partial is left in the cache to resume.
    const nothing = keepPartial && doneBytes(state.pieces) === 0;
    if (keepPartial && !nothing) {
      await savePartialState(paths.partialState, state).catch((error: unknown) =>
        log.warn({ err: error }, "could not save the download's progress"),
      );
    }
    await file.close();
    if (nothing) await discardPartial(paths).catch(() => {});
  }
  if (mismatch !== undefined) {
    await discardPartial(paths);
    throw mismatch;
  }
  await fs.rename(opened.at, paths.blob);
  await syncFolder(path.dirname(paths.blob));
  await fs.rm(paths.partialState, { force: true });
  const seconds = (performance.now() - started) / 1000;
  log.info(
    {
      fetchedBytes: fetched,
      seconds: Number(seconds.toFixed(3)),
      mbPerSecond: Math.round(fetched / 1e6 / seconds),
    },
    "download verified",
  );
  return fetched;
}

/** A file's size, or undefined when there is none. */
async function sizeOf(file: string): Promise<number | undefined> {
  return fs.lstat(file).then(
    (stat) => stat.size,
    () => undefined,
  );
}

/**
 * Opens where the download goes on, with what is done: our pieces when the sidecar describes them,
 * otherwise the `.incomplete` prefix (ours, or huggingface_hub's, which resumes the same way). Pieces
 * without a sidecar that describes them are holes and bytes alike, and go. A layout of pieces moves
 * the prefix into a pieces file, made full length (sparse); a stream's file is exactly its prefix.
 */
async function openPartial(
  paths: CachePaths,
  request: DownloadRequest,
  options: BlobDownloadOptions,
): Promise<{ file: fs.FileHandle; state: PartialState; at: string }> {
  const saved = await loadPartialState(paths.partialState, request);
  const savedPieces = saved !== undefined && saved.pieces.length > 1;
  let piecesSize = await sizeOf(paths.pieces);
  // Pieces an earlier llmlb wrote into `.incomplete`: moved to their own name, and resumed.
  if (savedPieces && piecesSize === undefined && (await sizeOf(paths.partial)) === request.size) {
    await fs.rename(paths.partial, paths.pieces);
    piecesSize = request.size;
  }
  let state: PartialState;
  let at: string;
  if (savedPieces && piecesSize === request.size) {
    state = saved;
    at = paths.pieces;
  } else {
    if (piecesSize !== undefined) await fs.rm(paths.pieces, { force: true });
    const onDisk = (await sizeOf(paths.partial)) ?? 0;
    // A piece layout's sidecar beside a prefix cannot be trusted, nor can a prefix longer than the file.
    const prefix = savedPieces || onDisk > request.size ? 0 : onDisk;
    state = {
      size: request.size,
      sha256: request.sha256,
      validator: prefix > 0 ? saved?.validator : undefined,
      pieces: planPieces(request.size, options.connections, options.minSegmentBytes, prefix),
    };
    // The sidecar first: pieces without one are not trusted.
    await savePartialState(paths.partialState, state);
    at = paths.partial;
    if (state.pieces.length > 1) {
      if (onDisk > 0) await fs.rename(paths.partial, paths.pieces);
      at = paths.pieces;
    }
  }
  // O_NOFOLLOW: a symlink planted at the partial's name must not redirect our writes out of the cache.
  const flags = fs.constants.O_RDWR | fs.constants.O_CREAT | (fs.constants.O_NOFOLLOW ?? 0);
  const file = await fs.open(at, flags, 0o644);
  try {
    const length = state.pieces.length > 1 ? request.size : doneBytes(state.pieces);
    if ((await file.stat()).size !== length) await file.truncate(length);
    const done = doneBytes(state.pieces);
    options.log.info(
      { size: request.size, resumeFrom: done, pieces: state.pieces.length, connections: options.connections },
      done > 0 ? "resuming download" : "download started",
    );
    return { file, state, at };
  } catch (error) {
    await file.close();
    throw error;
  }
}

function checksumError(request: DownloadRequest, actual: string, size: number): DownloadError {
  const sizeNote = size === request.size ? "" : ` (${size} bytes instead of ${request.size})`;
  return new DownloadError(
    "checksum",
    `${request.filename} from ${request.repo} failed verification: expected sha256 ${request.sha256}, ` +
      `got ${actual}${sizeNote}. The corrupt download was deleted.`,
  );
}

/** Deletes a partial download and its sidecar (after a checksum mismatch). */
async function discardPartial(paths: CachePaths): Promise<void> {
  await Promise.all(
    [paths.partial, paths.pieces, paths.partialState].map((file) => fs.rm(file, { force: true })),
  );
}

/** Makes a rename in `folder` durable; where folders cannot be opened to sync (Windows), the rename is left to the system. */
async function syncFolder(folder: string): Promise<void> {
  const handle = await fs.open(folder, "r").catch(() => undefined);
  try {
    await handle?.sync();
  } catch {
    // Not supported for folders here.
  } finally {
    await handle?.close();
  }
}

/** The token as its next request reads it. */
function readToken(token: DownloadOptions["token"]): () => string | undefined {
  return typeof token === "function" ? token : () => token;
}

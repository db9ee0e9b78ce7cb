/**
 * Fetches one piece of the file: a Range request (resuming where the piece stopped), the answer
 * checked, the body streamed to disk; on 429/5xx/cut connections, again after a backoff.
 */
import type { FileHandle } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { Dispatcher } from "undici";
import type { Logger } from "../../shared/logger";
import { backoffDelayMs } from "./backoff";
import { DownloadError } from "./errors";
import { RangeIgnoredError, TransientError, sizeMismatch, statusFailure, transientReason } from "./failures";
import { header, openDownload, type OpenedResponse } from "./hubRequest";
import { pieceLength, type PartialState, type Piece } from "./partialState";
import { streamIntoPiece, type WrittenListener } from "./pieceWriter";
import type { DownloadRequest } from "./types";

export interface TransferContext {
  request: DownloadRequest;
  dispatcher: Dispatcher;
  /** The token for the next request (one changed mid-download goes with the next). */
  token: () => string | undefined;
  file: FileHandle;
  state: PartialState;
  /** One stream over the whole file: a 200 to a resume restarts it from zero instead of failing. */
  singleStream: boolean;
  onWritten: WrittenListener;
  /** A try failed for `reason` and the next waits: nothing arrives meanwhile. */
  onStalled(reason: string): void;
  /** Empties the partial file (and the hash) before a restart from zero, saying why (progress goes back). */
  restartFromZero(why: string): Promise<void>;
  log: Logger;
  /** Attempts per piece; progress made by an attempt resets the count. */
  attempts: number;
  retryBaseDelayMs: number;
}

export async function fetchPiece(ctx: TransferContext, piece: Piece, signal: AbortSignal): Promise<void> {
  let failures = 0;
  while (piece.done < pieceLength(piece)) {
    let written = 0;
    const onWritten: WrittenListener = (position, buffers) => {
      for (const buffer of buffers) written += buffer.length;
      ctx.onWritten(position, buffers);
    };
    try {
      await fetchPieceOnce(ctx, piece, signal, onWritten);
      if (piece.done < pieceLength(piece))
        throw new TransientError("the response ended before the range did");
    } catch (error) {
      if (signal.aborted) throw error;
      const transient = transientReason(error);
      if (transient === undefined) throw error;
      failures = written > 0 ? 1 : failures + 1;
      if (failures >= ctx.attempts) {
        throw new DownloadError(
          "network",
          `Downloading ${ctx.request.filename} from ${ctx.request.repo} failed after ${failures} attempts ` +
            `(${transient.reason}). Check the network; the download resumes where it stopped.`,
          { cause: error },
        );
      }
      const delayMs = backoffDelayMs(failures, ctx.retryBaseDelayMs, transient.retryAfterMs);
      ctx.onStalled(transient.reason);
      ctx.log.warn(
        { range: rangeText(piece), attempt: failures, delayMs, reason: transient.reason },
        "download interrupted; retrying",
      );
      await sleep(delayMs, undefined, { signal });
    }
  }
}

async function fetchPieceOnce(
  ctx: TransferContext,
  piece: Piece,
  signal: AbortSignal,
  onWritten: WrittenListener,
): Promise<void> {
  const offset = piece.start + piece.done;
  // A single stream starting at zero is a plain GET, as any client would send.
  const ranged = !ctx.singleStream || piece.done > 0;
  const headers: Record<string, string> = {};
  if (ranged) {
    headers.range = `bytes=${offset}-${ctx.singleStream ? "" : piece.end - 1}`;
    if (ctx.state.validator !== undefined) headers["if-range"] = ctx.state.validator;
  }
  const token = ctx.token();
  const response = await openDownload(ctx.request.url, {
    dispatcher: ctx.dispatcher,
    token,
    headers,
    signal,
  });
  try {
    if (response.statusCode === 206 && ranged) {
      checkContentRange(response, offset, piece, ctx.request);
    } else if (response.statusCode === 200) {
      if (ranged) {
        if (!ctx.singleStream) throw new RangeIgnoredError();
        // Ranges unsupported, or If-Range found the file changed: either way only a clean restart is safe.
        ctx.log.warn(
          { resumeFrom: offset },
          "the server sent the whole file instead of the rest; restarting",
        );
        ctx.state.validator = undefined;
        await ctx.restartFromZero(
          "the server sent the whole file instead of the rest (it does not resume, or the file changed)",
        );
      }
      const length = Number(header(response.headers, "content-length") ?? ctx.request.size);
      if (length !== ctx.request.size) throw sizeMismatch(ctx.request, length);
    } else {
      throw await statusFailure(response, ctx.request, token !== undefined);
    }
    ctx.state.validator ??= validatorOf(response);
    await streamIntoPiece(response.body, ctx.file, piece, onWritten);
  } finally {
    // A body left unread would hold its connection; destroying it closes that one connection.
    if (!response.body.destroyed) response.body.destroy();
  }
}

function checkContentRange(response: OpenedResponse, offset: number, piece: Piece, request: DownloadRequest) {
  const value = header(response.headers, "content-range") ?? "";
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim());
  if (match?.[3] !== undefined && match[3] !== "*" && Number(match[3]) !== request.size) {
    throw sizeMismatch(request, Number(match[3]));
  }
  if (!match || Number(match[1]) !== offset || Number(match[2]) > piece.end - 1) {
    throw new TransientError(`unexpected Content-Range "${value}" for ${rangeText(piece)}`);
  }
}

/** A strong ETag, else Last-Modified: what If-Range may carry. */
function validatorOf(response: OpenedResponse): string | undefined {
  const etag = header(response.headers, "etag");
  if (etag !== undefined && !etag.startsWith("W/")) return etag;
  return header(response.headers, "last-modified");
}

function rangeText(piece: Piece): string {
  return `${piece.start + piece.done}-${piece.end - 1}`;
}

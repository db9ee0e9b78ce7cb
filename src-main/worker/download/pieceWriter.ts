/**
 * Streams a response body into one piece of the partial file with positional writes. Writes are batched
 * (fewer syscalls) and overlap the next reads; `piece.done` only grows once a write has completed, so
 * what the sidecar and the hasher see is always on disk. Bytes received before a cut are kept.
 */
import type { FileHandle } from "node:fs/promises";
import { DownloadError } from "./errors";
import { pieceLength, type Piece } from "./partialState";

const FLUSH_BYTES = 1024 * 1024;
/** A slow stream still lands on disk (and in the progress) a few times a second. */
const FLUSH_INTERVAL_MS = 200;

export type PieceFile = Pick<FileHandle, "writev">;

/** Called after each completed write, with the file offset and the bytes written there. */
export type WrittenListener = (position: number, buffers: Buffer[]) => void;

export async function streamIntoPiece(
  body: AsyncIterable<Buffer>,
  file: PieceFile,
  piece: Piece,
  onWritten: WrittenListener,
): Promise<void> {
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let lastFlush = performance.now();
  let inflight: Promise<void> = Promise.resolve();

  // One write in flight while the next batch fills; waiting for the previous one surfaces its error.
  const flush = async () => {
    await inflight;
    if (batchBytes === 0) return;
    const buffers = batch;
    const position = piece.start + piece.done;
    batch = [];
    batchBytes = 0;
    lastFlush = performance.now();
    inflight = writeFully(file, buffers, position).then((written) => {
      piece.done += written;
      onWritten(position, buffers);
    });
    inflight.catch(() => {}); // observed by the next flush
  };

  let readError: unknown;
  let overflow = false;
  // Bytes taken from the body so far, written or not: what is left of the piece is the room for more.
  let accepted = piece.done;
  try {
    for await (const chunk of body) {
      const room = pieceLength(piece) - accepted;
      const take = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (take.length > 0) {
        batch.push(take);
        batchBytes += take.length;
        accepted += take.length;
      }
      if (take.length < chunk.length) {
        overflow = true;
        break;
      }
      if (batchBytes >= FLUSH_BYTES || performance.now() - lastFlush >= FLUSH_INTERVAL_MS) await flush();
    }
  } catch (error) {
    readError = error;
  }
  await flush();
  await inflight;
  if (readError !== undefined) throw readError;
  if (overflow) {
    throw new DownloadError(
      "checksum",
      `The server sent more bytes than the expected size for bytes ${piece.start}-${piece.end - 1}.`,
    );
  }
}

/** writev until every byte is written; a short write (e.g. just before ENOSPC) continues where it stopped. */
async function writeFully(file: PieceFile, buffers: Buffer[], position: number): Promise<number> {
  let pending = buffers;
  let offset = position;
  while (pending.length > 0) {
    const { bytesWritten } = await file.writev(pending, offset);
    if (bytesWritten <= 0) throw new Error(`writing at offset ${offset} made no progress`);
    offset += bytesWritten;
    pending = dropBytes(pending, bytesWritten);
  }
  return offset - position;
}

function dropBytes(buffers: Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = count;
  for (const buffer of buffers) {
    if (skip >= buffer.length) skip -= buffer.length;
    else {
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
  }
  return rest;
}

/**
 * A partial download as byte ranges ("pieces") with their progress, and the small sidecar file that
 * lets a later process resume each piece on its own. Only bytes whose write completed are ever counted.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { z } from "zod";

/** Bytes [start, end) of the file; `done` bytes from `start` are on disk. */
export interface Piece {
  start: number;
  end: number;
  done: number;
}

export interface PartialState {
  size: number;
  sha256: string;
  /** Strong ETag (or Last-Modified) of the server that sent the bytes, sent back as If-Range. */
  validator?: string;
  pieces: Piece[];
}

const MAX_PIECES_PER_CONNECTION = 4;

/**
 * Splits `size` bytes into pieces for `connections` parallel streams. Several pieces per connection, in
 * file order, so the verified prefix grows steadily while they download (see fileHasher.ts); an equal
 * number per connection, so no lone piece runs at the end. Small files get one piece: a single stream.
 * `prefix` bytes already on disk (a single-stream partial, ours or huggingface_hub's) count as done.
 */
export function planPieces(size: number, connections: number, minPieceBytes: number, prefix = 0): Piece[] {
  const perConnection = Math.min(
    MAX_PIECES_PER_CONNECTION,
    Math.floor(size / (Math.max(1, connections) * Math.max(1, minPieceBytes))),
  );
  const count = connections > 1 && perConnection >= 1 ? connections * perConnection : 1;
  const pieceSize = Math.ceil(size / count);
  const pieces: Piece[] = [];
  for (let start = 0; start < size || pieces.length === 0; start += pieceSize) {
    const end = Math.min(size, start + pieceSize);
    pieces.push({ start, end, done: Math.min(end - start, Math.max(0, prefix - start)) });
    if (end >= size) break;
  }
  return pieces;
}

export function pieceLength(piece: Piece): number {
  return piece.end - piece.start;
}

/** Bytes of the file known good from offset 0: everything up to the first piece not yet complete. */
export function contiguousBytes(pieces: readonly Piece[]): number {
  let frontier = 0;
  for (const piece of pieces) {
    frontier = piece.start + piece.done;
    if (piece.done < pieceLength(piece)) break;
  }
  return frontier;
}

export function doneBytes(pieces: readonly Piece[]): number {
  return pieces.reduce((sum, piece) => sum + piece.done, 0);
}

const stateSchema = z.object({
  version: z.literal(1),
  size: z.number().int().nonnegative(),
  sha256: z.string(),
  validator: z.string().optional(),
  pieces: z.array(z.tuple([z.number().int(), z.number().int(), z.number().int()])),
});

/** Pieces that tile [0, size) in order with sane progress; anything else is not trusted. */
function wellFormed(pieces: readonly Piece[], size: number): boolean {
  let expectedStart = 0;
  for (const piece of pieces) {
    if (piece.start !== expectedStart || piece.end <= piece.start) return false;
    if (piece.done < 0 || piece.done > pieceLength(piece)) return false;
    expectedStart = piece.end;
  }
  return expectedStart === size && pieces.length > 0;
}

/** The saved state for this blob, or undefined when missing, unreadable or about another file. */
export async function loadPartialState(
  file: string,
  expected: { size: number; sha256: string },
): Promise<PartialState | undefined> {
  let parsed: z.infer<typeof stateSchema>;
  try {
    parsed = stateSchema.parse(JSON.parse(await fs.readFile(file, "utf8")));
  } catch {
    return undefined;
  }
  if (parsed.size !== expected.size || parsed.sha256 !== expected.sha256) return undefined;
  const pieces = parsed.pieces.map(([start, end, done]) => ({ start, end, done }));
  if (expected.size > 0 && !wellFormed(pieces, expected.size)) return undefined;
  return { size: parsed.size, sha256: parsed.sha256, validator: parsed.validator, pieces };
}

/** Written to a temporary name and renamed, so a kill mid-write never leaves a torn sidecar. */
export async function savePartialState(file: string, state: PartialState): Promise<void> {
  const body = JSON.stringify({
    version: 1,
    size: state.size,
    sha256: state.sha256,
    ...(state.validator === undefined ? {} : { validator: state.validator }),
    pieces: state.pieces.map((piece) => [piece.start, piece.end, piece.done]),
  });
  const temp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await fs.writeFile(temp, body);
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

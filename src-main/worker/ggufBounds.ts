import fs from "node:fs/promises";

/**
 * How much of a file's start is read to walk its header, in turn: metadata holds a vocabulary, a few
 * MB for most models; the larger read only where the first did not hold the whole header.
 */
const headerReads = [8 * 1024 * 1024, 64 * 1024 * 1024];
/** Bytes of each GGUF scalar type (0–12), by type id; 8 is a string, 9 an array. */
const scalarBytes: Record<number, number> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  10: 8,
  11: 8,
  12: 8,
};
/** Arrays of arrays deeper than this are refused. */
const maxArrayDepth = 8;

/**
 * Walks a GGUF file's header (magic, counts, every metadata entry) and refuses one whose counts or
 * lengths claim more than the file holds, before node-llama-cpp's reader, which reads past the end as
 * zeros: a header of 69 bytes claiming 2^62 entries had it loop for good, its memory growing by GBs.
 * A header longer than what is read here is taken as it is, from there on, to the reader.
 */
export async function checkGgufBounds(filePath: string): Promise<void> {
  const handle = await fs.open(filePath, "r");
  try {
    const fileSize = (await handle.stat()).size;
    for (const [index, readBytes] of headerReads.entries()) {
      const buffer = Buffer.alloc(Math.min(fileSize, readBytes));
      await handle.read(buffer, 0, buffer.length, 0);
      const whole = buffer.length === fileSize || index === headerReads.length - 1;
      if (walkHeader(buffer, fileSize) === "read" || whole) return;
    }
  } finally {
    await handle.close();
  }
}

/**
 * Walks the header in `buffer` (the start of a file of `fileSize` bytes), throwing at a claim the
 * file cannot hold: "read" once walked, "beyond" where the header goes on past the buffer.
 */
function walkHeader(buffer: Buffer, fileSize: number): "read" | "beyond" {
  const claims = (what: string) =>
    new Error(`the GGUF header claims ${what}, more than a file of ${fileSize} bytes holds`);
  let at = 0;
  /** False once a list was left off where the buffer ends: the header goes on past it. */
  let walkedAll = true;
  /** Where the next `bytes` are, once the file is known to hold them. */
  const take = (bytes: number) => {
    if (fileSize - at < bytes) throw claims("more header");
    if (at + bytes > buffer.length) throw beyondRead;
    at += bytes;
    return at - bytes;
  };
  const u32 = () => buffer.readUInt32LE(take(4));
  /** A count of things of at least `each` bytes, which the rest of the file must hold. */
  const counted = (what: string, each: number) => {
    const count = buffer.readBigUInt64LE(take(8));
    if (count * BigInt(each) > BigInt(fileSize - at)) throw claims(`${count} ${what}`);
    return Number(count);
  };
  const skipValue = (type: number, depth: number): void => {
    if (type in scalarBytes) {
      at += scalarBytes[type]!;
      return;
    }
    if (type === 8) {
      // Counted first: `at += counted()` would add to the place before the length.
      const bytes = counted("bytes in a string", 1);
      at += bytes;
      return;
    }
    if (type !== 9) throw new Error(`the GGUF header has a value of unknown type ${type}`);
    if (depth >= maxArrayDepth) throw new Error(`the GGUF header nests arrays deeper than ${maxArrayDepth}`);
    const elementType = u32();
    const size = scalarBytes[elementType];
    const count = counted("array elements", size ?? 8);
    // Numbers all at once; strings and arrays one by one, each with its own length.
    if (size !== undefined) at += count * size;
    else {
      let index = 0;
      for (; index < count && at < buffer.length; index++) skipValue(elementType, depth + 1);
      if (index < count) walkedAll = false;
    }
  };

  if (buffer.length < 4 || buffer.toString("latin1", 0, 4) !== "GGUF")
    throw new Error("it is not a GGUF file");
  at = 4;
  try {
    u32(); // version
    // Each tensor's description takes at least 33 bytes; each metadata entry at least 13.
    counted("tensors", 33);
    const entries = counted("metadata entries", 13);
    let entry = 0;
    for (; entry < entries && at < buffer.length; entry++) {
      const keyBytes = counted("bytes in a metadata key", 1);
      at += keyBytes;
      skipValue(u32(), 0);
    }
    if (entry < entries) walkedAll = false;
  } catch (error) {
    if (error !== beyondRead) throw error;
    return "beyond";
  }
  return walkedAll && at <= buffer.length ? "read" : "beyond";
}

/** The walk reached the end of what was read, within the file: the rest is the reader's. */
const beyondRead = new Error("beyond the bytes read");

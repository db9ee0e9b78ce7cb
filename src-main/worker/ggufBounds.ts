import fs from "node:fs/promises";

/** How much of a file's start is read to walk its header: metadata holds a vocabulary, a few MB. */
const headerReadBytes = 64 * 1024 * 1024;
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
  let buffer: Buffer;
  let fileSize: number;
  try {
    fileSize = (await handle.stat()).size;
    buffer = Buffer.alloc(Math.min(fileSize, headerReadBytes));
    await handle.read(buffer, 0, buffer.length, 0);
  } finally {
    await handle.close();
  }
  const claims = (what: string) =>
    new Error(`the GGUF header claims ${what}, more than a file of ${fileSize} bytes holds`);
  let at = 0;
  // Past what was read, the rest is the reader's to judge.
  const left = () => fileSize - at;
  const u32 = () => {
    if (left() < 4) throw claims("more header");
    if (at + 4 > buffer.length) throw beyondRead;
    const value = buffer.readUInt32LE(at);
    at += 4;
    return value;
  };
  const u64 = () => {
    if (left() < 8) throw claims("more header");
    if (at + 8 > buffer.length) throw beyondRead;
    const value = buffer.readBigUInt64LE(at);
    at += 8;
    return value;
  };
  const length = (what: string, each: number) => {
    const count = u64();
    if (count * BigInt(each) > BigInt(left())) throw claims(`${count} ${what}`);
    return Number(count);
  };
  const skipValue = (type: number, depth: number): void => {
    if (type in scalarBytes) {
      at += scalarBytes[type]!;
      return;
    }
    if (type === 8) {
      // Read first: `at += length()` would add to the place before the length.
      const bytes = length("bytes in a string", 1);
      at += bytes;
      return;
    }
    if (type !== 9) throw new Error(`the GGUF header has a value of unknown type ${type}`);
    if (depth >= maxArrayDepth) throw new Error(`the GGUF header nests arrays deeper than ${maxArrayDepth}`);
    const elementType = u32();
    const count = length("array elements", elementType in scalarBytes ? scalarBytes[elementType]! : 8);
    for (let index = 0; index < count && at < buffer.length; index++) skipValue(elementType, depth + 1);
  };

  if (buffer.length < 4 || buffer.toString("latin1", 0, 4) !== "GGUF")
    throw new Error("it is not a GGUF file");
  at = 4;
  try {
    u32(); // version
    // Each tensor's description takes at least 33 bytes; each metadata entry at least 13.
    length("tensors", 33);
    const entries = length("metadata entries", 13);
    for (let entry = 0; entry < entries && at < buffer.length; entry++) {
      const keyBytes = length("bytes in a metadata key", 1);
      at += keyBytes;
      skipValue(u32(), 0);
    }
  } catch (error) {
    if (error !== beyondRead) throw error;
  }
}

/** The walk reached the end of what was read, within the file: the rest is the reader's. */
const beyondRead = new Error("beyond the bytes read");

import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkGgufBounds } from "../../src-main/worker/ggufBounds";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { tempDirForEachTest } from "../helpers/tempDir";

const u32 = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
};
const u64 = (value: bigint | number) => {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt(value));
  return bytes;
};
const str = (text: string) => Buffer.concat([u64(Buffer.byteLength(text)), Buffer.from(text)]);
/** A GGUF of version 3 with no tensors, and these metadata entries after their count. */
const gguf = (count: bigint | number, ...entries: Buffer[]) =>
  Buffer.concat([Buffer.from("GGUF"), u32(3), u64(0), u64(count), ...entries]);
const architecture = Buffer.concat([str("general.architecture"), u32(8), str("llama")]);

describe("a GGUF header's counts and lengths, checked against the file's size", () => {
  const temp = tempDirForEachTest();
  const check = (bytes: Buffer) => {
    const file = path.join(temp.path, "model.gguf");
    fs.writeFileSync(file, bytes);
    return checkGgufBounds(file);
  };

  it("passes a real model's header", async () => {
    await expect(check(generateTinyGguf({ seed: 1 }))).resolves.toBeUndefined();
  });

  it("refuses what claims more than the file holds: entries, a key, an array, nesting", async () => {
    await expect(check(gguf(2n ** 62n, architecture))).rejects.toThrow(
      /claims 4611686018427387904 metadata entries, more than a file of \d+ bytes holds/,
    );
    await expect(check(gguf(1, u64(2n ** 40n), Buffer.alloc(16)))).rejects.toThrow(/bytes in a metadata key/);
    const hugeArray = Buffer.concat([str("evil.array"), u32(9), u32(0), u64(2n ** 60n), Buffer.alloc(16)]);
    await expect(check(gguf(2, architecture, hugeArray))).rejects.toThrow(
      /1152921504606846976 array elements/,
    );
    // An array of arrays of arrays…, each of one element, the last of none.
    const levels = Array.from({ length: 20 }, () => Buffer.concat([u32(9), u64(1)]));
    const nested = Buffer.concat([str("evil.nested"), u32(9), ...levels, u32(0), u64(0)]);
    await expect(check(gguf(2, architecture, nested))).rejects.toThrow(/nests arrays deeper/);
    await expect(check(Buffer.from("not a model at all"))).rejects.toThrow("it is not a GGUF file");
  });

  it("walks on past its first read where the header is longer (a large vocabulary)", async () => {
    const nineMegabytes = 9 * 1024 * 1024;
    const bytes = Buffer.concat([
      str("tokenizer.big"),
      u32(9),
      u32(0),
      u64(nineMegabytes),
      Buffer.alloc(nineMegabytes),
    ]);
    await expect(check(gguf(2, bytes, architecture))).resolves.toBeUndefined();
    // What lies past the first read is judged too.
    const hostileKey = Buffer.concat([u64(2n ** 40n), Buffer.alloc(16)]);
    await expect(check(gguf(2, bytes, hostileKey))).rejects.toThrow(/bytes in a metadata key/);
  });
});

import { createHash } from "node:crypto";

/** Deterministic pseudo-random bytes (sha256 in counter mode): the same seed, the same bytes. */
export function seededBytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i * 32 < length; i++)
    createHash("sha256")
      .update(`${seed}:${i}`)
      .digest()
      .copy(out, i * 32);
  return out;
}

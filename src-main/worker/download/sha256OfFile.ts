import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** A finished file's sha256, read through once (4 MiB at a time: the event loop keeps turning). */
export async function sha256OfFile(filePath: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(filePath, { highWaterMark: 4 * 1024 * 1024 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

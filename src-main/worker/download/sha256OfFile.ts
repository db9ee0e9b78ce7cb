import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/**
 * A finished file's sha256, read through once (4 MiB at a time: the event loop keeps turning); `signal`
 * stops it.
 */
export async function sha256OfFile(filePath: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const stream = createReadStream(filePath, {
    highWaterMark: 4 * 1024 * 1024,
    ...(signal ? { signal } : {}),
  });
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

import os from "node:os";
import { describe, expect, it } from "vitest";
import { ensureRoom } from "../../src-main/worker/download/diskRoom";

describe("room on the disk for a download", () => {
  it("is not asked of a download that has all its bytes (its check is all that is left)", async () => {
    const ahead = [{ repo: "org/huge-GGUF", bytesLeft: 1e18 }];
    await expect(ensureRoom(os.tmpdir(), 0, "f.gguf", "the cache", ahead)).resolves.toBeUndefined();
    await expect(ensureRoom(os.tmpdir(), 1, "f.gguf", "the cache", ahead)).rejects.toThrow(
      /f\.gguf needs 1 B more on the disk holding the cache, which has .* free, .* of it for the download of org\/huge-GGUF under way into the same cache\./,
    );
  });
});

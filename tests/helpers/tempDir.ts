import { afterEach, beforeEach } from "vitest";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** A fresh temp folder; `remove()` deletes it. */
export async function makeTempDir(
  prefix = "llmlb-test-",
): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  return { path: dir, remove: () => fs.rm(dir, { recursive: true, force: true }) };
}

/**
 * A fresh temp folder for each test of the suite (or describe block) it is called in, removed after
 * the test; `path` is the current test's.
 */
export function tempDirForEachTest(prefix?: string): { readonly path: string } {
  let dir: { path: string; remove(): Promise<void> } | undefined;
  beforeEach(async () => {
    dir = await makeTempDir(prefix);
  });
  afterEach(async () => {
    await dir?.remove();
    dir = undefined;
  });
  return {
    get path() {
      if (!dir) throw new Error("the temp folder exists only while a test runs");
      return dir.path;
    },
  };
}

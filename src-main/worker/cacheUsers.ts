import crypto from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { z } from "zod";

/**
 * Which llmlbs (each by its data directory) use a file of a shared Hugging Face cache, marked in the
 * cache's `.locks` folder, which huggingface_hub's own scan of the cache passes over: one per blob
 * (`.locks/llmlb-users/<sha256>/`), a file per llmlb. The llmlb that downloaded a file removes it only
 * once no other one marks it. A mark of this machine whose data directory is gone is stale, and goes.
 */
export interface CacheUsers {
  /** Marks the blob `sha256` of `cacheDir` as used by this llmlb. */
  mark(cacheDir: string, sha256: string): Promise<void>;
  /** This llmlb uses it no more. */
  unmark(cacheDir: string, sha256: string): Promise<void>;
  /** The blobs of `cacheDir` this llmlb marks. */
  marked(cacheDir: string): Promise<Set<string>>;
  /** The data directories of the other llmlbs that mark it (stale marks left out, and removed). */
  others(cacheDir: string, sha256: string): Promise<string[]>;
}

/** `host`: where `data_dir` is; a mark of another machine (a cache on a share) is never judged stale here. */
const markSchema = z.object({ data_dir: z.string(), host: z.string().optional() });

export function cacheUsers(dataDir: string): CacheUsers {
  const self = path.resolve(dataDir);
  const ownName = `${crypto.createHash("sha256").update(self).digest("hex").slice(0, 32)}.json`;
  const rootOf = (cacheDir: string) => path.join(cacheDir, ".locks", "llmlb-users");
  const folderOf = (cacheDir: string, sha256: string) => path.join(rootOf(cacheDir), sha256);

  return {
    async mark(cacheDir, sha256) {
      const folder = folderOf(cacheDir, sha256);
      await fs.mkdir(folder, { recursive: true });
      // Whole or not at all: another llmlb reading it half written would take it as stale.
      const temp = path.join(folder, `${ownName}.${process.pid}.tmp`);
      await fs.writeFile(temp, JSON.stringify({ data_dir: self, host: os.hostname() }));
      await fs.rename(temp, path.join(folder, ownName));
    },
    async unmark(cacheDir, sha256) {
      const folder = folderOf(cacheDir, sha256);
      await fs.rm(path.join(folder, ownName), { force: true });
      // The last one out takes the folder, unless another llmlb marks it meanwhile.
      await fs.rmdir(folder).catch(() => {});
    },
    async marked(cacheDir) {
      const root = rootOf(cacheDir);
      const blobs = await fs.readdir(root).catch(() => []);
      const own = new Set<string>();
      for (const sha256 of blobs) {
        const found = await fs.access(path.join(root, sha256, ownName)).then(
          () => true,
          () => false,
        );
        if (found) own.add(sha256);
      }
      return own;
    },
    async others(cacheDir, sha256) {
      const folder = folderOf(cacheDir, sha256);
      const names = await fs.readdir(folder).catch(() => []);
      const users: string[] = [];
      for (const name of names) {
        if (name === ownName || name.endsWith(".tmp")) continue;
        const file = path.join(folder, name);
        const mark = await fs
          .readFile(file, "utf8")
          .then((text) => markSchema.parse(JSON.parse(text)))
          .catch(() => undefined);
        // Another machine's (a cache on a network share) cannot be checked from here: it holds.
        const elsewhere = mark?.host !== undefined && mark.host !== os.hostname();
        const alive =
          mark !== undefined &&
          (elsewhere ||
            (await fs.stat(mark.data_dir).then(
              (stat) => stat.isDirectory(),
              () => false,
            )));
        if (alive) users.push(mark.data_dir);
        else await fs.rm(file, { force: true });
      }
      return users;
    },
  };
}

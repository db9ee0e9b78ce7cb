/**
 * Publishes a verified blob the way huggingface_hub does: `snapshots/<commit>/<filename>` as a relative
 * symlink to the blob (a copy where symlinks are not allowed, e.g. Windows without developer mode) and
 * `refs/<revision>` holding the commit. Each is replaced atomically, so readers never see half of one.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../../shared/logger";
import { snapshotLinkTarget, type CachePaths } from "../../shared/hfCachePaths";

/** What a file system says when it will not make a symlink. */
const SYMLINK_REFUSED = new Set(["EPERM", "EACCES", "ENOTSUP", "EOPNOTSUPP", "EINVAL", "ENOSYS"]);

export type SymlinkFn = (target: string, linkPath: string) => Promise<void>;

export async function publishSnapshot(
  paths: CachePaths,
  commit: string,
  size: number,
  log: Logger,
  symlink: SymlinkFn = (target, linkPath) => fs.symlink(target, linkPath),
): Promise<void> {
  if (!(await snapshotMatches(paths.snapshot, paths.blob, size))) {
    await fs.mkdir(path.dirname(paths.snapshot), { recursive: true });
    await replaceAtomically(paths.snapshot, async (temp) => {
      try {
        await symlink(snapshotLinkTarget(paths.snapshot, paths.blob), temp);
      } catch (error) {
        if (!SYMLINK_REFUSED.has((error as NodeJS.ErrnoException).code ?? "")) throw error;
        log.warn(
          { snapshot: paths.snapshot },
          "symlinks are not allowed here; copying the file into the snapshot",
        );
        await fs.copyFile(paths.blob, temp);
      }
    });
  }
  if (paths.ref !== undefined) await writeRef(paths.ref, commit);
}

/**
 * Whether the snapshot entry already is this file: a symlink resolving to the blob, or a regular file of
 * the right size (a copy, or huggingface_hub's layout where symlinks are unavailable).
 */
export async function snapshotMatches(snapshot: string, blob: string, size: number): Promise<boolean> {
  let entry;
  try {
    entry = await fs.lstat(snapshot);
  } catch {
    return false;
  }
  if (entry.isFile()) return entry.size === size;
  if (!entry.isSymbolicLink()) return false;
  const target = path.resolve(path.dirname(snapshot), await fs.readlink(snapshot));
  if (target !== blob) {
    const [real, realBlob] = await Promise.all([
      fs.realpath(snapshot).catch(() => undefined),
      fs.realpath(blob).catch(() => undefined),
    ]);
    if (real === undefined || real !== realBlob) return false;
  }
  const resolved = await fs.stat(snapshot).catch(() => undefined);
  return resolved?.isFile() === true && resolved.size === size;
}

async function writeRef(refPath: string, commit: string): Promise<void> {
  const current = await fs.readFile(refPath, "utf8").catch(() => undefined);
  if (current?.trim() === commit) return;
  await fs.mkdir(path.dirname(refPath), { recursive: true });
  await replaceAtomically(refPath, (temp) => fs.writeFile(temp, commit));
}

async function replaceAtomically(
  destination: string,
  create: (temp: string) => Promise<void>,
): Promise<void> {
  const temp = `${destination}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await create(temp);
    await fs.rename(temp, destination);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

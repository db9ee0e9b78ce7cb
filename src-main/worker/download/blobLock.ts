/**
 * A lock per blob shared by every process using the cache: `blobs/<sha256>.lock`, created exclusively
 * and holding who took it. A second downloader waits (polling, abortable) instead of fetching the same
 * bytes. A lock is stale, and taken over, when its process is gone: a dead pid on this host, our own pid
 * without our token (a restarted container reusing the pid), or no heartbeat for a while (other hosts).
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../shared/logger";

const HEARTBEAT_MS = 15_000;
const STALE_WITHOUT_HEARTBEAT_MS = 120_000;
/** A lock file still empty after this long was left by a process killed between create and write. */
const EMPTY_LOCK_GRACE_MS = 10_000;

interface Holder {
  pid: number;
  host: string;
  token: string;
  /** Who it is, in words (`llmlb worker gpu-1`), where the holder said. */
  by?: string;
  /** When it took the lock (ms since the epoch), and the size of the file it downloads, where said. */
  since?: number;
  size?: number;
  /**
   * Its download passed its check for room on the disk: others count what it has left to write, whatever
   * the clocks of the hosts sharing the cache say of who came first.
   */
  roomClaimed?: boolean;
}

/** Tokens of the locks this process holds right now. */
const heldTokens = new Set<string>();

export interface BlobLock {
  /** Whether it was taken after waiting for a live holder (another process's download of the file). */
  waited: boolean;
  /** When it was taken (ms since the epoch), and its token: what orders it among the cache's locks. */
  since: number;
  token: string;
  /** Marks the lock: its download passed its room check (downloads that start later count it). */
  claimRoom(): Promise<void>;
  release(): Promise<void>;
}

export interface LockOptions {
  signal: AbortSignal;
  log: Logger;
  /** Who takes it, in words, for another waiting on it. */
  by?: string;
  /** The size of the file downloaded under it, for other downloads into the cache to count. */
  size?: number;
  pollMs?: number;
  /** The lock is held by a live process: this one waits, and for whom. */
  onWaiting?: (why: string) => void;
}

export async function acquireBlobLock(lockPath: string, options: LockOptions): Promise<BlobLock> {
  const me: Holder = {
    pid: process.pid,
    host: os.hostname(),
    token: randomBytes(12).toString("hex"),
    ...(options.by !== undefined ? { by: options.by.slice(0, 200) } : {}),
    ...(options.size !== undefined ? { size: options.size } : {}),
  };
  let waitingSince: number | undefined;
  let since = 0;
  for (;;) {
    options.signal.throwIfAborted();
    try {
      since = Date.now();
      await fs.writeFile(lockPath, JSON.stringify({ ...me, since }), { flag: "wx" });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        // Made, then not written (a full disk): an empty lock would read as another's for a while.
        await removeUnwritten(lockPath);
        throw error;
      }
    }
    const current = await readLock(lockPath);
    if (current === undefined) continue; // released in between: try again at once
    if (isStale(current) && (await breakStaleLock(lockPath, current, options.log))) continue;
    if (waitingSince === undefined) {
      waitingSince = Date.now();
      options.log.info(
        { lock: lockPath, holder: current.holder },
        "another download of this file is running; waiting",
      );
      const holder = current.holder;
      options.onWaiting?.(
        `another download of this file into the same cache${holder ? ` (${holder.by ?? `process ${holder.pid}`} on ${holder.host})` : ""}; this node uses it once done`,
      );
    }
    await sleep(options.pollMs ?? 250, undefined, { signal: options.signal });
  }
  heldTokens.add(me.token);
  if (waitingSince !== undefined)
    options.log.info({ waitedMs: Date.now() - waitingSince }, "took the download lock");
  // The heartbeat tells processes on other hosts (shared cache folders) that the holder is alive.
  const heartbeat = setInterval(() => {
    const now = new Date();
    fs.utimes(lockPath, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  return {
    waited: waitingSince !== undefined,
    since,
    token: me.token,
    claimRoom: async () => {
      if (released) return;
      // Written aside, then renamed over the lock: a reader never sees it half written.
      const aside = `${lockPath}.${me.token}`;
      await fs.writeFile(aside, JSON.stringify({ ...me, since, roomClaimed: true }));
      const current = await readLock(lockPath);
      if (current?.holder?.token === me.token) await fs.rename(aside, lockPath);
      else await fs.rm(aside, { force: true });
    },
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      heldTokens.delete(me.token);
      const current = await readLock(lockPath);
      if (current?.holder?.token === me.token) await fs.rm(lockPath, { force: true });
    },
  };
}

interface LockFile {
  holder: Holder | undefined;
  ageMs: number;
}

async function readLock(lockPath: string): Promise<LockFile | undefined> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(lockPath, "utf8"), fs.stat(lockPath)]);
    return { holder: parseHolder(text), ageMs: Date.now() - stat.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    if (typeof value.pid === "number" && typeof value.host === "string" && typeof value.token === "string") {
      return {
        pid: value.pid,
        host: value.host,
        token: value.token,
        ...(typeof value.by === "string" ? { by: value.by.slice(0, 200) } : {}),
        ...(typeof value.since === "number" ? { since: value.since } : {}),
        ...(typeof value.size === "number" && value.size >= 0 ? { size: value.size } : {}),
        ...(value.roomClaimed === true ? { roomClaimed: true } : {}),
      };
    }
  } catch {
    // An empty or torn lock file: judged by its age below.
  }
  return undefined;
}

function isStale({ holder, ageMs }: LockFile): boolean {
  if (holder === undefined) return ageMs > EMPTY_LOCK_GRACE_MS;
  if (ageMs > STALE_WITHOUT_HEARTBEAT_MS) return true;
  if (holder.host !== os.hostname()) return false;
  if (holder.pid === process.pid) return !heldTokens.has(holder.token);
  return !processAlive(holder.pid);
}

/**
 * The downloads under way into the cache at `cacheRoot` (every repo's blobs) that come before `mine`: the
 * lock of each, and the size of its file. Those that passed their room check come first; of the others,
 * those that took their lock earlier. Of two that start together, one counts the other.
 */
export async function downloadsAhead(
  cacheRoot: string,
  mine: Pick<BlobLock, "since" | "token">,
): Promise<{ lockPath: string; size: number }[]> {
  const repos = await fs.readdir(cacheRoot).catch(() => [] as string[]);
  const locks = (
    await Promise.all(
      repos.map(async (repo) => {
        const blobs = path.join(cacheRoot, repo, "blobs");
        const names = await fs.readdir(blobs).catch(() => [] as string[]);
        return names.filter((name) => name.endsWith(".lock")).map((name) => path.join(blobs, name));
      }),
    )
  ).flat();
  const ahead = await Promise.all(
    locks.map(async (lockPath) => {
      const lock = await readLock(lockPath).catch(() => undefined);
      const holder = lock?.holder;
      if (!lock || !holder || holder.token === mine.token || isStale(lock)) return [];
      if (holder.size === undefined || holder.since === undefined) return [];
      const first =
        holder.roomClaimed === true ||
        holder.since < mine.since ||
        (holder.since === mine.since && holder.token < mine.token);
      return first ? [{ lockPath, size: holder.size }] : [];
    }),
  );
  return ahead.flat();
}

/** Whether a live process holds the blob's lock: its download (or its publishing) runs now. */
export async function lockHeld(lockPath: string): Promise<boolean> {
  const lock = await readLock(lockPath);
  return lock !== undefined && !isStale(lock);
}

/** Removes the lock of a blob whose holder is gone (a worker killed mid-download); a live one stays. */
export async function removeStaleLock(lockPath: string, log: Logger): Promise<void> {
  const lock = await readLock(lockPath);
  if (lock !== undefined && isStale(lock)) await breakStaleLock(lockPath, lock, log);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes a stale lock, guarded by `<lock>.break` so two waiters judging the same stale lock cannot
 * remove each other's fresh one: only the guard's holder removes, after checking it is still the stale one.
 */
async function breakStaleLock(lockPath: string, stale: LockFile, log: Logger): Promise<boolean> {
  const guard = `${lockPath}.break`;
  try {
    await fs.writeFile(guard, String(process.pid), { flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const guardAge = await fs.stat(guard).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (guardAge > EMPTY_LOCK_GRACE_MS) await fs.rm(guard, { force: true });
    return false;
  }
  try {
    const again = await readLock(lockPath);
    if (again !== undefined && again.holder?.token === stale.holder?.token && isStale(again)) {
      log.warn({ lock: lockPath, holder: stale.holder }, "taking over the lock of a download that is gone");
      await fs.rm(lockPath, { force: true });
    }
    return true;
  } finally {
    await fs.rm(guard, { force: true });
  }
}

/** Removes a lock file this process made but could not write: empty, it names no holder. */
async function removeUnwritten(lockPath: string): Promise<void> {
  const size = await fs.stat(lockPath).then(
    (stat) => stat.size,
    () => undefined,
  );
  if (size === 0) await fs.rm(lockPath, { force: true });
}

import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { Logger } from "../shared/logger";
import { cacheUsers } from "./cacheUsers";
import { lockHeld, partialFiles, removeStaleLock, repoCacheDir } from "./download";

const entrySchema = z.object({
  repo: z.string(),
  commit: z.string(),
  filename: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * The cache folder it was downloaded into (absent from ledgers older than this field: the cache in
   * use). After the cache folder changes, an entry claims nothing in the new one.
   */
  cache: z.string().optional(),
});
export type LedgerEntry = Omit<z.infer<typeof entrySchema>, "cache">;
type StoredEntry = z.infer<typeof entrySchema>;

/**
 * What this node put into the shared Hugging Face cache itself. Only these files are ever deleted:
 * what huggingface-cli or another tool (or another llmlb node) fetched is left alone.
 */
export interface DownloadLedger {
  /** Records a file this node is about to fetch; whether it was not recorded before. */
  record(entry: LedgerEntry): Promise<boolean>;
  /**
   * Deletes the snapshot links and blobs (or partial blobs) of entries whose sha256 the registry says
   * a removed model left (`removed`) and no registered model uses. Stop any download of them first.
   */
  prune(inUse: ReadonlySet<string>, removed: ReadonlySet<string>): Promise<LedgerEntry[]>;
  /**
   * Takes back a record: the file was recorded before its download, and another process (another
   * llmlb on this cache, another worker) fetched it while this one waited, or the cache held it
   * already (another tool's, at another commit). It is theirs to remove.
   */
  forget(entry: LedgerEntry): Promise<void>;
  /** Whether this node downloaded a file with this sha256 (and so checked its bytes as it did). */
  owns(sha256: string): boolean;
  /**
   * Whether the blob at `blob` was hashed by a worker of this llmlb (this one or another, as it
   * downloaded it or found it in the cache) and found to be `sha256`, and is unchanged since (its size
   * and modification time).
   */
  checked(blob: string, sha256: string): Promise<boolean>;
  /**
   * Whether the blob at `blob` was hashed as `sha256` and has changed since (its size or modification
   * time): its bytes may no longer be those. False where it was never hashed here, or is gone.
   */
  changedSinceChecked(blob: string, sha256: string): Promise<boolean>;
  /** Remembers, for every worker of this llmlb, that the blob at `blob` is `sha256`, as it is now. */
  rememberChecked(blob: string, sha256: string): Promise<void>;
  /**
   * Marks these files of the cache in use by this llmlb, ready on this node: another llmlb on the
   * cache that downloaded one leaves it while this one uses it.
   */
  use(sha256s: readonly string[]): Promise<void>;
}

/** A blob hashed, as it was then: one file each, so that workers writing at once lose nothing. */
const checkedSchema = z.object({ blob: z.string(), size: z.number(), mtime_ms: z.number() });

/**
 * `file`: this worker's ledger. `checkedDir`: the blobs the workers of this llmlb hashed, one file each
 * (`<sha256>.json`). `dataDir`: this llmlb's, by which other llmlbs on the cache know its uses.
 */
export async function openDownloadLedger(
  file: string,
  cacheDir: string,
  log: Logger,
  checkedDir = path.join(path.dirname(file), "checked"),
  dataDir = path.dirname(checkedDir),
): Promise<DownloadLedger> {
  const users = cacheUsers(dataDir);
  /** Files of the cache this llmlb marks in use, as it left them last time, and since. */
  const marked = await users.marked(cacheDir).catch(() => new Set<string>());
  /** Files kept for another llmlb that uses them, each said once. */
  const keptForOthers = new Set<string>();
  let entries: StoredEntry[] = [];
  /** Of the cache in use now (the only one whose files it claims), or of another it used before. */
  const here = path.resolve(cacheDir);
  /** The cache folder an entry's file was downloaded into. */
  const cacheOf = (entry: StoredEntry) => path.resolve(entry.cache ?? cacheDir);
  const inThisCache = (entry: StoredEntry) => cacheOf(entry) === here;
  const sameFile = (a: LedgerEntry, b: LedgerEntry) =>
    a.repo === b.repo && a.commit === b.commit && a.filename === b.filename;
  try {
    entries = z.array(entrySchema).parse(JSON.parse(await fs.readFile(file, "utf8")));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT")
      log.warn({ err: error, file }, "download ledger unreadable; starting a new one");
  }

  // Saves run one after another: a record and a prune may overlap (a download ends during a sync).
  let saving: Promise<void> = Promise.resolve();
  let saves = 0;
  function save(to = file, data: unknown = entries): Promise<void> {
    const next = saving.then(async () => {
      await fs.mkdir(path.dirname(to), { recursive: true });
      const temp = `${to}.${process.pid}.${saves++}.tmp`;
      await fs.writeFile(temp, JSON.stringify(data, null, 1));
      await fs.rename(temp, to);
    });
    saving = next.catch(() => {});
    return next;
  }

  /** What was noted when a blob of `sha256` was last hashed; undefined when none (or unreadable). */
  const checkedRecord = (sha256: string) =>
    fs
      .readFile(path.join(checkedDir, `${sha256}.json`), "utf8")
      .then((text) => checkedSchema.parse(JSON.parse(text)))
      .catch(() => undefined);

  /** Removes empty folders from `dir` up to (not including) `stop`. */
  async function removeEmptyParents(dir: string, stop: string): Promise<void> {
    for (let current = dir; current.startsWith(stop + path.sep); current = path.dirname(current)) {
      try {
        await fs.rmdir(current);
      } catch {
        return;
      }
    }
  }

  /**
   * What huggingface_hub would call a corrupted repo once its files are gone: refs naming a commit with
   * no snapshot left, and empty folders. Those go, up to the repo's folder itself when nothing is left
   * in it; anything another tool keeps there stays.
   */
  async function tidyRepo(repoDir: string): Promise<void> {
    const refs = path.join(repoDir, "refs");
    const refFiles = await fs
      .readdir(refs, { recursive: true, withFileTypes: true })
      // A ref being written (`<rev>.<hex>.tmp`, renamed into place) belongs to a download under way.
      .then((found) => found.filter((entry) => entry.isFile() && !entry.name.endsWith(".tmp")))
      .catch(() => []);
    for (const ref of refFiles) {
      const file = path.join(ref.parentPath, ref.name);
      const commit = (await fs.readFile(file, "utf8").catch(() => "")).trim();
      const snapshot = path.join(repoDir, "snapshots", commit);
      if (commit !== "" && !/[\\/]/.test(commit) && (await isDir(snapshot))) continue;
      await fs.rm(file, { force: true });
      await removeEmptyParents(path.dirname(file), refs);
    }
    for (const folder of ["refs", "snapshots", "blobs"])
      await fs.rmdir(path.join(repoDir, folder)).catch(() => {});
    await fs.rmdir(repoDir).catch(() => {});
  }

  return {
    async record(entry) {
      if (entries.some((e) => inThisCache(e) && sameFile(e, entry))) return false;
      entries.push({ ...entry, cache: here });
      await save();
      return true;
    },
    async forget(entry) {
      const before = entries.length;
      entries = entries.filter((e) => !(inThisCache(e) && sameFile(e, entry)));
      if (entries.length !== before) await save();
    },
    owns: (sha256) => entries.some((entry) => inThisCache(entry) && entry.sha256 === sha256),
    async checked(blob, sha256) {
      // None, or unreadable: the file is hashed again, which only costs time.
      const known = await checkedRecord(sha256);
      if (!known || known.blob !== blob) return false;
      const stat = await fs.stat(blob).catch(() => undefined);
      return stat !== undefined && stat.size === known.size && stat.mtimeMs === known.mtime_ms;
    },
    async changedSinceChecked(blob, sha256) {
      const known = await checkedRecord(sha256);
      if (!known || known.blob !== blob) return false;
      const stat = await fs.stat(blob).catch(() => undefined);
      return stat !== undefined && (stat.size !== known.size || stat.mtimeMs !== known.mtime_ms);
    },
    async rememberChecked(blob, sha256) {
      const stat = await fs.stat(blob);
      const record: z.infer<typeof checkedSchema> = { blob, size: stat.size, mtime_ms: stat.mtimeMs };
      await save(path.join(checkedDir, `${sha256}.json`), record);
    },
    async use(sha256s) {
      // Written each time (once per model ready): another worker of this llmlb may have taken it back.
      for (const sha256 of sha256s) {
        await users.mark(here, sha256);
        marked.add(sha256);
      }
    },
    async prune(inUse, removed) {
      const unusedHere = (sha256: string) => removed.has(sha256) && !inUse.has(sha256);
      for (const sha256 of [...marked].filter(unusedHere)) {
        await users.unmark(here, sha256);
        marked.delete(sha256);
      }
      const candidates = entries.filter((entry) => unusedHere(entry.sha256));
      // Another llmlb on the cache uses it: this one, which downloaded it, keeps it in its ledger and
      // removes it at a later sync, once none does.
      const used = new Set<StoredEntry>();
      for (const entry of candidates) {
        const others = await users.others(cacheOf(entry), entry.sha256);
        if (others.length === 0) continue;
        used.add(entry);
        if (keptForOthers.has(entry.sha256)) continue;
        keptForOthers.add(entry.sha256);
        log.info(
          { repo: entry.repo, file: entry.filename, users: others },
          "left a file another llmlb on this cache uses; it goes once none does",
        );
      }
      const goes = (entry: StoredEntry) => unusedHere(entry.sha256) && !used.has(entry);
      const unused = entries.filter(goes);
      if (unused.length === 0) return [];
      entries = entries.filter((entry) => !goes(entry));
      // Each in the cache it was downloaded into: one used before still has this node's files.
      for (const entry of unused) {
        const root = cacheOf(entry);
        const repoDir = repoCacheDir(root, entry.repo);
        const snapshots = path.join(repoDir, "snapshots");
        const link = path.join(snapshots, entry.commit, ...entry.filename.split("/"));
        await fs.rm(link, { force: true });
        await removeEmptyParents(path.dirname(link), snapshots);
        const blob = path.join(repoDir, "blobs", entry.sha256);
        if (entries.some((kept) => kept.sha256 === entry.sha256 && cacheOf(kept) === root)) {
          // Another model of this node still uses the bytes.
        } else if (await linkedFrom(snapshots, blob)) {
          // Another tool's snapshot uses the same bytes (the file at another commit, say).
          log.info({ repo: entry.repo, file: entry.filename }, "left a file another snapshot links to");
        } else if (await lockHeld(`${blob}.lock`)) {
          // Another process downloads it now (another llmlb on this cache, another worker): its bytes
          // so far are its own, and it will want the file.
          log.info({ repo: entry.repo, file: entry.filename }, "left a file another download holds");
        } else {
          // The blob, or what a download stopped by the deletion left of it.
          const { partial, pieces, partialState } = partialFiles(blob);
          for (const file of [blob, partial, pieces, partialState]) await fs.rm(file, { force: true });
          // Left by a worker killed mid-download.
          await removeStaleLock(`${blob}.lock`, log);
        }
        log.info({ repo: entry.repo, file: entry.filename }, "removed a model file no registered model uses");
      }
      for (const entry of unused) await tidyRepo(repoCacheDir(cacheOf(entry), entry.repo));
      await save();
      return unused.map(({ cache: _cache, ...entry }) => entry);
    },
  };
}

/** Whether a snapshot link under `snapshots` (any commit's, any tool's) points at `blob`. */
async function linkedFrom(snapshots: string, blob: string): Promise<boolean> {
  const found = await fs.readdir(snapshots, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of found) {
    if (!entry.isSymbolicLink()) continue;
    const link = path.join(entry.parentPath, entry.name);
    const target = await fs.readlink(link).catch(() => undefined);
    if (target !== undefined && path.resolve(path.dirname(link), target) === path.resolve(blob)) return true;
  }
  return false;
}

async function isDir(candidate: string): Promise<boolean> {
  return fs.stat(candidate).then(
    (stat) => stat.isDirectory(),
    () => false,
  );
}

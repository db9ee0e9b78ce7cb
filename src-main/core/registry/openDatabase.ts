import fs from "node:fs";
import path from "node:path";
import { keepPrivate } from "../../shared/privateFile";
import Database from "better-sqlite3";
import type { Logger } from "../../shared/logger";
import { migrations } from "./migrations";

export type Db = Database.Database;

export interface OpenDatabaseOptions {
  /** Database file, or ":memory:". */
  file: string;
  log: Logger;
  /** Told when the database was an older llmlb's and is migrated: what a user going back needs. */
  onUpgraded?: (upgrade: DatabaseUpgrade) => void;
}

/** A database migrated from an older llmlb's schema, and where it is kept as it was. */
export interface DatabaseUpgrade {
  from: number;
  to: number;
  kept: string;
}

/** Opens the registry: WAL, foreign keys on, migrated to the latest schema. */
export function openDatabase(options: OpenDatabaseOptions): Db {
  if (options.file !== ":memory:") fs.mkdirSync(path.dirname(options.file), { recursive: true });
  let db: Db | undefined;
  try {
    if (options.file !== ":memory:") {
      // Endpoints' API keys and stored conversations: this user's alone, journal files and the copies
      // kept before migrations included.
      keepPrivate(options.file);
      for (const file of [`${options.file}-wal`, `${options.file}-shm`, ...keptCopies(options.file)])
        if (fs.existsSync(file)) keepPrivate(file);
    }
    db = new Database(options.file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    // SQLite reads the schema at the first statement: a garbled one is found here, not in some query.
    db.prepare("SELECT name FROM sqlite_master LIMIT 1").get();
    const upgrade = migrate(db, options.file, options.log);
    if (upgrade) options.onUpgraded?.(upgrade);
  } catch (error) {
    db?.close();
    throw damaged(error, options.file) ?? error;
  }
  return db;
}

/** SQLite's codes for a file that is not (or no longer) a database it can read. */
const damagedCodes = new Set(["SQLITE_CORRUPT", "SQLITE_NOTADB"]);

/**
 * A database SQLite cannot read, as an error that names the file and the ways on; undefined for any
 * other failure. Moving it aside loses the registry, not the model files: a new registry deletes none.
 */
function damaged(error: unknown, file: string): Error | undefined {
  const code = (error as { code?: unknown }).code;
  const message = (error as Error).message ?? "";
  if (!damagedCodes.has(String(code)) && !/malformed database schema/.test(message)) return undefined;
  const backups = keptCopies(file);
  const restore =
    backups.length > 0
      ? ` put one kept before a migration (${backups.join(", ")}) in its place (what was registered or removed since is lost), or`
      : "";
  return new Error(
    `The registry ${file} is damaged (${message}), so llmlb cannot read it. Stop llmlb, then${restore} move it aside (with its -wal and -shm files) to start with an empty registry: the model files stay in the cache, and a model registered again is ready without downloading it.`,
    { cause: error },
  );
}

/** The copies of `file` kept before migrations (see backupBeforeMigration), by path. */
function keptCopies(file: string): string[] {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => name.startsWith(`${path.basename(file)}.schema-`))
    .map((name) => path.join(dir, name));
}

/** Where the database as it was before a migration from schema `version` is kept. */
export const backupBeforeMigration = (file: string, version: number) => `${file}.schema-${version}.bak`;

function migrate(db: Db, file: string, log: Logger): DatabaseUpgrade | undefined {
  const current = db.pragma("user_version", { simple: true }) as number;
  const latest = migrations.length;
  if (current > latest) {
    const kept = file === ":memory:" ? undefined : backupBeforeMigration(file, latest);
    const back =
      kept !== undefined && fs.existsSync(kept)
        ? ` To go back to this llmlb instead, stop the newer one and put ${kept} (the database as it was before the newer one changed it) in place of ${file}; what was done since is lost.`
        : "";
    throw new Error(
      `The database schema (version ${current}) is newer than this app understands (${latest}): a newer llmlb wrote it. Run that newer llmlb on this data directory.${back}`,
    );
  }
  let upgrade: DatabaseUpgrade | undefined;
  if (current > 0 && current < latest && file !== ":memory:") {
    // The database as it was, for going back to the llmlb that wrote it: a migration is one way.
    const kept = backupBeforeMigration(file, current);
    fs.rmSync(kept, { force: true });
    // Made empty and private first: SQLite writes into an empty file, and would make it readable by all.
    keepPrivate(kept);
    db.prepare("VACUUM INTO ?").run(kept);
    log.info({ kept }, "database kept as it was before its migration");
    upgrade = { from: current, to: latest, kept };
  }
  for (let version = current; version < latest; version++) {
    db.transaction(() => {
      db.exec(migrations[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
  if (current < latest) {
    // A new database is "migrated" from 0: one line says what happened either way.
    const what = current === 0 ? "database created" : "database migrated";
    log.info({ from: current, to: latest }, what);
  }
  return upgrade;
}

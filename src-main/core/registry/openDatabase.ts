import fs from "node:fs";
import path from "node:path";
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
  const db = new Database(options.file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  try {
    const upgrade = migrate(db, options.file, options.log);
    if (upgrade) options.onUpgraded?.(upgrade);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
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

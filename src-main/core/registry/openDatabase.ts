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
    migrate(db, options.log);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function migrate(db: Db, log: Logger): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(
      `The database schema (version ${current}) is newer than this app understands (${migrations.length}); update llmlb.`,
    );
  }
  for (let version = current; version < migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
  if (current < migrations.length) {
    // A new database is "migrated" from 0: one line says what happened either way.
    const what = current === 0 ? "database created" : "database migrated";
    log.info({ from: current, to: migrations.length }, what);
  }
}

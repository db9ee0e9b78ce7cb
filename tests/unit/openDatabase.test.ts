import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import Database from "better-sqlite3";
import { createLogger } from "../../src-main/shared/logger";
import { migrations } from "../../src-main/core/registry/migrations";
import { backupBeforeMigration, openDatabase } from "../../src-main/core/registry/openDatabase";
import { makeTempDir } from "../helpers/tempDir";
import { olderDatabase } from "../helpers/olderDatabase";

const log = createLogger({ level: "silent" });

it("opens in WAL mode with foreign keys, migrated to the latest version, and reopens without migrating again", async () => {
  const temp = await makeTempDir();
  try {
    const file = path.join(temp.path, "nested", "llmlb.db");
    const db = openDatabase({ file, log });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(db.pragma("user_version", { simple: true })).toBe(migrations.length);
    db.close();
    const again = openDatabase({ file, log });
    expect(again.pragma("user_version", { simple: true })).toBe(migrations.length);
    again.close();
  } finally {
    await temp.remove();
  }
});

it.skipIf(process.platform === "win32")(
  "keeps the database and its journal files to this user (they hold API keys), one made open before included",
  async () => {
    const temp = await makeTempDir();
    try {
      const file = path.join(temp.path, "llmlb.db");
      const db = openDatabase({ file, log });
      db.prepare("CREATE TABLE IF NOT EXISTS probe (x)").run();
      for (const name of [file, `${file}-wal`, `${file}-shm`])
        expect(fs.statSync(name).mode & 0o777, name).toBe(0o600);
      db.close();
      // Made by an older llmlb, readable by all.
      fs.chmodSync(file, 0o644);
      openDatabase({ file, log }).close();
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      await temp.remove();
    }
  },
);

it("refuses a database from a newer version of the app instead of damaging it", async () => {
  const temp = await makeTempDir();
  try {
    const file = path.join(temp.path, "llmlb.db");
    const newer = new Database(file);
    newer.pragma(`user_version = ${migrations.length + 1}`);
    newer.close();
    expect(() => openDatabase({ file, log })).toThrow(/newer than this app understands/);
  } finally {
    await temp.remove();
  }
});

it("keeps the database as it was before a migration, and points a downgraded llmlb at it", async () => {
  const temp = await makeTempDir();
  try {
    const file = path.join(temp.path, "llmlb.db");
    // A database of an older llmlb: the first migrations only, and a model in it.
    const before = migrations.length - 3;
    const older = olderDatabase(file, before);
    older
      .prepare(
        "INSERT INTO models (id, repo, filename, revision, commit_sha, source, display_name, size_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        "org/old",
        "org/old",
        null,
        "main",
        "a".repeat(40),
        "huggingface",
        "old",
        1,
        new Date(0).toISOString(),
      );
    older.close();

    openDatabase({ file, log }).close();
    // It holds what the database holds (endpoints' API keys): this user's alone.
    if (process.platform !== "win32")
      expect(fs.statSync(backupBeforeMigration(file, before)).mode & 0o777).toBe(0o600);
    const kept = new Database(backupBeforeMigration(file, before), { readonly: true });
    expect(kept.pragma("user_version", { simple: true })).toBe(before);
    expect(kept.prepare("SELECT id FROM models").pluck().all()).toEqual(["org/old"]);
    kept.close();

    // The database, now newer than an llmlb that knows only the old schema: as that llmlb tells it.
    const upgraded = new Database(file);
    upgraded.pragma(`user_version = ${migrations.length + 1}`);
    upgraded.close();
    fs.copyFileSync(backupBeforeMigration(file, before), backupBeforeMigration(file, migrations.length));
    expect(() => openDatabase({ file, log })).toThrow(
      `put ${backupBeforeMigration(file, migrations.length)} (the database as it was before the newer one changed it) in place of ${file}`,
    );
  } finally {
    await temp.remove();
  }
});

it("names a damaged database and the ways on, whether it is no database at all or its schema is garbled", async () => {
  const temp = await makeTempDir();
  try {
    const file = path.join(temp.path, "llmlb.db");
    fs.writeFileSync(file, Buffer.alloc(8192, 0x5a));
    expect(() => openDatabase({ file, log })).toThrow(
      new RegExp(
        `^The registry ${file} is damaged \\(.+\\), so llmlb cannot read it\\. Stop llmlb, then move it aside .* the model files stay in the cache`,
      ),
    );

    fs.rmSync(file);
    openDatabase({ file, log }).close();
    // Bytes of the schema's text flipped, as a failing disk or a stray write leaves them.
    const bytes = fs.readFileSync(file);
    for (let at = bytes.indexOf("REFERENCES"); at >= 0; at = bytes.indexOf("REFERENCES", at + 1)) {
      bytes[at + 1] = 0xde;
      bytes[at + 2] = 0xad;
    }
    fs.writeFileSync(file, bytes);
    expect(() => openDatabase({ file, log })).toThrow(
      /^The registry \S+ is damaged \(malformed database schema/,
    );
  } finally {
    await temp.remove();
  }
});

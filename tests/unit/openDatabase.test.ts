import path from "node:path";
import { expect, it } from "vitest";
import Database from "better-sqlite3";
import { createLogger } from "../../src-main/shared/logger";
import { migrations } from "../../src-main/core/registry/migrations";
import { openDatabase } from "../../src-main/core/registry/openDatabase";
import { makeTempDir } from "../helpers/tempDir";

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

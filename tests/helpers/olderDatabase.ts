import Database from "better-sqlite3";
import { migrations } from "../../src-main/core/registry/migrations";

/**
 * The database an older llmlb left at `file`: its first `applied` migrations, and the schema version
 * they make. Open, for the rows that llmlb would have written; close it before llmlb opens the file.
 */
export function olderDatabase(file: string, applied: number): Database.Database {
  const older = new Database(file);
  for (const migration of migrations.slice(0, applied)) older.exec(migration);
  older.pragma(`user_version = ${applied}`);
  return older;
}

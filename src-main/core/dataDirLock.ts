import path from "node:path";
import Database from "better-sqlite3";
import { dataFiles, readServerInfo } from "./dataDir";

/** Another llmlb holds the data directory; `url` is where it serves, when it said so in server.json. */
export class DataDirInUseError extends Error {
  constructor(
    message: string,
    readonly url: string | undefined,
  ) {
    super(message);
    this.name = "DataDirInUseError";
  }
}

/**
 * Takes the data directory for this process: one control plane per directory, or two would share
 * server.json, the workers' downloads and the cache they prune. The lock is SQLite's exclusive lock
 * on `serve.lock`, an operating-system file lock: taken atomically, and let go by the system the
 * moment its holder exits, however it exits, so no lock is ever left behind to clear by hand.
 * Returns the release.
 */
export function lockDataDir(dataDir: string): () => void {
  const lock = new Database(path.join(dataDir, dataFiles.lock), { timeout: 0 });
  try {
    // In exclusive locking mode, the lock a write takes is kept until the connection closes.
    lock.pragma("locking_mode = EXCLUSIVE");
    lock.exec("BEGIN EXCLUSIVE");
    lock.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL)");
    lock.prepare("DELETE FROM holder").run();
    lock.prepare("INSERT INTO holder (pid) VALUES (?)").run(process.pid);
    lock.exec("COMMIT");
  } catch (error) {
    lock.close();
    if ((error as { code?: string }).code !== "SQLITE_BUSY") throw error;
    const info = readServerInfo(dataDir);
    const where = info ? ` (pid ${info.pid} at ${info.url})` : "";
    throw new DataDirInUseError(
      `llmlb is already running for ${dataDir}${where}. Stop it first (\`llmlb quit\`), or start this one with another --data-dir (LLMLB_DATA_DIR).`,
      info?.url,
    );
  }
  // Kept reachable until released: a connection the garbage collector reclaims closes, and unlocks.
  heldLocks.add(lock);
  return () => {
    heldLocks.delete(lock);
    lock.close();
  };
}

const heldLocks = new Set<Database.Database>();

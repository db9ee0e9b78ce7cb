import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

/** Files the control plane keeps in its data directory, and what the CLI reads back. */
export const dataFiles = {
  database: "llmlb.db",
  adminToken: "admin-token",
  nodeToken: "node-token",
  server: "server.json",
  /** Locked by the one control plane using this directory (see lockDataDir). */
  lock: "serve.lock",
  /** The Hugging Face token set from the app, in headless mode (the desktop app uses the keychain). */
  hfToken: "hf-token",
  /** The desktop app's log, its workers' output included (`llmlb serve` logs to standard error). */
  log: "logs/llmlb.log",
} as const;

export interface ServerInfo {
  url: string;
  pid: number;
  startedAt: string;
}

export function ensureDataDir(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
}

/**
 * A secret kept in the data directory: the configured one, else the one kept from an earlier
 * start, else a new one. Written with mode 0600 so only this user can read it.
 */
function loadOrCreateSecret(dataDir: string, name: string, prefix: string, configured?: string): string {
  if (configured) return configured;
  const existing = readSecret(dataDir, name);
  if (existing && existing.length >= 16) return existing;
  const file = path.join(dataDir, name);
  const secret = `${prefix}_${crypto.randomBytes(24).toString("base64url")}`;
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return secret;
}

function readSecret(dataDir: string, name: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dataDir, name), "utf8").trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The admin token: everything under /v0. */
export const loadOrCreateAdminToken = (dataDir: string, configured?: string) =>
  loadOrCreateSecret(dataDir, dataFiles.adminToken, "llmlb", configured);

export const readAdminToken = (dataDir: string) => readSecret(dataDir, dataFiles.adminToken);

/** The node token: what a node shows to join (register with) this control plane. */
export const loadOrCreateNodeToken = (dataDir: string, configured?: string) =>
  loadOrCreateSecret(dataDir, dataFiles.nodeToken, "llmlb_node", configured);

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
    throw new Error(
      `llmlb is already running for ${dataDir}${where}. Stop it first, or start this one with another --data-dir.`,
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

export function writeServerInfo(dataDir: string, info: ServerInfo): void {
  const file = path.join(dataDir, dataFiles.server);
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(info, null, 2), { mode: 0o600 });
  fs.renameSync(temp, file);
}

export function readServerInfo(dataDir: string): ServerInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, dataFiles.server), "utf8")) as ServerInfo;
  } catch {
    return undefined;
  }
}

/** Removes server.json only if it still describes this process (a newer server may have replaced it). */
export function clearServerInfo(dataDir: string, pid: number): void {
  if (readServerInfo(dataDir)?.pid === pid) fs.rmSync(path.join(dataDir, dataFiles.server), { force: true });
}

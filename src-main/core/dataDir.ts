import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** Files the control plane keeps in its data directory, and what the CLI reads back. */
export const dataFiles = {
  database: "llmlb.db",
  adminToken: "admin-token",
  nodeToken: "node-token",
  server: "server.json",
  /** Held by the one control plane using this directory: its pid. */
  lock: "serve.lock",
  /** The Hugging Face token set from the app, in headless mode (the desktop app uses the keychain). */
  hfToken: "hf-token",
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

/** Whether a process with this pid exists (signal 0 only checks). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the data directory for this process: one control plane per directory, or two would share
 * server.json, the workers' downloads and the cache they prune. A lock left by a process that is gone
 * is taken over. Returns the release.
 */
export function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, dataFiles.lock);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx", mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
    }
    const holder = Number.parseInt(fs.readFileSync(file, "utf8"), 10);
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)) {
      const info = readServerInfo(dataDir);
      const where = info?.pid === holder ? ` at ${info.url}` : "";
      throw new Error(
        `llmlb is already running for ${dataDir} (pid ${holder}${where}). Stop it first, or start ` +
          `this one with another --data-dir. If no llmlb runs, delete ${file}.`,
      );
    }
    fs.rmSync(file, { force: true });
  }
  return () => {
    try {
      if (fs.readFileSync(file, "utf8") === String(process.pid)) fs.rmSync(file, { force: true });
    } catch {
      // already gone
    }
  };
}

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

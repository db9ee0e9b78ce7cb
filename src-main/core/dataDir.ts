import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** Files the control plane keeps in its data directory, and what the CLI reads back. */
export const dataFiles = {
  database: "llmlb.db",
  adminToken: "admin-token",
  server: "server.json",
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
 * The admin token: the configured one, else the one kept from an earlier start, else a new one.
 * Written with mode 0600 so only this user can read it.
 */
export function loadOrCreateAdminToken(dataDir: string, configured?: string): string {
  const file = path.join(dataDir, dataFiles.adminToken);
  if (configured) return configured;
  try {
    const existing = fs.readFileSync(file, "utf8").trim();
    if (existing.length >= 16) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const token = `llmlb_${crypto.randomBytes(24).toString("base64url")}`;
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return token;
}

export function readAdminToken(dataDir: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dataDir, dataFiles.adminToken), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
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

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { writePrivateFile } from "../shared/privateFile";

/** Files the control plane keeps in its data directory, and what the CLI reads back. */
export const dataFiles = {
  database: "llmlb.db",
  adminToken: "admin-token",
  nodeToken: "node-token",
  server: "server.json",
  /** Locked by the one control plane using this directory (see dataDirLock.ts). */
  lock: "serve.lock",
  /** The Hugging Face token set from the app, in headless mode (the desktop app uses the keychain). */
  hfToken: "hf-token",
  /** The Hugging Face token the desktop app keeps encrypted by the OS (safeStorage), where it can. */
  hfTokenEncrypted: "hf-token.enc",
  /** The desktop app's log, its workers' output included (`llmlb serve` logs to standard error). */
  log: "logs/llmlb.log",
} as const;

export interface ServerInfo {
  url: string;
  pid: number;
  startedAt: string;
}

/**
 * The data directory, readable by this user only: it holds the tokens, the endpoints' API keys and
 * stored conversations. One that others may read (made by another tool, or by `mkdir` before llmlb
 * first started) is closed to them; one another user owns is left as it is.
 */
export function ensureDataDir(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (process.platform === "win32") return;
  const { uid, mode } = fs.statSync(dataDir);
  if (uid === process.getuid?.() && (mode & 0o077) !== 0) fs.chmodSync(dataDir, 0o700);
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

/** A new node token in place of the kept one (written whole, then moved over it), as it is now. */
export function replaceNodeToken(dataDir: string): string {
  const secret = `llmlb_node_${crypto.randomBytes(24).toString("base64url")}`;
  writePrivateFile(path.join(dataDir, dataFiles.nodeToken), `${secret}\n`);
  return secret;
}

export function writeServerInfo(dataDir: string, info: ServerInfo): void {
  writePrivateFile(path.join(dataDir, dataFiles.server), JSON.stringify(info, null, 2));
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

import { setTimeout as delay } from "node:timers/promises";
import { quitResponseSchema } from "../contract";
import { readServerInfo } from "../core/dataDir";
import { CliError, type ApiClient } from "./apiClient";
import type { Output } from "./modelCommands";

/** The process is gone (a server that died leaves its server.json behind). */
function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** Whether the server at `url` refuses connections now; one that accepts and is slow to answer is still there. */
async function refuses(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/v0/health`, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch (error) {
    return (error as Error).name !== "TimeoutError";
  }
}

/**
 * Stopped: its `server.json` is gone (removed last, after the drain and the workers) or names another
 * process; without one to watch (`--url` elsewhere), once the URL no longer answers.
 */
async function hasStopped(client: ApiClient): Promise<boolean> {
  const listed = client.server;
  if (!listed) return refuses(client.url);
  if (readServerInfo(client.dataDir)?.pid !== listed.pid) return true;
  return processGone(listed.pid) && (await refuses(client.url));
}

/**
 * `llmlb quit`: asks the server to stop (`POST /v0/quit`: running requests finish, then its workers
 * stop) and waits, up to the client's timeout, until it has.
 */
export async function quitServer(client: ApiClient, io: Output): Promise<void> {
  await client.request(quitResponseSchema, "POST", "/v0/quit");
  io.out(`Quitting llmlb at ${client.url}: running requests finish, then its workers stop.`);
  const deadline = Date.now() + client.timeoutMs;
  // Another process's state, with no event to wait on: looked at until it changes or time is up.
  while (!(await hasStopped(client))) {
    if (Date.now() > deadline) {
      throw new CliError(
        `llmlb at ${client.url} is still stopping after ${client.timeoutMs / 1000} s (long requests may still be running): ` +
          "`llmlb status` says whether it answers; --timeout sets how long to wait.",
      );
    }
    await delay(100);
  }
  io.out(`llmlb at ${client.url} has stopped.`);
}

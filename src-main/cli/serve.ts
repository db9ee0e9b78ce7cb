import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Config } from "../core/config";
import { isLoopbackHost } from "../shared/httpGuards";
import { dashboardLink } from "../contract/dashboardLink";
import { createCore } from "../core/createCore";
import { createLogger, workerLinesOut } from "../shared/logger";
import { createNodeWorkerLauncher } from "../core/supervisor/workerLauncher";
import { CliError } from "./apiClient";
import { packageVersion, rendererDir, workerEntry } from "./packageInfo";
import { whyFolderUnusable } from "../shared/usableFolder";

/** The addresses other machines reach this one at when listening on `host` (every interface for 0.0.0.0 or ::). */
function networkAddresses(host: string): string[] {
  if (host !== "0.0.0.0" && host !== "::") return [host.includes(":") ? `[${host}]` : host];
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined && !entry.internal && entry.family === "IPv4")
    .map((entry) => entry!.address);
}

/** API keys shorter than this are guessed by someone with time and a script. */
const goodKeyLength = 16;
export interface ServeIo {
  out: (line: string) => void;
}

/** `llmlb serve`: the headless control plane, until SIGINT or SIGTERM. */
export async function serve(config: Config, io: ServeIo): Promise<void> {
  const dataProblem = whyFolderUnusable(config.dataDir);
  if (dataProblem) {
    throw new CliError(
      `The data directory ${config.dataDir} cannot be used: ${dataProblem}. Choose another with --data-dir or LLMLB_DATA_DIR.`,
    );
  }
  // Missing, while models are registered: they were downloaded elsewhere (a moved home folder, a disk
  // not mounted), and would all be downloaded again into a new empty cache.
  const cacheWasMissing = !fs.existsSync(config.hubCacheDir);
  // Every download would fail on it, each with an errno of its own: say it once, before starting.
  const cacheProblem = whyFolderUnusable(config.hubCacheDir);
  if (cacheProblem) {
    throw new CliError(
      `The model cache folder ${config.hubCacheDir} cannot be used: ${cacheProblem}. ${
        config.overridden.includes("hubCacheDir")
          ? "Point HF_HUB_CACHE (or HF_HOME) at a folder this user can write."
          : `Choose a folder this user can write: hubCacheDir in ${path.join(config.dataDir, "config.json")}, or HF_HUB_CACHE.`
      }`,
    );
  }
  const log = createLogger({ level: config.logLevel });
  if (config.corsOrigins.includes("*") && config.apiKeys.length === 0) {
    log.warn("CORS for any origin without API keys: any web page this browser opens can use /v1");
  }
  if (!isLoopbackHost(config.host) && config.apiKeys.length > 0) {
    log.info({ host: config.host }, "listening beyond loopback: /v1 needs one of the API keys");
  }
  let stop: (reason: string) => void = () => undefined;
  let stopping = false;
  const core = await createCore({
    config,
    log,
    version: packageVersion(),
    rendererDir: rendererDir(),
    workerLauncher: createNodeWorkerLauncher(workerEntry()),
    onWorkerOutput: workerLinesOut(),
    requestQuit: () => stop("asked over /v0/quit (the dashboard or `llmlb quit`)"),
  });
  const registered = core.models.count();
  if (cacheWasMissing && registered > 0) {
    log.warn(
      { cache: config.hubCacheDir, models: registered },
      "the model cache folder did not exist and was created empty: the registered models download again into it. If they are elsewhere (another disk, a moved home folder), stop llmlb and point it there (llmlb settings set --cache-dir <folder>, or HF_HUB_CACHE)",
    );
  }
  // Signal handlers go in before listening: a SIGTERM during start-up still shuts down cleanly
  // (workers stopped, server.json removed) instead of killing the process outright.
  // A second signal during the drain (Ctrl-C twice, a process manager's SIGTERM after Ctrl-C) changes
  // nothing: the drain is bounded (running requests, then the workers' stop timeout).
  const stopped = new Promise<void>((resolve) => {
    stop = (reason) => {
      if (stopping) return log.info({ reason }, "already shutting down");
      stopping = true;
      log.info({ reason }, "shutting down");
      void core.dispose().finally(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  let url: string;
  try {
    url = await core.listen();
  } catch (error) {
    await core.dispose();
    throw error;
  }
  io.out(`llmlb is serving on ${url}`);
  io.out(`  OpenAI API:  ${url}/v1`);
  io.out(`  Dashboard:   ${dashboardLink(url, core.adminToken)}`);
  io.out(`  Data:        ${config.dataDir}`);
  io.out(`  Model cache: ${config.hubCacheDir}`);
  const upgraded = core.upgradedDatabase();
  if (upgraded)
    io.out(
      `  Upgraded:    the database of an older llmlb (schema ${upgraded.from} → ${upgraded.to}); to go back to that llmlb, put ${upgraded.kept} in its place`,
    );
  if (!isLoopbackHost(config.host)) {
    // What other machines use: this machine's addresses, not loopback.
    const port = new URL(url).port;
    for (const address of networkAddresses(config.host))
      io.out(
        `  Network:     http://${address}:${port}/v1${config.apiKeys.length > 0 ? " (with an API key)" : ""}`,
      );
    io.out("  Join:        `llmlb node token` prints the command that joins another machine");
    const short = config.apiKeys.filter((key) => key.length < goodKeyLength).length;
    if (short > 0)
      io.out(
        `  Warning:     ${short === 1 ? "an API key is" : `${short} API keys are`} shorter than ${goodKeyLength} characters: anyone who can reach this port may guess ${short === 1 ? "it" : "them"} (an address is held back after 20 different wrong keys a minute). \`openssl rand -hex 16\` makes a good one.`,
      );
  }
  await core.workersStarted();
  const workers = core.workers();
  if (!stopping) {
    // Before the Workers line, which ends the banner.
    for (const { backend, reason } of core.backendsLeftOut()) io.out(`  GPU unused:  ${backend}: ${reason}`);
    io.out(
      `  Workers:     ${workers.length === 0 ? "none" : workers.map((w) => `${w.name} (${w.backend})`).join(", ")}`,
    );
  }
  await stopped;
}

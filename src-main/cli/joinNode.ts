import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Config } from "../core/config";
import { isLoopbackHost } from "../shared/httpGuards";
import { createLogger, workerLinesOut } from "../shared/logger";
import { systemClock } from "../shared/clock";
import { nodeProtocol } from "../contract";
import { PortTakenError, startLocalWorkers } from "../core/supervisor/startLocalWorkers";
import { createNodeWorkerLauncher } from "../core/supervisor/workerLauncher";
import { CliError } from "./apiClient";
import type { Output } from "./modelCommands";
import { workerEntry } from "./packageInfo";
import { keptNodeToken } from "../worker/keptNodeToken";

export interface JoinOptions {
  controlUrl: string;
  token: string;
  /** Address the workers listen on. */
  host: string;
  /** How the control plane reaches them; default: the listen address, or this machine's first LAN address. */
  advertiseHost?: string;
  /** Prefix of the workers' names (`<name>-cuda0`…). */
  name: string;
  /** The first worker's port, the next ones' after it; default: free ones. */
  basePort?: number;
}

/**
 * The control plane's base URL as given: the `/v1` address `llmlb serve` prints for OpenAI clients
 * names the same server; a URL needs its scheme.
 */
function controlBase(given: string): string {
  if (!/^https?:\/\//i.test(given)) {
    throw new CliError(
      `--join ${JSON.stringify(given)} is not an http(s) URL: give the control plane's, like http://${given.replace(/^\/+/, "")}.`,
      2,
    );
  }
  const url = URL.parse(given);
  if (url && (url.hash || url.search)) {
    const base = `${url.origin}${url.pathname}`.replace(/\/+$/, "");
    const what = url.hash ? "#fragment" : "?query";
    // The dashboard link (`…/#token=…`) carries the admin token: it is named, never said back.
    const dashboard = /token=/.test(url.hash + url.search)
      ? ": that is the dashboard's link, whose token is the admin token. A machine joins with the node token (`llmlb node token` on the control plane's machine)"
      : "";
    throw new CliError(`--join takes the control plane's address, ${base}, with no ${what}${dashboard}.`, 2);
  }
  return given.replace(/\/+$/, "").replace(/\/v1$/, "");
}

/** The first non-internal IPv4 address: how another machine most likely reaches this one. */
function lanAddress(): string | undefined {
  return Object.values(os.networkInterfaces())
    .flat()
    .find((address) => address && address.family === "IPv4" && !address.internal)?.address;
}

/**
 * Checks the control plane answers and takes the token before starting workers, so a typo fails
 * here with a clear message instead of workers retrying forever. The registration route checks the
 * token before it reads the body: an empty body answers 400 with a good token and 401 with a bad one.
 * A node token refused, the machine still goes on where a token its workers were given when they last
 * joined is taken (the node token was replaced since, and this machine was not removed); whether it
 * did is the answer.
 */
async function preflight(controlUrl: string, token: string, kept: string[]): Promise<boolean> {
  let status = await answerTo(controlUrl, token);
  let withKept = false;
  for (const own of kept) {
    if (status !== 401) break;
    status = await answerTo(controlUrl, own);
    withKept = status !== 401;
  }
  if (status === 401) {
    throw new CliError(
      `The control plane at ${controlUrl} refused the node token: \`llmlb node token\` there prints the one it takes.`,
    );
  }
  if (status === 403) {
    throw new CliError(
      `The control plane at ${controlUrl} refused the Host name: use its IP address, or start it with \`--allow-host <name>\`.`,
    );
  }
  if (status !== 400) {
    throw new CliError(`${controlUrl} does not look like an llmlb control plane (it answered ${status}).`);
  }
  return withKept;
}

/** The status the registration route answers an empty body sent with `token`. */
async function answerTo(controlUrl: string, token: string): Promise<number> {
  try {
    const answer = await fetch(`${controlUrl}${nodeProtocol.register.path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}",
      signal: AbortSignal.timeout(10_000),
    });
    await answer.body?.cancel();
    return answer.status;
  } catch (error) {
    throw new CliError(
      `Cannot reach the control plane at ${controlUrl} (${(error as Error).message}). Is \`llmlb serve\` running there, listening beyond loopback (\`--host 0.0.0.0 --api-key <key>\`)?`,
    );
  }
}

/** The tokens this machine's workers named `<prefix>-…` were given when they last joined. */
function keptTokens(stateDir: string, prefix: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(stateDir).filter((name) => name.startsWith(`${prefix}-`));
  } catch {
    return [];
  }
  return names.flatMap((name) => keptNodeToken(path.join(stateDir, name, "node-token")).read() ?? []);
}

/** `llmlb node --join`: this machine's workers (one per GPU) serve another machine's control plane. */
export async function joinControlPlane(config: Config, options: JoinOptions, io: Output): Promise<void> {
  const controlUrl = controlBase(options.controlUrl);
  // No control plane takes a shorter one; its workers could not even start with it.
  if (options.token.length < 16)
    throw new CliError(
      "--token is too short for a node token (they have at least 16 characters): `llmlb node token` on the control plane prints the one it takes.",
    );
  const stateDir = path.join(config.dataDir, "nodes");
  if (await preflight(controlUrl, options.token, keptTokens(stateDir, options.name)))
    io.err(
      "note: the control plane refused this node token, but takes the tokens this machine's workers were given when they last joined: they join with those. A worker that has none (a GPU added since) is left out: `llmlb node token` on the control plane prints the node token it takes now.",
    );
  const wildcard = options.host === "0.0.0.0" || options.host === "::";
  const advertiseHost = options.advertiseHost ?? (wildcard ? (lanAddress() ?? "127.0.0.1") : options.host);
  const remote = !isLoopbackHost(new URL(controlUrl).hostname);
  if (remote && isLoopbackHost(advertiseHost)) {
    throw new CliError(
      `The control plane at ${controlUrl} cannot reach workers on ${advertiseHost}: pass --host 0.0.0.0 (and --advertise-host <this machine's name or address>).`,
    );
  }

  const log = createLogger({ level: config.logLevel });
  if (config.workers === "none") throw new CliError("--workers none leaves nothing to join with.");
  // Each worker's first word from the control plane: registered (undefined), or refused and why.
  const firstOutcomes = new Map<string, string | undefined>();
  let outcomeCame = () => {};
  /** Workers registered and not refused since. */
  const serving = new Set<string>();
  // Refused later, for good (removed there by force with its node token replaced; its name taken
  // meanwhile): trying on forever would help nobody, so that worker stops; the join ends with the
  // last one serving.
  const refusedLater: [name: string, why: string][] = [];
  let joined = false;
  let noneLeft = () => {};
  const noneServing = new Promise<void>((resolve) => (noneLeft = resolve));
  const refusal = (name: string, why: string) => `${name}: ${why.replace(/\.$/, "")}`;
  const started = await startLocalWorkers({
    mode: config.workers,
    launcher: createNodeWorkerLauncher(workerEntry()),
    log: log.child({ module: "supervisor" }),
    clock: systemClock,
    namePrefix: options.name,
    basePort: options.basePort,
    // Stopped here (Ctrl-C, a service manager), a worker lets its running requests finish first (up
    // to 10 s); its control plane sends it nothing new meanwhile.
    stopTimeoutMs: 15_000,
    stateDir,
    onWorkerOutput: workerLinesOut(),
    onRegistration: (name, refused) => {
      if (!firstOutcomes.has(name)) {
        firstOutcomes.set(name, refused);
        if (refused === undefined) serving.add(name);
        return outcomeCame();
      }
      if (refused === undefined || !serving.delete(name)) return;
      refusedLater.push([name, refused]);
      if (joined && serving.size === 0) return noneLeft();
      if (joined)
        io.err(
          `warning: the control plane at ${controlUrl} no longer takes ${refusal(name, refused)}; it is stopped, and the other workers go on.${tokenHint(refused)}`,
        );
      void started?.supervisor.retire(name);
    },
    launch: {
      controlUrl,
      nodeToken: options.token,
      host: options.host,
      advertiseHost,
      logLevel: config.logLevel,
      hubCacheDir: config.hubCacheDir,
      drainMs: 10_000,
      ...(config.maxLoadedModels !== undefined ? { maxLoadedModels: config.maxLoadedModels } : {}),
      ...(config.hfToken ? { hfToken: config.hfToken } : {}),
    },
    // Nothing aborts this start, so it always gives its workers.
  }).catch((error: unknown) => {
    throw error instanceof PortTakenError ? new CliError(error.message) : error;
  });
  const { supervisor, specs } = started!;
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    // A second signal (Ctrl-C, then a service manager's SIGTERM) changes nothing, as under serve: the
    // workers' drain is bounded.
    const stop = () => {
      if (stopping) return io.err("Already stopping: the workers finish what they run first.");
      stopping = true;
      outcomeCame();
      void supervisor.dispose().finally(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  // "Joined" once every worker has had its first answer. One refused for a reason that lasts is left
  // out, said once rather than in a warning repeated forever; the join ends only when none is taken.
  while (!stopping && firstOutcomes.size < specs.length)
    await new Promise<void>((resolve) => (outcomeCame = resolve));
  if (stopping) return stopped;
  // The others serve; a refused one would only knock on for nothing.
  const firstRefused = [...firstOutcomes].flatMap(([name, why]) =>
    why === undefined ? [] : [[name, why] as const],
  );
  await Promise.all(firstRefused.map(([name]) => supervisor.retire(name)));
  // Refusals that came meanwhile count too.
  const refused = [...firstRefused, ...refusedLater];
  const refusals = refused.map(([name, why]) => refusal(name, why)).join("; ");
  if (serving.size === 0) {
    await supervisor.dispose();
    throw new CliError(
      `Could not join the control plane at ${controlUrl}: ${refusals}.${tokenHint(refusals)}`,
    );
  }
  joined = true;
  io.out(`Joined ${controlUrl}`);
  io.out(`  Model cache: ${config.hubCacheDir}`);
  io.out(`  Reached at:  ${advertiseHost}`);
  for (const [index, [name, why]] of refused.entries())
    io.out(
      `  ${index === 0 ? "Left out:   " : "            "} ${name}: refused by the control plane: ${why.replace(/\.$/, "")}.${index === refused.length - 1 ? tokenHint(refusals) : ""}`,
    );
  const workers = specs.filter((spec) => serving.has(spec.name));
  io.out(`  Workers:     ${workers.map((spec) => `${spec.name} (${spec.backend})`).join(", ")}`);
  await Promise.race([stopped, noneServing]);
  if (stopping) return stopped;
  await supervisor.dispose();
  const all = refusedLater.map(([name, why]) => refusal(name, why)).join("; ");
  throw new CliError(`The control plane at ${controlUrl} no longer takes ${all}.${tokenHint(all)}`);
}

/** What to do about a refusal of the token: its control plane's node token was replaced. */
const tokenHint = (refusal: string) =>
  /token/i.test(refusal)
    ? " Its node token was replaced: its operator has the new one (llmlb node token there)."
    : "";

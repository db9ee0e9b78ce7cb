import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { once } from "node:events";
import readline from "node:readline";
import { modelSchema } from "../../src-main/contract";
import { waitFor } from "./waitFor";

const root = path.resolve(import.meta.dirname, "../..");
const cliArgs = ["--import", "tsx", path.join(root, "src-main/cli/main.ts")];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `llmlb <args>` from the sources as its own process; `input`, when given, is its standard input. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...cliArgs, ...args],
      { env: { ...process.env, ...env }, cwd: root },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  output: string[];
  /** What it has written to standard error so far (its log). */
  logs(): string;
  stop(): Promise<number | null>;
}

/**
 * Starts `llmlb serve` and resolves once it has printed its whole banner (URL first, workers last).
 * From the sources by default; `built: true` runs the build, as `npm run serve` does, with `node` if
 * given (another Node than this one). `ownGroup: true`
 * starts it in a process group of its own, as a terminal does, so a signal can go to the whole group
 * (Ctrl-C).
 */
export async function startServeProcess(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: {
    built?: boolean;
    ownGroup?: boolean;
    node?: string;
    /** A command it runs under (`unshare …`), which ends by running the rest of its arguments. */
    wrapper?: string[];
  } = {},
): Promise<ServeProcess> {
  const command = options.built ? [path.join(root, "bin/llmlb.js")] : cliArgs;
  const [program, ...programArgs] = [
    ...(options.wrapper ?? []),
    options.node ?? process.execPath,
    ...command,
    "serve",
    ...args,
  ];
  const child = spawn(program!, programArgs, {
    env: { ...process.env, ...env },
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.ownGroup ?? false,
  });
  const output: string[] = [];
  const lines = readline.createInterface({ input: child.stdout! });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    lines.on("line", (line) => {
      output.push(line);
      const match = /serving on (http:\/\/\S+)/.exec(output[0] ?? "");
      if (match && /^\s*Workers:/.test(line)) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`llmlb serve exited with ${code}: ${stderr}`)));
  });
  return {
    child,
    url,
    output,
    logs: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      return code as number | null;
    },
  };
}

/**
 * A management call to a running `llmlb serve`, with the admin token from its data directory (read
 * each time: a restarted server on the same directory keeps it). A 204 has no body.
 */
export async function adminRequest<T = any>(
  serverUrl: string,
  dataDir: string,
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const token = fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
  const response = await fetch(serverUrl + url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return {
    status: response.status,
    body: (response.status === 204 ? undefined : await response.json()) as T,
  };
}

/** Registers `model` on a running `llmlb serve` and waits until `nodes` of its workers have it ready. */
export async function registerAndWaitReady(
  serverUrl: string,
  dataDir: string,
  model: string,
  nodes = 1,
): Promise<void> {
  const registered = await adminRequest(serverUrl, dataDir, "POST", "/v0/models/register", { url: model });
  if (registered.status !== 201) throw new Error(`registering ${model}: ${JSON.stringify(registered.body)}`);
  await waitFor(
    `${model} ready on ${nodes} node(s)`,
    async () => {
      const answer = await adminRequest(serverUrl, dataDir, "GET", `/v0/models/${encodeURIComponent(model)}`);
      return modelSchema.parse(answer.body).nodes.filter((n) => n.state === "ready").length >= nodes;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

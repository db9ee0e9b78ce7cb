import { Command, CommanderError, InvalidArgumentError } from "commander";
import { createApiClient, CliError } from "./apiClient";
import { loadConfig } from "./loadConfig";
import { addModel, idOfLink, listModels, removeModel, type AddOptions, type Output } from "./modelCommands";
import {
  aliasModel,
  loadModel,
  updateModel,
  retryModel,
  setModel,
  showModel,
  unaliasModel,
  unloadModel,
} from "./modelSettingsCommands";
import { setServing, showDashboardLink, showStatus } from "./statusCommands";
import { listRequests, type RequestsOptions } from "./requestsCommand";
import { drainNode, listNodes, removeNode, showJoin } from "./nodeCommands";
import { addEndpoint, listEndpoints, removeEndpoint, setEndpoint } from "./endpointCommands";
import {
  chatCompletionRequestSchema,
  defaultEndpointParallel,
  defaultIdleTtlSeconds,
  endpointParallelBounds,
  modelSettingBounds,
  type BuildGpu,
} from "../contract";
import { buildGpuKernels } from "./gpuBuild";
import { setSettings, showSettings, type SettingsChange } from "./settingsCommands";
import { quitServer } from "./quitCommand";
import { chat, type ChatOptions } from "./chatCommand";
import type { ConfigFlags } from "./loadConfig";
import { packageVersion } from "./packageInfo";
import os from "node:os";

function portNumber(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError("Must be 0-65535");
  return port;
}

function workersMode(value: string): string {
  const workers = Number(value);
  if (!/^(auto|cuda|vulkan|metal|cpu|none|[1-9]\d?)$/.test(value) || workers > 64)
    throw new InvalidArgumentError(
      "Must be auto, cuda, vulkan, metal, cpu, none or a number of CPU workers from 1 to 64",
    );
  return value;
}

function gpuBackend(value: string): BuildGpu {
  if (value !== "cuda" && value !== "vulkan" && value !== "metal")
    throw new InvalidArgumentError("Must be cuda, vulkan or metal");
  return value;
}

function wholeNumber(value: string): string {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("Must be a whole number");
  return value;
}

function wholeSeconds(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 3600)
    throw new InvalidArgumentError("Must be a whole number of seconds from 1 to 3600");
  return Number(value);
}

/** A whole number in a setting's range, or the word that puts the setting back to its default. */
function numberOr<Word extends string>(word: Word, { min, max }: { min: number; max: number }) {
  return (value: string): number | Word => {
    if (value === word) return word;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      const range = `${min.toLocaleString("en-US")} to ${max.toLocaleString("en-US")}`;
      throw new InvalidArgumentError(`Must be ${word} or a whole number from ${range}`);
    }
    return Number(value);
  };
}

/** A whole number in a range, in digits. */
function wholeNumberIn({ min, max }: { min: number; max: number }, unit?: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      const range = `${min.toLocaleString("en-US")} to ${max.toLocaleString("en-US")}`;
      throw new InvalidArgumentError(`Must be a whole number${unit ? ` of ${unit}` : ""} from ${range}`);
    }
    return Number(value);
  };
}

/** A value that must not be empty: an empty one is more likely a script's slip than a wish. */
function notEmpty(what: string) {
  return (value: string): string => {
    if (value.trim() === "") throw new InvalidArgumentError(`Must name a ${what}`);
    return value;
  };
}

function overflowMode(value: string): "error" | "truncate_oldest" {
  if (value !== "error" && value !== "truncate_oldest")
    throw new InvalidArgumentError("Must be error or truncate_oldest");
  return value;
}

function nodeNames(value: string): string[] | "any" {
  if (value === "any") return "any";
  const names = value
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError("Must be any or node names separated by commas");
  return [...new Set(names)];
}

/** A temperature /v1 takes (the request's own bounds). */
function temperature(value: string): number {
  const t = Number(value);
  if (value.trim() === "" || !chatCompletionRequestSchema.shape.temperature.safeParse(t).success)
    throw new InvalidArgumentError("Must be a number from 0 to 2");
  return t;
}

/** A repeatable option: each use adds to the list. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * `npm run serve --port=8081` (no `--`): npm takes the flag as a setting of its own (npm_config_port)
 * and llmlb never sees it. Said, rather than serving on another port without a word.
 */
function warnOfNpmKeptFlags(env: NodeJS.ProcessEnv, given: Record<string, unknown>, io: Output): void {
  if (env.npm_lifecycle_event === undefined) return;
  for (const flag of ["port", "host", "workers"]) {
    const kept = env[`npm_config_${flag}`];
    if (kept === undefined || given[flag] !== undefined) continue;
    io.err(
      `warning: npm kept --${flag}=${kept} for itself, and llmlb did not get it: flags go after \`--\` (npm run serve -- --${flag} ${kept}).`,
    );
  }
}

/** Ollama's commands llmlb has under other names: what to type here. */
const ollamaWords: Record<string, string> = {
  list: "llmlb model list",
  ps: "llmlb status (what is loaded where), or llmlb model show <id>",
  pull: "llmlb model add <url|org/repo> --wait (a new model), or llmlb model update <id> (one registered)",
  stop: "llmlb model unload <id>",
  version: "llmlb --version",
  "-v": "llmlb --version",
  rm: "llmlb model rm <id>",
  show: "llmlb model show <id>",
};

/** Builds the `llmlb` program; `run` parses argv and resolves with the exit code. */
export function buildProgram(io: Output, env: NodeJS.ProcessEnv): Command {
  const program = new Command("llmlb")
    .description("Local OpenAI-compatible service across this machine's GPUs.")
    .version(packageVersion())
    .option("--data-dir <dir>", "data directory (default: the platform's app-data folder, or LLMLB_DATA_DIR)")
    .option("--url <url>", "server URL for client commands (default: the running server's)")
    .option("--token <token>", "admin token for client commands (default: read from the data directory)")
    .option(
      "--timeout <seconds>",
      "how long a client command waits for the server (default: 60)",
      wholeSeconds,
    )
    // The one line that says what is wrong, and where the usage is: not the whole usage after it.
    .showHelpAfterError("(add --help for usage)")
    // Each command's help shows --data-dir, --url and the rest too: `serve --help` is where one looks.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    });

  // Told on standard error: what config.json holds that llmlb does not read.
  const configFrom = (flags: ConfigFlags) => loadConfig(env, flags, io.err);
  // A node machine keeps LLMLB_NODE_TOKEN in its environment (the README says so), for `node --join`,
  // which reads it itself: a mistyped one there is not the client commands' business, nor join's
  // config's. Only `serve` makes it its own.
  const { LLMLB_NODE_TOKEN: _joinToken, ...clientEnv } = env;
  const clientConfigFrom = (flags: ConfigFlags) => loadConfig(clientEnv, flags, io.err);
  const client = () => {
    const globals = program.opts<{ dataDir?: string; url?: string; token?: string; timeout?: number }>();
    const config = clientConfigFrom({ dataDir: globals.dataDir });
    return createApiClient({
      dataDir: config.dataDir,
      url: globals.url,
      token: globals.token ?? config.adminToken,
      tokenSource:
        globals.token !== undefined
          ? "--token"
          : "the configured admin token (LLMLB_ADMIN_TOKEN or config.json)",
      timeoutMs: globals.timeout !== undefined ? globals.timeout * 1000 : undefined,
    });
  };

  program
    .command("serve")
    .description("run the control plane headless (OpenAI API, management API and dashboard)")
    .option("--host <host>", "address to listen on (default 127.0.0.1)")
    .option("--port <port>", "port; 0 picks a free one (default 8080, or LLMLB_PORT)", portNumber)
    .option(
      "--workers <mode>",
      "local workers: auto (one per GPU), cuda, vulkan or metal (that backend only), cpu, none, or a number of CPU workers (default auto, or LLMLB_WORKERS)",
      workersMode,
    )
    .option(
      "--api-key <key>",
      "a key /v1 clients must send as a bearer token; repeat for several (default: LLMLB_API_KEY, comma-separated, which other users cannot read in the process list as they can this flag; required beyond loopback)",
      collect,
    )
    .option(
      "--cors-origin <origin>",
      "a web origin (http://localhost:3000) whose pages may call /v1, or * for any; repeat for several (default: LLMLB_CORS_ORIGINS)",
      collect,
    )
    .option(
      "--allow-host <name>",
      "a host name clients may use besides loopback ones; repeat for several (default: LLMLB_ALLOWED_HOSTS)",
      collect,
    )
    .option(
      "--drain-timeout <seconds>",
      "how long stopping waits for running requests to finish (default 30, or LLMLB_DRAIN_TIMEOUT)",
      wholeNumberIn({ min: 0, max: 3600 }, "seconds"),
    )
    .action(
      async (options: {
        host?: string;
        port?: number;
        workers?: string;
        apiKey?: string[];
        allowHost?: string[];
        corsOrigin?: string[];
        drainTimeout?: string;
      }) => {
        const globals = program.opts<{ dataDir?: string }>();
        warnOfNpmKeptFlags(env, options, io);
        const config = configFrom({
          host: options.host,
          port: options.port,
          dataDir: globals.dataDir,
          workers: options.workers,
          apiKeys: options.apiKey,
          allowedHosts: options.allowHost,
          corsOrigins: options.corsOrigin,
          drainTimeoutSeconds: options.drainTimeout,
        });
        // Loaded only for the commands that run a server: the client commands start fast.
        const { serve } = await import("./serve");
        await serve(config, io);
      },
    );

  const model = program
    .command("model")
    .description("register, list, show, set up, alias, retry, load, unload and remove models");
  model
    .command("add <input>")
    .description("register a Hugging Face model: a URL, org/repo, org/repo/<file> or org/repo:<quant>")
    .option("--file <file>", "a file inside the repo")
    .option(
      "--revision <revision>",
      "branch, tag or commit (default main)",
      notEmpty("branch, tag or commit"),
    )
    .option("--nodes <names>", "only these nodes download and serve it (comma-separated)", nodeNames)
    .option("--wait", "wait until a node has it ready, showing its download; exit 1 if it cannot be served")
    .option(
      "--wait-timeout <seconds>",
      "wait as --wait does, but exit 1 after this long (the download goes on)",
      wholeNumberIn({ min: 1, max: 7 * 86_400 }, "seconds"),
    )
    .action((input: string, options: AddOptions) => addModel(client(), input, options, io));
  model
    .command("list")
    .alias("ls")
    .description("list registered models")
    .option("--search <text>", "only ids or names containing this")
    .option("--limit <n>", "at most this many", wholeNumber)
    .option("--offset <n>", "skip this many", wholeNumber)
    .option("--json", "print the server's JSON")
    .action((options) => listModels(client(), options, io));
  model
    .command("rm <id>")
    .alias("remove")
    .description("remove a registered model, by its id, its link, or org/repo:QUANT where it was added so")
    .action((id: string) => removeModel(client(), id, io));
  model
    .command("show <id>")
    .description("where a model comes from, its files, its state on each node, its settings")
    .option("--json", "print the model as JSON")
    .action(async (id: string, options: { json?: boolean }) =>
      showModel(client(), idOfLink(id), options, io),
    );

  model
    .command("set <id>")
    .description("show a model's settings, or change them (nodes apply them at its next load)")
    .option(
      "--context <tokens>",
      "context size per request, or auto (what the model and memory allow)",
      numberOr("auto", modelSettingBounds.context_size),
    )
    .option(
      "--overflow <mode>",
      "when a conversation outgrows the context: error or truncate_oldest",
      overflowMode,
    )
    .option(
      "--parallel <n>",
      "requests a node runs at once for it, or auto",
      numberOr("auto", modelSettingBounds.parallel),
    )
    .option(
      "--ttl <seconds>",
      `unload after this long idle, or default (${defaultIdleTtlSeconds / 60} min)`,
      numberOr("default", modelSettingBounds.idle_ttl_seconds),
    )
    .option("--nodes <names>", "only these nodes serve it (comma-separated), or any", nodeNames)
    .action((id: string, options) => setModel(client(), idOfLink(id), options, io));
  model
    .command("alias <id> <alias>")
    .description("give a model another name, e.g. qwen or org/repo:Q4_K_M")
    .action((id: string, alias: string) => aliasModel(client(), idOfLink(id), alias, io));
  model
    .command("update <id>")
    .description(
      "move a model to its revision's newest commit on the hub (as ollama pull does), keeping its id, aliases and settings",
    )
    .action((id: string) => updateModel(client(), idOfLink(id), io));
  model
    .command("retry <id>")
    .description("try a model again where it failed or crashed a node's worker")
    .action((id: string) => retryModel(client(), idOfLink(id), io));
  model
    .command("load <id>")
    .description("load a model now on every worker that has it ready, so its first request does not wait")
    .option("--node <name>", "on this worker only", notEmpty("node"))
    .option(
      "--ttl <seconds>",
      "keep it loaded this long idle (until its next request), whatever its setting",
      wholeNumberIn(modelSettingBounds.idle_ttl_seconds, "seconds"),
    )
    .action((id: string, options: { node?: string; ttl?: number }) =>
      loadModel(client(), idOfLink(id), options, io),
    );
  model
    .command("unload <id>")
    .description("free the memory a model holds on every worker (it loads again at its next request)")
    .option("--node <name>", "on this worker only", notEmpty("node"))
    .action((id: string, options: { node?: string }) => unloadModel(client(), idOfLink(id), options, io));
  model
    .command("unalias <alias>")
    .description("remove an alias (the model stays)")
    .action((alias: string) => unaliasModel(client(), alias, io));

  const node = program
    .command("node")
    .description("the nodes (workers) serving models; with --join, run this machine's workers for another")
    .option("--join <control-url>", "join the control plane at this URL with this machine's workers")
    .option("--token <node-token>", "the control plane's node token (default: LLMLB_NODE_TOKEN)")
    .option("--host <host>", "address the workers listen on (default 127.0.0.1; 0.0.0.0 for another machine)")
    .option("--advertise-host <host>", "name or address the control plane reaches this machine by")
    .option(
      "--port <port>",
      "the first worker's port, the next ones' after it (default: free ones; a firewall needs these)",
      portNumber,
    )
    .option("--name <name>", "worker name prefix (default: this machine's host name)")
    .option(
      "--workers <mode>",
      "auto (one per GPU), cuda, vulkan or metal (that backend only), cpu, or a number of CPU workers",
      workersMode,
    )
    .action(
      async (options: {
        join?: string;
        token?: string;
        host?: string;
        advertiseHost?: string;
        port?: number;
        name?: string;
        workers?: string;
      }) => {
        if (!options.join) {
          node.help({ error: true });
          return;
        }
        // The program's own --token (the admin token of client commands) claims the flag when given
        // after `node`; for --join it can only mean the node token.
        const token = options.token ?? program.opts<{ token?: string }>().token ?? env.LLMLB_NODE_TOKEN;
        if (!token)
          throw new CliError("--join needs the control plane's node token: --token or LLMLB_NODE_TOKEN.", 2);
        const globals = program.opts<{ dataDir?: string }>();
        const config = clientConfigFrom({ dataDir: globals.dataDir, workers: options.workers });
        const { joinControlPlane } = await import("./joinNode");
        await joinControlPlane(
          config,
          {
            controlUrl: options.join,
            token,
            host: options.host ?? "127.0.0.1",
            advertiseHost: options.advertiseHost,
            basePort: options.port,
            name: options.name ?? os.hostname(),
          },
          io,
        );
      },
    );
  node
    .command("list")
    .alias("ls")
    .description("list nodes with their backend, memory and models")
    .option("--json", "print the server's JSON")
    .action((options: { json?: boolean }) => listNodes(client(), options, io));
  node
    .command("rm <name-or-id>")
    .alias("remove")
    .description("remove a worker node that is offline for good (retired, renamed), with its models' states")
    .option(
      "--force",
      "remove it even online: its token stops working (replace the node token first to keep it out)",
    )
    .action((ref: string, options: { force?: boolean }) => removeNode(client(), ref, options, io));
  node
    .command("token")
    .description("the node token, and the command that joins another machine with it")
    .option("--replace", "a new node token: machines already joined stay, new ones need the new token")
    .option("--json", "print the server's JSON")
    .action((options: { replace?: boolean; json?: boolean }) => showJoin(client(), options, io));
  node
    .command("drain <name-or-id>")
    .description("take a worker node out of rotation: its running requests finish, nothing new goes to it")
    .action((ref: string) => drainNode(client(), ref, true, io));
  node
    .command("undrain <name-or-id>")
    .description("put a drained worker node back in rotation")
    .action((ref: string) => drainNode(client(), ref, false, io));

  const endpoint = program
    .command("endpoint")
    .description(
      "OpenAI-compatible servers (vLLM, llama.cpp's server, Ollama, another llmlb) routed as nodes",
    );
  endpoint
    .command("add <name> <url>")
    .description("add a server by its base URL; its /v1/models are discovered and routed")
    .option("--api-key <key>", "sent to the server as a bearer token (default: LLMLB_ENDPOINT_API_KEY)")
    .option(
      "--parallel <n>",
      `requests llmlb sends it at once; more wait in llmlb's queue (default: ${defaultEndpointParallel})`,
      wholeNumberIn(endpointParallelBounds),
    )
    .action((name: string, url: string, options: { apiKey?: string; parallel?: number }) =>
      addEndpoint(
        client(),
        name,
        url,
        // From the environment, the key stays out of shell history.
        { apiKey: options.apiKey ?? env.LLMLB_ENDPOINT_API_KEY, parallel: options.parallel },
        io,
      ),
    );
  endpoint
    .command("set <name-or-id>")
    .description(
      "change an endpoint: how many requests it gets at once (running ones finish as they are), its URL or its API key (the server is asked with them first)",
    )
    .option(
      "--parallel <n>",
      `requests llmlb sends it at once (${endpointParallelBounds.min}-${endpointParallelBounds.max})`,
      wholeNumberIn(endpointParallelBounds),
    )
    .option("--base-url <url>", "the server's new base URL (it moved)")
    .option("--api-key <key>", "a new key (rotated)")
    .option("--no-api-key", "send no key from now on")
    .action((ref: string, options: { parallel?: number; baseUrl?: string; apiKey?: string | false }) =>
      setEndpoint(client(), ref, options, io),
    );
  endpoint
    .command("list")
    .alias("ls")
    .description("list endpoints with their status and models")
    .option("--json", "print the server's JSON")
    .action((options: { json?: boolean }) => listEndpoints(client(), options, io));
  endpoint
    .command("rm <name-or-id>")
    .alias("remove")
    .description("remove an endpoint")
    .action((ref: string) => removeEndpoint(client(), ref, io));

  program
    .command("gpu")
    .description("llama.cpp for this machine's GPU")
    .command("build")
    .description(
      "build llama.cpp's kernels for this machine's GPU from source (node-llama-cpp's source build); workers use it from their next start",
    )
    .option("--gpu <backend>", "cuda, vulkan or metal (default: metal on macOS, else cuda)", gpuBackend)
    .action((options: { gpu?: BuildGpu }) =>
      buildGpuKernels(options.gpu ?? (process.platform === "darwin" ? "metal" : "cuda"), io, env),
    );
  program
    .command("chat <model> [prompt...]")
    .alias("run")
    .description(
      "chat with a model in the terminal, or print its answer to a prompt (and what is piped in); a Hugging Face repo is registered and awaited first",
    )
    .option("--system <text>", "a system message before the conversation")
    .option(
      "--max-tokens <n>",
      "at most this many tokens per reply",
      wholeNumberIn({ min: 1, max: 1_000_000 }),
    )
    .option("--temperature <t>", "sampling temperature, 0 to 2 (0: always the likeliest token)", temperature)
    .action((model: string, prompt: string[], options: ChatOptions) =>
      chat(client(), model, prompt, options, io, { input: process.stdin, output: process.stdout }),
    );
  program
    .command("status")
    .description("show the server's address, models, nodes, loaded models and running requests")
    .option("--json", "print the server's JSON")
    .action((options: { json?: boolean }) => showStatus(client(), options, io));
  program
    .command("requests")
    .description(
      "list the latest requests to /v1, newest first: status, model, node, time, tokens, and why one failed",
    )
    .option("--failures", "only those answered with an error")
    .option("--model <text>", "only those for a model whose name contains this")
    .option("--limit <n>", "at most this many (default 200, at most 1000)", wholeNumber)
    .option("--before <id>", "those answered before this request (the last id of a list before)")
    .option("--json", "print the server's JSON")
    .action((options: RequestsOptions) => listRequests(client(), options, io));
  program
    .command("dashboard")
    .description("print the dashboard's link for the running server (it carries the admin token)")
    .action(() => showDashboardLink(client(), io));
  program
    .command("pause")
    .description("stop serving inference (/v1 answers 503) until resumed; running requests finish")
    .action(() => setServing(client(), true, io));
  program
    .command("resume")
    .description("serve inference again after a pause")
    .action(() => setServing(client(), false, io));

  const settings = program
    .command("settings")
    .description("show the server's settings: Hugging Face token (whether set), model cache and port")
    .option("--json", "print the server's JSON")
    .action((options: { json?: boolean }) => showSettings(client(), options, io));
  settings
    .command("set")
    .description("change them: the token applies at once, the model cache and port at the next start")
    .option(
      "--hf-token <token>",
      "save this Hugging Face token (for gated and private repos); - reads it from standard input",
      notEmpty("token"),
    )
    .option("--no-hf-token", "forget the saved Hugging Face token")
    .option("--cache-dir <dir>", "the model cache folder, a full path", notEmpty("folder"))
    .option("--port <port>", "the port; 0 picks a free one", portNumber)
    .action((options: SettingsChange) => setSettings(client(), options, io));
  program
    .command("quit")
    .description("stop the server: running requests finish, then its workers stop (waits up to --timeout)")
    .action(() => quitServer(client(), io));
  return program;
}

export async function run(argv: string[], io: Output, env: NodeJS.ProcessEnv): Promise<number> {
  try {
    await buildProgram(io, env).parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      const ollamaHint = Object.hasOwn(ollamaWords, argv[0] ?? "") ? ollamaWords[argv[0]!] : undefined;
      if (
        ollamaHint &&
        (error.code === "commander.unknownCommand" || error.code === "commander.unknownOption")
      )
        io.err(`(ollama's ${argv[0]} is ${ollamaHint} here)`);
      // `npm run serve --port 8081`: npm kept the flag and passed its value on alone.
      if (error.code === "commander.excessArguments" && env.npm_lifecycle_event !== undefined)
        io.err("(with npm, llmlb's flags go after `--`: npm run serve -- --port 8081)");
      return error.exitCode;
    }
    if (error instanceof CliError) {
      io.err(`error: ${error.message}`);
      return error.exitCode;
    }
    io.err(`error: ${(error as Error).message}`);
    return 1;
  }
}

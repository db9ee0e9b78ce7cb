import {
  defaultIdleTtlSeconds,
  type Model,
  type ModelUnloadResponse,
  type ModelSettingsPatch,
  type NodeList,
  aliasSchema,
  modelLoadResponseSchema,
  modelRetryResponseSchema,
  modelSchema,
  modelUnloadResponseSchema,
  modelUpdateResponseSchema,
  nodeListSchema,
} from "../contract";
import { CliError, encodeModelId, type ApiClient, serverJson } from "./apiClient";
import { modelStateText } from "../core/models/describeState";
import { formatBytes } from "./format";
import { formatDuration } from "../contract/units";
import type { Output } from "./modelCommands";

/** `llmlb model set`'s options, as typed (already checked by their parsers). */
export interface SettingOptions {
  context?: number | "auto";
  overflow?: "error" | "truncate_oldest";
  parallel?: number | "auto";
  ttl?: number | "default";
  nodes?: string[] | "any";
}

/** The patch the options ask for: "auto", "default" and "any" put a setting back to its default. */
export function settingsPatch(options: SettingOptions): ModelSettingsPatch {
  const patch: ModelSettingsPatch = {};
  if (options.context !== undefined) patch.context_size = options.context === "auto" ? null : options.context;
  if (options.overflow !== undefined) patch.context_overflow = options.overflow;
  if (options.parallel !== undefined) patch.parallel = options.parallel === "auto" ? null : options.parallel;
  if (options.ttl !== undefined) patch.idle_ttl_seconds = options.ttl === "default" ? null : options.ttl;
  if (options.nodes !== undefined) patch.nodes = options.nodes === "any" ? null : options.nodes;
  return patch;
}

/** What each node that holds the model in memory runs it with: "4096 tokens × 8 on gpu0". */
function inUse(model: Model, nodes: NodeList): string {
  const loaded = nodes.data.flatMap((node) =>
    node.loaded
      .filter((entry) => entry.model === model.name)
      .map(
        (entry) =>
          `${entry.context_size !== undefined ? `${entry.context_size} tokens × ` : ""}${entry.sequences} on ${node.name}`,
      ),
  );
  return loaded.length > 0 ? `loaded: ${loaded.join("; ")}` : "not loaded now";
}

/** A model's settings, each as a name and what it is set to (and what is in memory now). */
function settingsRows(model: Model, nodes: NodeList): [string, string][] {
  const { settings } = model;
  return [
    [
      "context size",
      settings.context_size === null
        ? "auto (what the model and memory allow)"
        : `${settings.context_size} tokens`,
    ],
    [
      "context overflow",
      settings.context_overflow === "error" ? "error (400 context_length_exceeded)" : "truncate_oldest",
    ],
    ["parallel", settings.parallel === null ? "auto" : String(settings.parallel)],
    [
      "idle ttl",
      settings.idle_ttl_seconds === null
        ? `default (${defaultIdleTtlSeconds / 60} min)`
        : `${settings.idle_ttl_seconds} s`,
    ],
    ["nodes", settings.nodes.length === 0 ? "any" : settings.nodes.join(", ")],
    ["aliases", model.aliases.join(", ") || "-"],
    ["in memory", inUse(model, nodes)],
  ];
}

function printRows(title: string, rows: [string, string][], io: Output): void {
  io.out(title);
  // A long name (a node's) pushes its value along, never into the next column.
  for (const [name, value] of rows) io.out(`  ${name.padEnd(16)} ${value}`);
}

function printSettings(model: Model, nodes: NodeList, io: Output): void {
  printRows(model.name, settingsRows(model, nodes), io);
}

/** `llmlb model show`: where a model comes from, its files, where it stands on each node, its settings. */
export async function showModel(
  client: ApiClient,
  id: string,
  options: { json?: boolean },
  io: Output,
): Promise<void> {
  const model = await client.request(modelSchema, "GET", `/v0/models/${encodeModelId(id)}`);
  if (options.json) {
    io.out(JSON.stringify(serverJson(model), null, 2));
    return;
  }
  const external = model.source === "endpoint";
  const rows: [string, string][] = [
    [
      "source",
      external
        ? `served by ${model.nodes.map((node) => node.node_name).join(", ")} (endpoints)`
        : `${model.repo} at ${model.revision} (commit ${model.commit.slice(0, 12)})`,
    ],
    ...model.artifacts.map((artifact, index): [string, string] => [
      index === 0 ? "files" : "",
      `${artifact.filename}  ${artifact.quantization ?? artifact.format}  ${formatBytes(artifact.size_bytes)}`,
    ]),
    ["ready", model.ready ? "yes" : "no"],
    ...(model.nodes.length === 0
      ? [["nodes", "none has taken it up yet"] as [string, string]]
      : model.nodes.map((node): [string, string] => [
          node.node_name,
          `${modelStateText(node)}${node.artifact ? ` (${node.artifact})` : ""}`,
        ])),
  ];
  // The reasons a node gives are sentences: each on a line of its own.
  for (const node of model.nodes) {
    if (node.state === "error") rows.push(["", `${node.node_name}: ${node.message}`]);
    if (node.state === "unsupported") rows.push(["", `${node.node_name}: ${node.reason}`]);
  }
  if (!external) rows.push(...settingsRows(model, await client.request(nodeListSchema, "GET", "/v0/nodes")));
  printRows(model.name, rows, io);
}

/** Changes a model's settings (when options name any) and prints them. */
export async function setModel(
  client: ApiClient,
  id: string,
  options: SettingOptions,
  io: Output,
): Promise<void> {
  const patch = settingsPatch(options);
  const model =
    Object.keys(patch).length > 0
      ? await client.request(modelSchema, "PATCH", `/v0/models/${encodeModelId(id)}`, { settings: patch })
      : await client.request(modelSchema, "GET", `/v0/models/${encodeModelId(id)}`);
  const nodes = await client.request(nodeListSchema, "GET", "/v0/nodes");
  printSettings(model, nodes, io);
  // An endpoint serves only what it lists: pinned there, a model it does not list is served nowhere.
  const lacking = nodes.data.filter(
    (node) =>
      node.kind === "endpoint" &&
      model.settings.nodes.includes(node.name) &&
      !node.models.some((served) => served.model === model.name),
  );
  if (Array.isArray(patch.nodes) && lacking.length > 0) {
    const names = lacking.map((node) => node.name).join(", ");
    io.err(
      `warning: ${names} ${lacking.length === 1 ? "is an endpoint that does not list" : "are endpoints that do not list"} ${model.name}, so ${lacking.length === 1 ? "it does" : "they do"} not serve it.` +
        (lacking.length === model.settings.nodes.length
          ? ` Requests for it fail until it is pinned to a node that serves it (or --nodes any).`
          : ""),
    );
  }
  if (patch.context_size !== undefined || patch.parallel !== undefined) {
    io.out("Nodes load it with these settings at its next request (once running requests finish).");
  }
}

export async function aliasModel(client: ApiClient, id: string, alias: string, io: Output): Promise<void> {
  const added = await client.request(aliasSchema, "POST", "/v0/aliases", { alias, model: id });
  io.out(`${added.alias} now names ${added.model}`);
}

export async function unaliasModel(client: ApiClient, alias: string, io: Output): Promise<void> {
  const removed = await client.request(aliasSchema, "DELETE", `/v0/aliases/${encodeModelId(alias)}`);
  io.out(`Removed the alias ${removed.alias} (of ${removed.model})`);
}

/**
 * `llmlb model update`: the model at its revision's newest commit; what moved, or why nothing did.
 * Its download shows in `llmlb model list` and `llmlb status`, as a new model's does.
 */
export async function updateModel(client: ApiClient, id: string, io: Output): Promise<void> {
  const answer = await client.request(modelUpdateResponseSchema, "POST", "/v0/models/update", { model: id });
  io.out(answer.message);
  if (answer.updated) io.out(`\`llmlb model show ${answer.model.name}\` says where each node stands.`);
}

/** Tries a failed model again on every node: one that crashed a node's worker, one whose download failed. */
export async function retryModel(client: ApiClient, id: string, io: Output): Promise<void> {
  const answer = await client.request(modelRetryResponseSchema, "POST", "/v0/models/retry", { model: id });
  const retried = answer.nodes.filter((node) => node.retried).map((node) => node.node_name);
  if (retried.length === 0) {
    io.out(`${answer.model} had not failed on any online node: nothing to retry.`);
    return;
  }
  io.out(`Trying ${answer.model} again on ${retried.join(", ")}.`);
}

/** How long `model load` waits: a first load on a GPU compiles kernels for a minute or more. */
const loadWaitMs = 15 * 60_000;

/**
 * `work`, and meanwhile, at a terminal (`io.live`), `what` with the time it has taken so far, from
 * its first second on: a load may wait for kernels to compile, or for room on a full worker.
 */
async function tellingHowLong<T>(what: string, io: Output, work: Promise<T>): Promise<T> {
  const live = io.live;
  if (!live) return work;
  const started = Date.now();
  const ticker = setInterval(() => live(`${what}… ${formatDuration((Date.now() - started) / 1000)}`), 1000);
  try {
    return await work;
  } finally {
    clearInterval(ticker);
    live("");
  }
}

/** `llmlb model load`: loads a model now on every online worker that has it ready; fails where none did. */
export async function loadModel(
  client: ApiClient,
  id: string,
  options: { node?: string; ttl?: number },
  io: Output,
): Promise<void> {
  const answer = await tellingHowLong(
    `Loading ${id}`,
    io,
    client.request(
      modelLoadResponseSchema,
      "POST",
      "/v0/models/load",
      {
        model: id,
        ...(options.node !== undefined ? { node: options.node } : {}),
        ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
      },
      { timeoutMs: Math.max(client.timeoutMs, loadWaitMs) },
    ),
  );
  for (const node of answer.nodes) {
    const what =
      node.outcome === "loaded"
        ? "loaded"
        : node.outcome === "not_ready"
          ? "not ready there (downloading, failed, or pinned to other nodes: `llmlb model show` says which)"
          : node.outcome === "failed"
            ? `failed: ${node.message ?? "no reason given"}`
            : "could not be asked (unreachable)";
    io.out(`${answer.model} on ${node.node_name}: ${what}`);
  }
  if (!answer.nodes.some((node) => node.outcome === "loaded"))
    throw new CliError(
      answer.nodes.length === 0
        ? `No worker is online to load ${answer.model}.`
        : `No worker loaded ${answer.model} now: each said why above.`,
    );
}

/** `llmlb model unload`: frees the memory a model holds on every online worker; it loads again when asked. */
export async function unloadModel(
  client: ApiClient,
  id: string,
  options: { node?: string },
  io: Output,
): Promise<void> {
  const answer = await client.request(modelUnloadResponseSchema, "POST", "/v0/models/unload", {
    model: id,
    ...(options.node !== undefined ? { node: options.node } : {}),
  });
  const named = (outcome: ModelUnloadResponse["nodes"][number]["outcome"]) =>
    answer.nodes.filter((node) => node.outcome === outcome).map((node) => node.node_name);
  const [now, whenIdle, unreachable] = [named("now"), named("when_idle"), named("unreachable")];
  const failed = answer.nodes.filter((node) => node.outcome === "failed");
  if (now.length > 0) io.out(`Unloaded ${answer.model} on ${now.join(", ")}.`);
  if (whenIdle.length > 0)
    io.out(
      `${answer.model} is unloaded on ${whenIdle.join(", ")} once its running requests end (unless another comes first).`,
    );
  for (const node of failed) io.err(`${node.node_name}: ${node.message ?? "it could not unload it"}`);
  if (unreachable.length > 0)
    io.err(`${unreachable.join(", ")} could not be asked (unreachable, or an llmlb older than this one).`);
  if (answer.nodes.every((node) => node.outcome === "not_loaded"))
    io.out(`${answer.model} was not loaded on ${options.node ?? "any online node"}.`);
  const left = [...failed.map((node) => node.node_name), ...unreachable];
  if (left.length > 0) throw new CliError(`${answer.model} may still be loaded on ${left.join(", ")}.`);
}

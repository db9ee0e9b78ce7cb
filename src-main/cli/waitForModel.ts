import { createParser } from "eventsource-parser";
import { serverEventSchema, type Model, type ModelOnNode, modelSchema, nodeListSchema } from "../contract";
import { modelStateText } from "../core/models/describeState";
import { formatDuration } from "../contract/units";
import { CliError, encodeModelId, type ApiClient } from "./apiClient";
import type { Output } from "./modelCommands";

/** One node's state of a model, for someone waiting on it: a failure it retries by itself says so. */
function stateOn(node: ModelOnNode): string {
  if (node.state === "error" && !node.crashed && !node.waits_for_retry && node.node_status === "online")
    return `failed (${node.message}); it tries again by itself`;
  return modelStateText(node);
}

/**
 * Where a model stands on its nodes, in one line: `gpu-0: downloading 45% (…); gpu-1: ready`.
 * `workersOnline`: whether any worker is online to take up a model no node has yet.
 */
export function modelProgress(model: Model, workersOnline = true): string {
  if (model.nodes.length === 0)
    return workersOnline
      ? "waiting for a worker to take it up"
      : "no worker is online to take it up yet (`llmlb node list` shows the nodes)";
  return model.nodes.map((node) => `${node.node_name}: ${stateOn(node)}`).join("; ");
}

/**
 * A node where the model is not coming: it cannot run it, or it failed. A node tries a failure again
 * by itself after a while (unless it crashed its worker or failed verification twice), but a wait
 * that ends with the failure says so sooner than the next try would.
 */
function givenUp(node: ModelOnNode): boolean {
  return node.state === "unsupported" || node.state === "error";
}

/**
 * Whether the model is not coming anywhere: every node that has taken it up gave up, and no other
 * worker online that may serve it is yet to take it up (workers take up a new model within seconds
 * of each other; one that has not yet may still serve it).
 */
function notComing(model: Model, workersOnline: ReadonlySet<string>): boolean {
  if (model.nodes.length === 0 || !model.nodes.every(givenUp)) return false;
  const tried = new Set(model.nodes.map((node) => node.node_name));
  const allowed = model.settings.nodes;
  return ![...workersOnline].some(
    (name) => !tried.has(name) && (allowed.length === 0 || allowed.includes(name)),
  );
}

function whyNotReady(model: Model): CliError {
  const lines = model.nodes.map((node) =>
    node.state === "unsupported"
      ? `  ${node.node_name}: cannot run it: ${node.reason}`
      : node.state === "error"
        ? `  ${node.node_name}: ${node.crashed ? "it crashed the worker" : "failed"}: ${node.message}${node.crashed || node.waits_for_retry ? "" : " (it tries again by itself after a while)"}`
        : `  ${node.node_name}: ${modelStateText(node)}`,
  );
  const retry = model.nodes.some((node) => node.state === "error")
    ? `\n\`llmlb model retry ${model.name}\` tries again now.`
    : "";
  return new CliError(`${model.name} cannot be served:\n${lines.join("\n")}${retry}`);
}

/**
 * Waits until the model named `name` (its id, as the server lists it) is ready on some node,
 * following the server's events (download progress included): `progress` hears where it stands each
 * time that changes. Fails, saying why, when every node that has it cannot run it or failed, or when
 * it is removed. Resolves to the model as it is when ready.
 */
export async function waitUntilReady(
  client: ApiClient,
  name: string,
  progress: (model: Model, workersOnline: boolean) => void,
  signal: AbortSignal,
): Promise<Model> {
  const stop = new AbortController();
  const stopAll = AbortSignal.any([signal, stop.signal]);
  // Subscribed first, read second. An event that comes before the snapshot is older or newer than
  // it: only "ready", which lasts, is taken from it.
  const events = await client.open("GET", "/v0/events", undefined, stopAll);
  try {
    return await new Promise<Model>((resolve, reject) => {
      let snapshotTaken = false;
      /** Online workers, by id: their names. */
      const workers = new Map<string, string>();
      /** The model as last heard of (once the snapshot is taken). */
      let last: Model | undefined;
      const consider = (model: Model) => {
        last = model;
        if (model.ready) return resolve(model);
        if (notComing(model, new Set(workers.values()))) return reject(whyNotReady(model));
        progress(model, workers.size > 0);
      };
      const parser = createParser({
        onEvent(event) {
          const parsed = serverEventSchema.safeParse(JSON.parse(event.data));
          if (!parsed.success) return;
          const change = parsed.data;
          if (change.type === "model.updated" && change.model.name === name) {
            if (change.model.ready || snapshotTaken) consider(change.model);
          }
          if (
            change.type === "node.updated" &&
            change.node.kind === "worker" &&
            change.node.status === "online"
          )
            workers.set(change.node.id, change.node.name);
          else if (change.type === "node.updated" || change.type === "node.removed") {
            const gone = workers.delete(change.type === "node.updated" ? change.node.id : change.id);
            // A worker gone offline may have been the last the model could still come from.
            if (gone && snapshotTaken && last) consider(last);
          }
          if (change.type === "model.removed" && change.name === name)
            reject(new CliError(`${name} was removed while it was awaited.`));
        },
      });
      const read = async () => {
        const reader = events.body!.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { done, value } = await reader.read();
          if (done)
            throw new CliError(`The llmlb server at ${client.url} stopped while ${name} was awaited.`);
          parser.feed(decoder.decode(value, { stream: true }));
        }
      };
      const start = async () => {
        const model = await client.request(modelSchema, "GET", `/v0/models/${encodeModelId(name)}`);
        const nodes = await client.request(nodeListSchema, "GET", "/v0/nodes");
        for (const node of nodes.data)
          if (node.kind === "worker" && node.status === "online") workers.set(node.id, node.name);
        snapshotTaken = true;
        consider(model);
      };
      read().catch((error: unknown) => {
        if (!stopAll.aborted) reject(error as Error);
      });
      start().catch(reject);
      stopAll.addEventListener("abort", () => reject(stopAll.reason as Error), { once: true });
    });
  } finally {
    stop.abort();
  }
}

/**
 * Waits until `name` is ready, saying where it stands on standard error: at a terminal on one line
 * rewritten as it changes (`io.live`); elsewhere a line each time its state changes, and each tenth
 * of a download. With `timeoutSeconds`, stops waiting after that long, failing with where it stood
 * (the server goes on with it all the same).
 */
export async function waitTelling(
  client: ApiClient,
  name: string,
  io: Output,
  signal: AbortSignal,
  timeoutSeconds?: number,
): Promise<Model> {
  let said = "";
  let standing = "";
  const timeout = timeoutSeconds !== undefined ? AbortSignal.timeout(timeoutSeconds * 1000) : undefined;
  try {
    return await waitUntilReady(
      client,
      name,
      (model, workersOnline) => {
        standing = modelProgress(model, workersOnline);
        const line = `Waiting for ${model.name}: ${standing}`;
        if (io.live) return io.live(line);
        const gist = line.replace(
          / (\d+)% \(.*?\)/g,
          (_, percent: string) => ` ${Math.floor(Number(percent) / 10)}0%`,
        );
        if (gist !== said) io.err(line);
        said = gist;
      },
      timeout ? AbortSignal.any([signal, timeout]) : signal,
    );
  } catch (error) {
    if (timeout?.aborted && !signal.aborted)
      throw new CliError(
        `Stopped waiting for ${name} after ${formatDuration(timeoutSeconds!)}${standing ? `: ${standing}` : ""}.\n` +
          `It stays registered and goes on: \`llmlb model show ${name}\` shows where it stands.`,
      );
    throw error;
  } finally {
    io.live?.("");
  }
}

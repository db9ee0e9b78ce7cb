import { createParser } from "eventsource-parser";
import type { Model, ModelOnNode, NodeList, ServerEvent } from "../contract";
import type { Output } from "./modelCommands";
import { modelStateText } from "../core/models/describeState";
import { CliError, encodeModelId, type ApiClient } from "./apiClient";

/** Where a model stands on its nodes, in one line: `gpu-0: downloading 45% (…); gpu-1: ready`. */
export function modelProgress(model: Model): string {
  if (model.nodes.length === 0) return "waiting for a node to take it up";
  return model.nodes.map((node) => `${node.node_name}: ${modelStateText(node)}`).join("; ");
}

/** A node where the model will not become ready by itself: it failed (until a retry), or cannot run it. */
function givenUp(node: ModelOnNode): boolean {
  return node.state === "unsupported" || node.state === "error";
}

function whyNotReady(model: Model): CliError {
  const lines = model.nodes.map((node) =>
    node.state === "unsupported"
      ? `  ${node.node_name}: cannot run it: ${node.reason}`
      : node.state === "error"
        ? `  ${node.node_name}: ${node.crashed ? "it crashed the worker" : "failed"}: ${node.message}`
        : `  ${node.node_name}: ${modelStateText(node)}`,
  );
  const retry = model.nodes.some((node) => node.state === "error")
    ? `\n\`llmlb model retry ${model.name}\` tries again.`
    : "";
  return new CliError(`${model.name} cannot be served:\n${lines.join("\n")}${retry}`);
}

/**
 * Waits until `name` is ready on some node, following the server's events (download progress
 * included): `progress` hears where it stands each time that changes. Fails, saying why, when every
 * node that has it failed or cannot run it, when it is removed, or when no node is online to take it
 * up. Resolves to the model as it is when ready.
 */
export async function waitUntilReady(
  client: ApiClient,
  name: string,
  progress: (model: Model) => void,
  signal: AbortSignal,
): Promise<Model> {
  const stop = new AbortController();
  const stopAll = AbortSignal.any([signal, stop.signal]);
  // Subscribed first, read second: nothing that changes in between is missed.
  const events = await client.open("GET", "/v0/events", undefined, stopAll);
  try {
    return await new Promise<Model>((resolve, reject) => {
      let canonical: string | undefined;
      const consider = (model: Model) => {
        if (model.ready) return resolve(model);
        if (model.nodes.length > 0 && model.nodes.every(givenUp)) return reject(whyNotReady(model));
        progress(model);
      };
      const parser = createParser({
        onEvent(event) {
          if (canonical === undefined) return;
          const change = JSON.parse(event.data) as ServerEvent;
          if (change.type === "model.updated" && change.model.name === canonical) consider(change.model);
          if (change.type === "model.removed" && change.name === canonical)
            reject(new CliError(`${canonical} was removed while it was awaited.`));
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
        const model = await client.request<Model>("GET", `/v0/models/${encodeModelId(name)}`);
        canonical = model.name;
        if (!model.ready && model.nodes.length === 0) {
          const nodes = await client.request<NodeList>("GET", "/v0/nodes");
          if (!nodes.data.some((node) => node.kind === "worker" && node.status === "online"))
            throw new CliError(
              `No worker is online to download and serve ${model.name}: \`llmlb node list\` shows the nodes (\`llmlb serve\` starts this machine's workers unless --workers 0).`,
            );
        }
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
 * Waits until `name` is ready, saying on standard error where it stands each time that changes
 * (`Waiting for org/repo: gpu-0: downloading 45% (…)`): a line per change of state, not per percent.
 */
export async function waitTelling(client: ApiClient, name: string, io: Output): Promise<Model> {
  let said = "";
  return waitUntilReady(
    client,
    name,
    (model) => {
      const line = `Waiting for ${model.name}: ${modelProgress(model)}`;
      const gist = line.replace(/ \d+% \(.*?\)/g, "");
      if (gist !== said) io.err(line);
      said = gist;
    },
    new AbortController().signal,
  );
}

import {
  type Model,
  type ModelList,
  modelListSchema,
  modelRetryResponseSchema,
  modelSchema,
  registerResponseSchema,
} from "../contract";
import { CliError, encodeModelId, type ApiClient, noAnswer, serverJson } from "./apiClient";
import { formatBytes, formatTable } from "./format";
import { modelStateText } from "../core/models/describeState";
import { parseModelInput } from "../core/hub/parseModelInput";
import { artifactSize, repoFilesText, servedArtifact } from "../contract/modelFiles";
import { waitTelling } from "./waitForModel";

export interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
  /**
   * Where standard error is a terminal: shows `line` in place of the last one shown this way (a
   * download's progress); "" takes it away. Absent elsewhere: progress is said in lines, with `err`.
   */
  live?: (line: string) => void;
}

export interface AddOptions {
  file?: string;
  revision?: string;
  nodes?: string[] | "any";
  wait?: boolean;
  /** Wait, but no longer than this. */
  waitTimeout?: number;
}

export async function addModel(
  client: ApiClient,
  input: string,
  options: AddOptions,
  io: Output,
): Promise<void> {
  // `--nodes any` is every node, as without it.
  const settings = options.nodes && options.nodes !== "any" ? { settings: { nodes: options.nodes } } : {};
  const body =
    options.file || options.revision
      ? {
          repo: input,
          ...(options.file ? { filename: options.file } : {}),
          ...(options.revision ? { revision: options.revision } : {}),
          ...settings,
        }
      : { url: input, ...settings };
  const wait = options.wait || options.waitTimeout !== undefined;
  let model: Model;
  try {
    const registered = await client.request(registerResponseSchema, "POST", "/v0/models/register", body);
    io.out(
      `Registered ${registered.name} (${registered.repo}@${registered.commit.slice(0, 12)}, ${filesOf(registered)})`,
    );
    for (const warning of registered.warnings) io.err(`warning: ${warning}`);
    model = registered;
  } catch (error) {
    const duplicate = error instanceof CliError && error.code === "registry.duplicate";
    // Run again (a README's step, a script): where it stands is the next thing to see.
    if (duplicate && !wait && !options.revision) {
      const id = options.file ? `${idOfLink(input)}/${options.file}` : idOfLink(input);
      throw new CliError(
        `${error.message} \`llmlb model show ${id}\` says where it stands; \`llmlb model add ${id} --wait\` waits until it is ready.`,
        error.exitCode,
        error.code,
      );
    }
    // Registered before: with --wait, what is awaited is there already (at the same revision).
    if (!wait || options.revision || !duplicate) throw error;
    model = await client.request(
      modelSchema,
      "GET",
      `/v0/models/${encodeModelId(options.file ? `${input}/${options.file}` : idOfLink(input))}`,
    );
    io.out(`${model.name} is registered already.`);
    // Asked for again, as `ollama pull` is: where it failed (a disk full since freed, a hub down), it
    // is tried again now rather than waited on until its node's next try.
    const failed = model.nodes.filter((node) => node.state === "error" && node.node_status === "online");
    if (failed.length > 0) {
      const answer = await client.request(modelRetryResponseSchema, "POST", "/v0/models/retry", {
        model: model.name,
      });
      const retried = answer.nodes.filter((node) => node.retried).map((node) => node.node_name);
      if (retried.length > 0) io.out(`It had failed on ${retried.join(", ")}: trying it again there.`);
    }
  }
  if (!wait) return;
  // Ctrl+C ends the command, and the wait with it.
  const ready = await waitTelling(client, model.name, io, new AbortController().signal, options.waitTimeout);
  const where = ready.nodes.filter((node) => node.state === "ready").map((node) => node.node_name);
  io.out(`${ready.name} is ready${where.length > 0 ? ` on ${where.join(", ")}` : ""}.`);
}

/**
 * What was registered, as the dashboard's card says it: its file and size, or a repo's GGUF files and
 * their size in all (each node downloads only the one it picks).
 */
function filesOf(model: Model): string {
  if (model.filename) return `${model.filename.split("/").pop()}, ${formatBytes(model.size_bytes)}`;
  return `${repoFilesText(model)}; ${formatBytes(model.size_bytes)} in all`;
}

/** What the dashboard says too: the served file's size, or every file's ("… all") before nodes chose one. */
function sizeOf(model: ModelList["data"][number]): string {
  // Served by an endpoint: its files are the endpoint's business.
  if (model.source === "endpoint") return "-";
  const served = servedArtifact(model);
  return served ? formatBytes(artifactSize(model, served)) : `${formatBytes(model.size_bytes)} all`;
}

function quantizations(model: ModelList["data"][number]): string {
  const names = [
    ...new Set(model.artifacts.map((a) => a.quantization).filter((q): q is string => q !== null)),
  ];
  return names.length > 3 ? `${names.slice(0, 3).join(",")},+${names.length - 3}` : names.join(",") || "-";
}

export async function listModels(
  client: ApiClient,
  options: { search?: string; limit?: string; offset?: string; json?: boolean },
  io: Output,
): Promise<void> {
  const query = new URLSearchParams();
  if (options.search) query.set("search", options.search);
  if (options.limit) query.set("limit", options.limit);
  if (options.offset) query.set("offset", options.offset);
  const list = await client.request(modelListSchema, "GET", `/v0/models${query.size ? `?${query}` : ""}`);
  if (options.json) {
    io.out(JSON.stringify(serverJson(list), null, 2));
    return;
  }
  if (list.data.length === 0) {
    io.out(
      list.total > 0
        ? "No models on this page."
        : options.search
          ? `No models match "${options.search}".`
          : "No models registered. Add one with: llmlb model add <hugging face url>",
    );
    return;
  }
  io.out(
    formatTable(
      ["ID", "QUANT", "SIZE", "READY", "NODES"],
      list.data.map((m) => [
        m.name,
        quantizations(m),
        sizeOf(m),
        m.ready ? "yes" : "no",
        // Registered, and no node has taken it up yet (or none is online to).
        m.nodes.map((node) => `${node.node_name}: ${modelStateText(node)}`).join("; ") || "no node yet",
      ]),
    ),
  );
  // Errors and reasons are sentences; they go below the table, one per line.
  for (const model of list.data) {
    for (const node of model.nodes) {
      if (node.state === "error")
        io.out(`${model.name} on ${node.node_name}: ${node.crashed ? "crashed" : "error"}: ${node.message}`);
      if (node.state === "unsupported")
        io.out(`${model.name} on ${node.node_name}: unsupported: ${node.reason}`);
    }
  }
  if (list.total > list.offset + list.data.length || list.offset > 0) {
    io.out(`(${list.offset + 1}-${list.offset + list.data.length} of ${list.total})`);
  }
}

export async function removeModel(client: ApiClient, input: string, io: Output): Promise<void> {
  const id = idOfLink(input);
  // `org/repo:Q4_K_M` removes the file it names, which is said.
  const tagged = id.includes(":") ? await taggedModelName(client, id) : undefined;
  await client.request(noAnswer, "DELETE", `/v0/models/${encodeModelId(id)}`);
  io.out(tagged && tagged !== id ? `Removed ${tagged} (${id})` : `Removed ${id}`);
}

/** The id of the model a name resolves to, or undefined where none does (the removal then says why). */
async function taggedModelName(client: ApiClient, name: string): Promise<string | undefined> {
  try {
    return (await client.request(modelSchema, "GET", `/v0/models/${encodeModelId(name)}`)).name;
  } catch (error) {
    if (error instanceof CliError) return undefined;
    throw error;
  }
}

/**
 * The id a link registered as (what `model add` took: `https://huggingface.co/org/repo/blob/main/f.gguf`
 * is `org/repo/f.gguf`, `hf.co/org/repo:q4_k_m` the name `org/repo:Q4_K_M`); anything else as it is.
 */
export function idOfLink(input: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/|^(www\.)?(huggingface\.co|hf\.co)\//i.test(input.trim())) return input;
  try {
    const reference = parseModelInput(input);
    if (reference.quantization) return `${reference.repo}:${reference.quantization}`;
    return reference.filename ? `${reference.repo}/${reference.filename}` : reference.repo;
  } catch {
    return input;
  }
}

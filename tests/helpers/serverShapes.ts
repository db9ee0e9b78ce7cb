/** What the server's API answers, for tests: a model, one node's state of it, the status. */
import { defaultModelSettings, type Model, type ModelOnNode, type Status } from "../../src-main/contract";

/** A model as the server lists it; `nodes` default to none. */
export function model(name: string, overrides: Partial<Model> = {}): Model {
  const repo = name.split("/").slice(0, 2).join("/");
  const filename = name.split("/").length > 2 ? name.split("/").slice(2).join("/") : null;
  return {
    name,
    repo,
    filename,
    revision: "main",
    commit: "0".repeat(40),
    source: "huggingface",
    display_name: filename ? filename.replace(/\.gguf$/, "") : repo.split("/")[1]!,
    size_bytes: 2_700_000_000,
    created_at: "2026-01-01T00:00:00.000Z",
    artifacts: [
      {
        filename: filename ?? "model-Q4_K_M.gguf",
        format: "gguf",
        quantization: "Q4_K_M",
        size_bytes: 2_700_000_000,
        sha256: null,
        split_group: null,
      },
    ],
    ready: false,
    nodes: [],
    aliases: [],
    settings: defaultModelSettings,
    ...overrides,
  };
}

type State = ModelOnNode extends infer T
  ? T extends unknown
    ? Omit<T, "node_id" | "node_name" | "node_status" | "model">
    : never
  : never;

/** One node's state of a model, on node "gpu-0" unless told. */
export function onNode(state: State, node = "gpu-0", status: "online" | "offline" = "online"): ModelOnNode {
  return { node_id: `id-${node}`, node_name: node, node_status: status, model: "", ...state } as ModelOnNode;
}

/** The server's status (`GET /v0/status`): nothing registered, no node; `overrides` change it. */
export function status(overrides: Partial<Status> = {}): Status {
  return {
    version: "0.1.0",
    uptime_seconds: 10,
    paused: false,
    api_key_required: false,
    models: { total: 0, ready: 0 },
    nodes: { total: 0, online: 0 },
    queues: [],
    can_quit: false,
    ...overrides,
  };
}

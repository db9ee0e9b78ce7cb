import type { NodeInfo } from "../../src-main/contract";

/** A worker node as `GET /v0/nodes` lists it: online and healthy, 8 GB, nothing held; `overrides` change it. */
export function workerInfo(name: string, overrides: Partial<NodeInfo> = {}): NodeInfo {
  return {
    id: `id-${name}`,
    name,
    url: "http://127.0.0.1:9",
    backend: "cpu",
    devices: [],
    memory: { total_bytes: 8e9, free_bytes: 4e9 },
    backends_left_out: [],
    status: "online",
    health: { state: "ok", reason: null, since: null },
    kind: "worker",
    registered_at: "2026-01-01T00:00:00.000Z",
    last_seen_at: "2026-01-01T00:00:00.000Z",
    models: [],
    loaded: [],
    ...overrides,
  };
}

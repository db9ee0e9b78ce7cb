import { describe, expect, it } from "vitest";
import type { NodeInfo } from "../../src-main/contract";
import type { ApiClient } from "../../src-main/cli/apiClient";
import { listNodes } from "../../src-main/cli/nodeCommands";

function worker(name: string, overrides: Partial<NodeInfo> = {}): NodeInfo {
  return {
    id: `id-${name}`,
    name,
    url: `http://192.0.2.1:4000`,
    kind: "worker",
    backend: "cpu",
    devices: [],
    memory: { total_bytes: 8e9, free_bytes: 4e9 },
    backends_left_out: [],
    status: "online",
    health: { state: "ok", reason: null, since: null },
    registered_at: "2026-12-01T00:00:00.000Z",
    last_seen_at: "2026-12-01T00:00:00.000Z",
    models: [],
    loaded: [],
    ...overrides,
  };
}

describe("llmlb node list", () => {
  it("tells a node an operator drained from one its own machine is stopping", async () => {
    const data = [
      worker("in-maintenance", { draining: true, drained: true }),
      worker("shutting-down", { draining: true }),
      worker("serving"),
    ];
    const client = { request: async () => ({ data }) } as unknown as ApiClient;
    const lines: string[] = [];
    await listNodes(client, {}, { out: (line) => lines.push(line), err: () => undefined });
    const status = (name: string) =>
      lines
        .join("\n")
        .split("\n")
        .find((line) => line.startsWith(`${name} `))!
        .split(/\s{2,}/)[5];
    expect(status("in-maintenance")).toBe("drained");
    expect(status("shutting-down")).toBe("stopping");
    expect(status("serving")).toBe("online");
  });
});

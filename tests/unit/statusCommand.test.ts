import type { z } from "zod";
import { describe, expect, it } from "vitest";
import type { ApiClient } from "../../src-main/cli/apiClient";
import { showStatus } from "../../src-main/cli/statusCommands";
import type { NodeInfo } from "../../src-main/contract";
import { status } from "../helpers/serverShapes";
import { workerInfo as worker } from "../helpers/workerInfo";

const serverStatus = status({ queues: [{ model: "acme/big", in_flight: 1, waiting: 2 }] });

/** `llmlb status` as it prints for these nodes. */
async function statusText(nodes: NodeInfo[]): Promise<string> {
  const client = {
    url: "http://127.0.0.1:1",
    // As the real client, the answer read by the command's schema.
    request: async (schema: z.ZodType, _method: string, path: string) =>
      schema.parse(path === "/v0/status" ? serverStatus : { data: nodes }),
  } as unknown as ApiClient;
  const lines: string[] = [];
  await showStatus(client, {}, { out: (line) => lines.push(line), err: () => undefined });
  return lines.join("\n");
}

describe("llmlb status", () => {
  it("lists what each node holds: loading, serving, and unloading once its requests end", async () => {
    const loadingSince = new Date(Date.now() - 95_000).toISOString();
    const text = await statusText([
      worker("gpu-0", {
        loaded: [
          { model: "acme/big", sequences: 4, busy: 1, unloading: true },
          { model: "acme/small", sequences: 2, busy: 0 },
        ],
      }),
      worker("gpu-1", {
        loaded: [{ model: "acme/big", sequences: 4, busy: 0, loading_since: loadingSince }],
      }),
    ]);
    expect(text).toContain(
      [
        "  Loaded:     gpu-0: acme/big (1/4 sequences busy; unloads once they end)",
        "              gpu-0: acme/small (0/2 sequences busy)",
        "              gpu-1: acme/big (loading for 2 min; requests wait)",
        "  Requests:   acme/big: 1 running, 2 waiting",
      ].join("\n"),
    );
  });

  it("says none is loaded when no node holds a model", async () => {
    expect(await statusText([worker("gpu-0")])).toMatch(/ {2}Loaded: {5}none\n {2}Requests: {3}acme\/big/);
  });

  it("lists the downloads under way, as `model show` says them", async () => {
    const text = await statusText([
      worker("gpu-0", {
        models: [
          {
            model: "acme/big",
            artifact: "big-Q4_K_M.gguf",
            state: "downloading",
            bytes_done: 1_350_000_000,
            bytes_total: 2_700_000_000,
            bytes_per_second: 45_000_000,
          },
          { model: "acme/small", artifact: "small.gguf", state: "verifying" },
          { model: "acme/done", artifact: "done.gguf", state: "ready" },
        ],
      }),
    ]);
    expect(text).toContain(
      [
        "  Downloads:  gpu-0: acme/big downloading 50% (1.4 GB/2.7 GB, 45.0 MB/s, 30 s left)",
        "              gpu-0: acme/small verifying",
        "  Loaded:     none",
      ].join("\n"),
    );
  });
});

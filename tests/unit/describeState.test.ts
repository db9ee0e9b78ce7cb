import { describe, expect, it } from "vitest";
import type { ModelOnNode } from "../../src-main/contract";
import { formatBytes } from "../../src-main/contract/units";
import { modelStateText } from "../../src-main/core/models/describeState";

const on = {
  node_id: "n1",
  node_name: "box-cpu0",
  node_status: "online" as const,
  model: "m",
  artifact: "m.gguf",
};

describe("modelStateText (what `llmlb model list` shows per node)", () => {
  it("shows download progress with speed and time left", () => {
    const state: ModelOnNode = {
      ...on,
      state: "downloading",
      bytes_done: 1.2e9,
      bytes_total: 2.7e9,
      bytes_per_second: 30e6,
    };
    expect(modelStateText(state)).toBe("downloading 44% (1.2 GB/2.7 GB, 30.0 MB/s, 50 s left)");
  });

  it("leaves out speed and time before the first bytes arrive", () => {
    const state: ModelOnNode = {
      ...on,
      state: "downloading",
      bytes_done: 0,
      bytes_total: 2.7e9,
      bytes_per_second: 0,
    };
    expect(modelStateText(state)).toBe("downloading 0% (0 B/2.7 GB)");
  });

  it("says when the connection broke and the next try waits, and what a queued model waits for", () => {
    const state: ModelOnNode = {
      ...on,
      state: "downloading",
      bytes_done: 1.2e9,
      bytes_total: 2.7e9,
      bytes_per_second: 0,
      interrupted: "ECONNRESET: socket hang up",
    };
    expect(modelStateText(state)).toBe(
      "downloading 44% (1.2 GB/2.7 GB, interrupted: ECONNRESET: socket hang up; trying again)",
    );
    expect(
      modelStateText({
        ...state,
        interrupted: undefined,
        bytes_per_second: 0,
        restarted: "the server sent it whole",
      }),
    ).toBe("downloading 44% (1.2 GB/2.7 GB, begun again from the start: the server sent it whole)");
    expect(modelStateText({ ...on, state: "pending", queued_behind: "org/big" })).toBe(
      "queued after org/big's download",
    );
  });

  it("names the state otherwise, and says when the node is offline", () => {
    expect(modelStateText({ ...on, state: "ready" })).toBe("ready");
    expect(modelStateText({ ...on, node_status: "offline", state: "ready" })).toBe("ready (node offline)");
    expect(modelStateText({ ...on, state: "error", message: "x" })).toBe("error");
    expect(modelStateText({ ...on, state: "error", message: "x", crashed: true })).toBe("crashed");
    expect(modelStateText({ ...on, state: "error", message: "x", waits_for_retry: true })).toBe(
      "error, waits for a retry",
    );
  });

  it("formats bytes in decimal units", () => {
    expect([formatBytes(512), formatBytes(8192), formatBytes(976_512), formatBytes(70e9)]).toEqual([
      "512 B",
      "8.2 KB",
      "977 KB",
      "70.0 GB",
    ]);
  });
});

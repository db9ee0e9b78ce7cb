import { afterEach, describe, expect, it, vi } from "vitest";
import type { ApiClient } from "../../src-main/cli/apiClient";
import { loadModel } from "../../src-main/cli/modelSettingsCommands";

afterEach(() => {
  vi.useRealTimers();
});

/** A client whose load answers when `answer` is called. */
function slowClient() {
  let answer!: () => void;
  const client = {
    url: "http://127.0.0.1:1",
    timeoutMs: 60_000,
    request: (schema: { parse(value: unknown): unknown }) =>
      new Promise((resolve) => {
        answer = () =>
          resolve(schema.parse({ model: "org/repo", nodes: [{ node_name: "gpu-0", outcome: "loaded" }] }));
      }),
  } as unknown as ApiClient;
  return { client, answer: () => answer() };
}

describe("llmlb model load at a terminal", () => {
  it("says how long the load has taken while it waits, then clears that line", async () => {
    vi.useFakeTimers();
    const { client, answer } = slowClient();
    const live: string[] = [];
    const out: string[] = [];
    const done = loadModel(
      client,
      "org/repo",
      {},
      { out: (line) => out.push(line), err: () => {}, live: (line) => live.push(line) },
    );
    await vi.advanceTimersByTimeAsync(999);
    // A quick load shows nothing.
    expect(live).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(live).toEqual(["Loading org/repo… 1 s", "Loading org/repo… 2 s"]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(live.at(-1)).toBe("Loading org/repo… 2 min");
    answer();
    await done;
    expect(live.at(-1)).toBe("");
    expect(out).toEqual(["org/repo on gpu-0: loaded"]);
  });

  it("writes no progress where standard error is not a terminal", async () => {
    vi.useFakeTimers();
    const { client, answer } = slowClient();
    const err: string[] = [];
    const done = loadModel(client, "org/repo", {}, { out: () => {}, err: (line) => err.push(line) });
    await vi.advanceTimersByTimeAsync(30_000);
    answer();
    await done;
    expect(err).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import type { NodeInfo } from "../../src-main/contract";
import { workerInfo as worker } from "../helpers/workerInfo";
import { createMetrics } from "../../src-main/core/metrics";
import type { NodeService } from "../../src-main/core/nodes/nodeService";

/** What a Prometheus scrape reads, and the inputs it is read from, changed between scrapes. */
function setup() {
  const now = {
    nodes: [] as NodeInfo[],
    models: [] as string[],
    depths: [] as { model: string; running: number; waiting: number }[],
    speeds: [] as { nodeId: string; model: string; tokensPerSecond: number }[],
    paused: false,
  };
  const metrics = createMetrics({
    nodes: { list: () => ({ data: now.nodes }) } as unknown as NodeService,
    models: () => now.models,
    queueDepths: () => now.depths,
    speeds: () => now.speeds,
    version: "1.2.3",
    paused: () => now.paused,
  });
  /** Each sample of a metric, as `{labels} value` lines. */
  const scrape = async (name: string) =>
    (await metrics.render())
      .split("\n")
      .filter((line) => line.startsWith(`${name}{`))
      .map((line) => line.slice(name.length));
  return { now, scrape, metrics };
}

describe("llmlb_queue_depth", () => {
  it("reads 0 for a model once its queue empties, instead of vanishing (a graph would go stale at its last value)", async () => {
    const { now, scrape } = setup();
    now.models = ["org/busy", "org/idle"];
    now.depths = [{ model: "org/busy", running: 2, waiting: 3 }];
    expect(await scrape("llmlb_queue_depth")).toEqual([
      '{model="org/busy",state="waiting"} 3',
      '{model="org/busy",state="running"} 2',
      '{model="org/idle",state="waiting"} 0',
      '{model="org/idle",state="running"} 0',
    ]);

    // The admission queue forgets a model whose last request ended.
    now.depths = [];
    expect(await scrape("llmlb_queue_depth")).toEqual([
      '{model="org/busy",state="waiting"} 0',
      '{model="org/busy",state="running"} 0',
      '{model="org/idle",state="waiting"} 0',
      '{model="org/idle",state="running"} 0',
    ]);
  });

  it("reads 0 once for a model that had requests and is no longer registered, then drops it", async () => {
    const { now, scrape } = setup();
    now.models = ["org/going"];
    now.depths = [{ model: "org/going", running: 1, waiting: 0 }];
    await scrape("llmlb_queue_depth");
    now.models = [];
    now.depths = [];
    expect(await scrape("llmlb_queue_depth")).toEqual([
      '{model="org/going",state="waiting"} 0',
      '{model="org/going",state="running"} 0',
    ]);
    expect(await scrape("llmlb_queue_depth")).toEqual([]);
  });
});

describe("per-node metrics", () => {
  it("drop a node once it is no longer listed (removed), and its speed, models and downloads once it is offline", async () => {
    const { now, scrape } = setup();
    const downloading = {
      model: "org/m",
      artifact: "m.gguf",
      state: "downloading" as const,
      bytes_done: 10,
      bytes_total: 20,
      bytes_per_second: 1,
    };
    now.nodes = [worker("box-a", { models: [downloading] }), worker("box-b")];
    now.speeds = [{ nodeId: "id-box-a", model: "org/m", tokensPerSecond: 12 }];
    expect(await scrape("llmlb_tokens_per_second")).toEqual(['{node="box-a",model="org/m"} 12']);
    expect(await scrape("llmlb_node_models")).toEqual(['{node="box-a",state="downloading"} 1']);
    expect(await scrape("llmlb_download_bytes")).toEqual(['{node="box-a",model="org/m"} 10']);
    expect(await scrape("llmlb_nodes")).toEqual(['{status="online"} 2', '{status="offline"} 0']);

    now.nodes = [worker("box-a", { models: [downloading], status: "offline" }), worker("box-b")];
    expect(await scrape("llmlb_tokens_per_second")).toEqual([]);
    // Offline, it has nothing ready nor downloading, whatever it last said.
    expect(await scrape("llmlb_node_models")).toEqual([]);
    expect(await scrape("llmlb_download_bytes")).toEqual([]);
    expect(await scrape("llmlb_nodes")).toEqual(['{status="online"} 1', '{status="offline"} 1']);

    now.nodes = [worker("box-b")];
    for (const name of ["llmlb_node_models", "llmlb_download_bytes", "llmlb_tokens_per_second"]) {
      expect((await scrape(name)).join("\n")).not.toContain("box-a");
    }
    expect(await scrape("llmlb_nodes")).toEqual(['{status="online"} 1', '{status="offline"} 0']);
  });
});

describe("what an operator's dashboard reads besides", () => {
  it("the build, whether serving is paused, the drained nodes, the tokens answers reported, and the process", async () => {
    const { now, scrape, metrics } = setup();
    expect(await scrape("llmlb_build_info")).toEqual(['{version="1.2.3"} 1']);
    const plain = async (name: string) =>
      (await metrics.render()).split("\n").find((line) => line.startsWith(`${name} `));
    expect(await plain("llmlb_serving_paused")).toBe("llmlb_serving_paused 0");
    now.paused = true;
    expect(await plain("llmlb_serving_paused")).toBe("llmlb_serving_paused 1");

    now.nodes = [
      worker("box-a", { draining: true, drained: true }),
      worker("box-b"),
      worker("box-c", { status: "offline", draining: true, drained: true }),
    ];
    expect(await plain("llmlb_nodes_drained")).toBe("llmlb_nodes_drained 1");
    // Each node's own: whether it is up, and whether it takes new requests (an alert names which).
    expect(await scrape("llmlb_node_up")).toEqual([
      '{node="box-a",kind="worker"} 1',
      '{node="box-b",kind="worker"} 1',
      '{node="box-c",kind="worker"} 0',
    ]);
    expect(await scrape("llmlb_node_taking_requests")).toEqual([
      '{node="box-a",kind="worker"} 0',
      '{node="box-b",kind="worker"} 1',
      '{node="box-c",kind="worker"} 0',
    ]);

    metrics.requestDone("org/m", "/v1/chat/completions", 200, 1, 42);
    metrics.requestDone("org/m", "/v1/chat/completions", 200, 1, 8);
    metrics.requestDone("org/m", "/v1/embeddings", 200, 1);
    expect(await scrape("llmlb_completion_tokens_total")).toEqual(['{model="org/m"} 50']);
    // A request of minutes (a long generation after a wait in the queue) has a bucket of its own.
    expect(await scrape("llmlb_request_duration_seconds_bucket")).toContain(
      '{le="600",model="org/m",route="/v1/chat/completions"} 2',
    );
    expect(await plain("process_resident_memory_bytes")).toMatch(/^process_resident_memory_bytes \d+/);
  });
});

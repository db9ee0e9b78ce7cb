import { describe, expect, it } from "vitest";
import { createNodeLoad, speedFreshMs } from "../../src-main/core/balancer/nodeLoad";

describe("the speeds /metrics shows", () => {
  it("are those measured in the last 30 s: a cold start's or a removed model's goes once nothing measures it again", () => {
    const load = createNodeLoad();
    load.recordSpeed("n1", "org/cold", 8, 0);
    load.recordSpeed("n1", "org/warm", 800, 0);
    expect(load.speeds(speedFreshMs).map((speed) => speed.model)).toEqual(["org/cold", "org/warm"]);
    load.recordSpeed("n1", "org/warm", 800, speedFreshMs);
    expect(load.speeds(speedFreshMs + 1)).toEqual([
      { nodeId: "n1", model: "org/warm", tokensPerSecond: 800 },
    ]);
  });
});

describe("the models sent to a node", () => {
  it("are those sent since a time, the latest first, less a send its node failed before any answer", () => {
    const load = createNodeLoad();
    load.begin("n1", "org/a", 1_000);
    load.begin("n1", "org/b", 2_000);
    load.begin("n1", "org/a", 3_000);
    expect(load.sentSince("n1", 0)).toEqual(["org/a", "org/b"]);
    expect(load.sentSince("n1", 2_500)).toEqual(["org/a"]);
    expect(load.outstanding("n1")).toBe(3);
    expect(load.outstanding("n1", "org/a")).toBe(2);
    // The node failed the send at 3,000: it may not hold org/a since.
    load.unsend("n1", "org/a", 3_000);
    expect(load.sentSince("n1", 0)).toEqual(["org/b"]);
    // A failed send that another came after leaves the later one.
    load.begin("n1", "org/b", 4_000);
    load.unsend("n1", "org/b", 2_000);
    expect(load.lastSent("n1", "org/b")).toBe(4_000);
  });
});

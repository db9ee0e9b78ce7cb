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

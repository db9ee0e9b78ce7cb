import { afterEach, describe, expect, it } from "vitest";
import { createNodeHealth, type NodeHealth } from "../../src-main/core/nodes/nodeHealth";
import { createLogger } from "../../src-main/shared/logger";

// What the balancer, the node service and the endpoint service tell one node's health, and what
// it then says. No node answers here: checks of failing nodes wait longer than any test runs.
const route = { id: "n1", name: "n1", url: "http://127.0.0.1:9" };
let now = 0;
let health: NodeHealth;
let changes: string[];

function start(): NodeHealth {
  changes = [];
  now = 1_000_000;
  health = createNodeHealth({
    clock: { now: () => now },
    log: createLogger({ level: "silent" }),
    onChange: (id) => changes.push(id),
    probe: { intervalMs: 600_000 },
  });
  return health;
}

afterEach(async () => {
  await health?.dispose();
});

describe("node health", () => {
  it("passes a failing node over, longer when it fails again soon after it answered", async () => {
    const h = start();
    h.failed(route, "A request failed.");
    expect(h.isFailing(route, now + 4_000)).toBe(true);
    expect(h.isFailing(route, now + 5_001)).toBe(false);
    // Another try at it fails too: still one change, the pass-over longer.
    h.failed(route, "A request failed.");
    expect(h.isFailing(route, now + 9_000)).toBe(true);
    h.answered(route.id);
    expect(h.isFailing(route, now)).toBe(false);
    expect(changes).toEqual(["n1", "n1"]);

    // Failing again within a minute of answering: the run of failures goes on.
    now += 30_000;
    h.failed(route, "A request failed.");
    expect(h.isFailing(route, now + 15_000)).toBe(true);
    // A restarted node, at another URL, is a new start.
    expect(h.isFailing({ ...route, url: "http://127.0.0.1:10" }, now)).toBe(false);
  });

  it("says when a node recovered, and keeps an offline node's reason", async () => {
    const h = start();
    h.cameOnline(route.id);
    h.failed(route, "A request for m failed before any answer (answered 503).");
    expect(h.of({ id: "n1", status: "online" })).toEqual({
      state: "failing",
      reason: "A request for m failed before any answer (answered 503).",
      since: new Date(now).toISOString(),
    });
    now += 2_000;
    h.answered(route.id);
    expect(h.of({ id: "n1", status: "online" })).toEqual({
      state: "ok",
      reason: null,
      since: new Date(now).toISOString(),
    });
    h.wentOffline(route.id, "Its worker process ended.");
    expect(h.of({ id: "n1", status: "offline" })).toEqual({
      state: "offline",
      reason: "Its worker process ended.",
      since: new Date(now).toISOString(),
    });
    // What its service knows now (an endpoint's latest check) says more than what was seen first.
    expect(h.of({ id: "n1", status: "offline" }, "HTTP 502 from /v1/models.").reason).toBe(
      "HTTP 502 from /v1/models.",
    );
  });

  it("takes no failure of a node that is offline or removed: its requests were called off", async () => {
    const h = start();
    h.wentOffline(route.id, "It stopped sending heartbeats (silent for over 6 s).");
    h.failed(route, "An answer for m broke off (called off).");
    h.cameOnline(route.id);
    expect(h.isFailing(route, now)).toBe(false);

    h.forget(route.id);
    h.failed(route, "A request for m failed before any answer (unreachable).");
    expect(h.isFailing(route, now)).toBe(false);
    expect(changes).toEqual([]);
  });
});

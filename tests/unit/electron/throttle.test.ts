import { describe, expect, it } from "vitest";
import { throttle, type ThrottleTimers } from "../../../src-main/electron/throttle";

/** A clock the test moves by hand. */
function fakeTimers() {
  let now = 0;
  let timers: { at: number; run: () => void; id: number }[] = [];
  let nextId = 1;
  const api: ThrottleTimers = {
    now: () => now,
    setTimeout: (run, ms) => {
      const id = nextId++;
      timers.push({ at: now + ms, run, id });
      return id;
    },
    clearTimeout: (id) => {
      timers = timers.filter((timer) => timer.id !== id);
    },
  };
  return {
    api,
    advance(ms: number) {
      const until = now + ms;
      for (;;) {
        const due = timers.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((timer) => timer !== due);
        now = due.at;
        due.run();
      }
      now = until;
    },
    pending: () => timers.length,
  };
}

describe("throttle", () => {
  it("runs the first call at once", () => {
    const clock = fakeTimers();
    let runs = 0;
    const refresh = throttle(() => runs++, 1000, clock.api);
    refresh();
    expect(runs).toBe(1);
  });

  it("turns a burst into one more run at the end of the interval", () => {
    const clock = fakeTimers();
    let runs = 0;
    const refresh = throttle(() => runs++, 1000, clock.api);
    refresh();
    // Download progress: 50 events in the next half second.
    for (let i = 0; i < 50; i++) {
      clock.advance(10);
      refresh();
    }
    expect(runs).toBe(1);
    clock.advance(499);
    expect(runs).toBe(1);
    clock.advance(1);
    expect(runs).toBe(2);
    expect(clock.pending()).toBe(0);
  });

  it("runs at most once an interval under a steady stream, and the last call is never lost", () => {
    const clock = fakeTimers();
    const runsAt: number[] = [];
    const refresh = throttle(() => runsAt.push(clock.api.now()), 1000, clock.api);
    for (let t = 0; t < 5000; t += 50) {
      refresh();
      clock.advance(50);
    }
    clock.advance(2000);
    expect(runsAt.length).toBeLessThanOrEqual(6);
    for (let i = 1; i < runsAt.length; i++) expect(runsAt[i]! - runsAt[i - 1]!).toBeGreaterThanOrEqual(1000);
    // The last request (at 4950) was followed by a run.
    expect(runsAt.at(-1)!).toBeGreaterThanOrEqual(4950);
  });

  it("runs at once again after a quiet interval", () => {
    const clock = fakeTimers();
    let runs = 0;
    const refresh = throttle(() => runs++, 1000, clock.api);
    refresh();
    clock.advance(5000);
    refresh();
    expect(runs).toBe(2);
  });

  it("drops a pending run when disposed, and ignores later calls", () => {
    const clock = fakeTimers();
    let runs = 0;
    const refresh = throttle(() => runs++, 1000, clock.api);
    refresh();
    refresh();
    refresh.dispose();
    clock.advance(2000);
    refresh();
    expect(runs).toBe(1);
    expect(clock.pending()).toBe(0);
  });
});

import { describe, expect, it } from "vitest";
import { createQuitController, onWindowAllClosed } from "../../../src-main/electron/lifecycle";

describe("closing the last window", () => {
  it("keeps serving on every platform; macOS also hides the Dock icon", () => {
    for (const platform of ["darwin", "win32", "linux"] as const)
      expect(onWindowAllClosed(platform).action, platform).toBe("keep-running");
    expect(onWindowAllClosed("darwin").hideDock).toBe(true);
    expect(onWindowAllClosed("win32").hideDock).toBe(false);
    expect(onWindowAllClosed("linux").hideDock).toBe(false);
  });
});

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function harness(drainResult = deferred()) {
  const calls: string[] = [];
  const deadlines: (() => void)[] = [];
  const problems: string[] = [];
  const controller = createQuitController({
    drain: () => {
      calls.push("drain");
      return drainResult.promise;
    },
    quit: () => calls.push("quit"),
    exit: (code) => calls.push(`exit ${code}`),
    relaunch: () => calls.push("relaunch"),
    forceAfterMs: 20_000,
    onProblem: (message) => problems.push(message),
    setTimeout: (run) => deadlines.push(run),
  });
  return { controller, calls, deadlines, problems, drainResult };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("quitting drains first", () => {
  it("holds the first quit, drains, then quits for real", async () => {
    const { controller, calls, drainResult } = harness();
    expect(controller.beforeQuit()).toBe("prevent");
    expect(controller.phase).toBe("draining");
    expect(calls).toEqual(["drain"]);
    drainResult.resolve();
    await settle();
    expect(calls).toEqual(["drain", "quit"]);
    // app.quit() fires before-quit again: now it goes through.
    expect(controller.beforeQuit()).toBe("allow");
    expect(controller.phase).toBe("drained");
  });

  it("holds further quits while draining, and drains once", async () => {
    const { controller, calls, drainResult } = harness();
    controller.beforeQuit();
    expect(controller.beforeQuit()).toBe("prevent");
    expect(controller.beforeQuit()).toBe("prevent");
    drainResult.resolve();
    await settle();
    expect(calls).toEqual(["drain", "quit"]);
  });

  it("still quits when stopping the service fails", async () => {
    const { controller, calls, problems, drainResult } = harness();
    controller.beforeQuit();
    drainResult.reject(new Error("disk full"));
    await settle();
    expect(calls).toEqual(["drain", "quit"]);
    expect(problems).toHaveLength(1);
  });

  it("ends the process when the drain outlasts the deadline", async () => {
    const { controller, calls, deadlines, problems, drainResult } = harness();
    controller.beforeQuit();
    expect(deadlines).toHaveLength(1);
    deadlines[0]!();
    expect(calls).toEqual(["drain", "exit 0"]);
    expect(problems[0]).toMatch(/20000 ms/);
    // A drain that ends after all changes nothing.
    drainResult.resolve();
    await settle();
    expect(calls).toEqual(["drain", "exit 0"]);
  });

  it("does nothing at the deadline when the drain finished in time", async () => {
    const { controller, calls, deadlines, drainResult } = harness();
    controller.beforeQuit();
    drainResult.resolve();
    await settle();
    deadlines[0]!();
    expect(calls).toEqual(["drain", "quit"]);
  });

  it("starts again after the drain when launched again meanwhile (Quit, then open it at once)", async () => {
    const { controller, calls, drainResult } = harness();
    controller.launchedAgain();
    controller.beforeQuit();
    controller.launchedAgain();
    controller.launchedAgain();
    drainResult.resolve();
    await settle();
    // Once, before the quit that ends this copy; a launch while running was the window's to answer.
    expect(calls).toEqual(["drain", "relaunch", "quit"]);
  });

  it("starts again too when the drain outlasts the deadline", () => {
    const { controller, calls, deadlines } = harness();
    controller.beforeQuit();
    controller.launchedAgain();
    deadlines[0]!();
    expect(calls).toEqual(["drain", "relaunch", "exit 0"]);
  });

  it("lets every quit through once the system shuts down, draining or not", () => {
    const { controller, calls } = harness();
    controller.beforeQuit();
    controller.systemShuttingDown();
    expect(controller.beforeQuit()).toBe("allow");
    const idle = harness();
    idle.controller.systemShuttingDown();
    expect(idle.controller.beforeQuit()).toBe("allow");
    expect(idle.calls).toEqual([]);
    expect(calls).toEqual(["drain"]);
  });

  it("starts again when launched once drained but not yet gone (it still holds the lock)", async () => {
    const { controller, calls, drainResult } = harness();
    controller.beforeQuit();
    drainResult.resolve();
    await settle();
    controller.launchedAgain();
    controller.launchedAgain();
    expect(calls).toEqual(["drain", "quit", "relaunch"]);
  });
});

import { describe, expect, it } from "vitest";
import type { Model, ModelOnNode } from "../../src-main/contract";
import { unavailableError } from "../../src-main/core/balancer/explainUnavailable";

// The 503 a client gets for a registered model no node can serve yet: what it says, and whether it
// asks the client to come back.

const on = { node_id: "n1", node_name: "box-cpu0", node_status: "online" as const, model: "org/m" };
const modelWith = (...nodes: ModelOnNode[]) =>
  ({ name: "org/m", settings: { nodes: [] }, nodes }) as unknown as Model;
const context = { nodesKnown: 1, workersExpected: true, onlineNodeNames: ["box-cpu0"] };

describe("why a registered model cannot be served now", () => {
  it("says a download's connection broke and that the node tries again", () => {
    const error = unavailableError(
      modelWith({
        ...on,
        artifact: "m.gguf",
        state: "downloading",
        bytes_done: 5e8,
        bytes_total: 1e9,
        bytes_per_second: 0,
        interrupted: "HTTP 503",
      }),
      context,
    );
    expect(error.message).toBe(
      "Model org/m is still downloading on box-cpu0: 50% (500 MB of 1.0 GB); the connection broke (HTTP 503) and it tries again. Retry later.",
    );
    expect(error.retryAfter).toBeGreaterThan(0);
  });

  it("says a model waits for another process's download of its file, at once (it may take long)", () => {
    const why =
      "another download of this file into the same cache (process 7 on box); this node uses it once done";
    const error = unavailableError(
      modelWith({ ...on, artifact: "m.gguf", state: "pending", waiting_for: why }),
      context,
    );
    expect(error.code).toBe("model.not_ready");
    expect(error.message).toBe(`Model org/m waits on box-cpu0 for ${why}. Retry later.`);
  });

  it("names the download a queued model waits for", () => {
    const error = unavailableError(
      modelWith({ ...on, artifact: null, state: "pending", queued_behind: "org/big" }),
      context,
    );
    expect(error.code).toBe("model.not_ready");
    expect(error.message).toBe(
      "Model org/m waits for the download of org/big on box-cpu0 (a node downloads one model at a time). Retry later.",
    );
  });

  it("says a model pinned to this llmlb's own worker, starting or started again, is coming: the request waits", () => {
    const pinned = { ...modelWith(), settings: { nodes: ["box-cpu0"] } } as unknown as Model;
    const offline = { ...context, onlineNodeNames: [] };
    const restarting = unavailableError(pinned, { ...offline, localWorkerNames: ["box-cpu0"] });
    expect(restarting.code).toBe("model.not_ready");
    expect(restarting.message).toBe(
      "Model org/m is pinned to box-cpu0, and box-cpu0, a worker of this llmlb, is starting. Retry shortly.",
    );
    // Another machine's worker comes back only when someone starts it.
    const elsewhere = unavailableError(pinned, { ...offline, localWorkerNames: ["other-cpu0"] });
    expect(elsewhere.code).toBe("model.unavailable");
    expect(elsewhere.message).toMatch(/and it is not online\. Start it again/);
  });

  it("says a model pinned only to nodes since removed is to be pinned anew, not started again", () => {
    const pinned = { ...modelWith(), settings: { nodes: ["ext1"] } } as unknown as Model;
    const error = unavailableError(pinned, { ...context, knownNodeNames: ["box-cpu0"] });
    expect(error.code).toBe("model.unavailable");
    expect(error.message).toBe(
      "Model org/m is pinned to ext1, and that node was removed. Pin it anew (llmlb model set org/m --nodes <names>), or let any node serve it (--nodes any).",
    );
    expect(error.retryable).toBe(false);
  });

  it("says a model is ready only on drained nodes of its pin, whatever a node the pin leaves out lists", () => {
    const pinned = {
      ...modelWith(
        { ...on, artifact: "m.gguf", state: "ready" },
        { ...on, node_id: "e1", node_name: "vllm", artifact: null, state: "ready" },
      ),
      settings: { nodes: ["box-cpu0"] },
    } as unknown as Model;
    const error = unavailableError(pinned, {
      ...context,
      onlineNodeNames: ["box-cpu0", "vllm"],
      drainingNodeNames: ["box-cpu0"],
    });
    expect(error.message).toMatch(/^Model org\/m is ready only on box-cpu0, which takes no new requests/);
  });

  it("says what to do when every node is offline and this llmlb runs no workers of its own", () => {
    const error = unavailableError(
      modelWith({ ...on, node_status: "offline", artifact: "m.gguf", state: "ready" }),
      { nodesKnown: 1, workersExpected: false, onlineNodeNames: [] },
    );
    expect(error.message).toBe(
      "Model org/m is registered, but no node is online to serve it, and this llmlb runs no workers of its own (--workers none): start box-cpu0 again, join a node (`llmlb node --join`) or add an endpoint (`llmlb endpoint add`).",
    );
    // A node that left may come back: worth a later try.
    expect(error.retryAfter).toBeGreaterThan(0);
  });
});

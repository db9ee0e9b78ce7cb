import type { z } from "zod";
import { describe, expect, it } from "vitest";
import type { ApiClient } from "../../src-main/cli/apiClient";
import { waitUntilReady } from "../../src-main/cli/waitForModel";
import { defaultModelSettings, type Model, type NodeInfo, type ServerEvent } from "../../src-main/contract";
import { model, onNode } from "../helpers/serverShapes";
import { workerInfo as worker } from "../helpers/workerInfo";

const name = "acme/big-GGUF";
const artifact = "model-Q4_K_M.gguf";
const tooBig = { state: "unsupported", artifact, reason: "It needs 40 GB; this node has 24 GB." } as const;
const failed = { state: "error", artifact, message: "The hub answered 500.", crashed: false } as const;
const pending = { state: "pending", artifact } as const;

/** A server whose events the test sends, with `snapshot` as the model and `nodes` as the node list. */
function fakeServer(snapshot: Model, nodes: NodeInfo[]) {
  let push!: (chunk: Uint8Array) => void;
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => void (push = (c) => controller.enqueue(c)),
  });
  const client = {
    url: "http://127.0.0.1:1",
    open: async () => new Response(body),
    // As the real client, the answer read by the command's schema.
    request: async (schema: z.ZodType, _method: string, path: string) =>
      schema.parse(path === "/v0/nodes" ? { data: nodes } : snapshot),
  } as unknown as ApiClient;
  const send = (event: ServerEvent) => push(new TextEncoder().encode(`data: ${JSON.stringify(event)}\n\n`));
  return { client, send };
}

/** Waits for `name`, telling each progress line; `outcome` says how the wait ended, once it has. */
function waitOn(client: ApiClient) {
  const said: string[] = [];
  let outcome: { ready: Model } | { failed: string } | undefined;
  const waited = waitUntilReady(
    client,
    name,
    (seen) => said.push(seen.nodes.map((n) => n.state).join()),
    AbortSignal.timeout(10_000),
  ).then(
    (ready) => (outcome = { ready }),
    (error: Error) => (outcome = { failed: error.message }),
  );
  return { said, waited, outcome: () => outcome };
}

/** Resolves once the wait has heard `count` states, or ended. */
async function heard(wait: ReturnType<typeof waitOn>, count: number): Promise<void> {
  while (wait.said.length < count && !wait.outcome()) await new Promise((resolve) => setImmediate(resolve));
}

describe("waiting for a model to be ready", () => {
  it("goes on waiting while an online node has not taken the model up, though the others could not", async () => {
    const { client, send } = fakeServer(model(name, { nodes: [onNode(tooBig, "gpu-0")] }), [
      worker("gpu-0"),
      worker("gpu-1"),
    ]);
    const wait = waitOn(client);
    await heard(wait, 1);
    expect(wait.outcome()).toBeUndefined();
    send({
      type: "model.updated",
      model: model(name, { nodes: [onNode(tooBig, "gpu-0"), onNode(pending, "gpu-1")] }),
    });
    await heard(wait, 2);
    expect(wait.outcome()).toBeUndefined();
    send({
      type: "model.updated",
      model: model(name, { nodes: [onNode(tooBig, "gpu-0"), onNode(failed, "gpu-1")] }),
    });
    await wait.waited;
    const outcome = wait.outcome() as { failed: string };
    expect(outcome.failed).toContain("gpu-0: cannot run it: It needs 40 GB");
    expect(outcome.failed).toContain("gpu-1: failed: The hub answered 500.");
  });

  it("fails at once where the nodes left are not the model's", async () => {
    const settings = { ...defaultModelSettings, nodes: ["gpu-0"] };
    const { client } = fakeServer(model(name, { settings, nodes: [onNode(tooBig, "gpu-0")] }), [
      worker("gpu-0"),
      worker("gpu-1"),
      worker("vllm", { kind: "endpoint" }),
    ]);
    const wait = waitOn(client);
    await wait.waited;
    expect(wait.outcome()).toEqual({ failed: expect.stringContaining("gpu-0: cannot run it") });
  });

  it("fails once the node that had not taken the model up goes offline", async () => {
    const { client, send } = fakeServer(model(name, { nodes: [onNode(tooBig, "gpu-0")] }), [
      worker("gpu-0"),
      worker("gpu-1"),
    ]);
    const wait = waitOn(client);
    await heard(wait, 1);
    send({ type: "node.updated", node: worker("gpu-1", { status: "offline" }) });
    await wait.waited;
    expect(wait.outcome()).toEqual({ failed: expect.stringContaining("gpu-0: cannot run it") });
  });

  it("resolves once a node has it ready", async () => {
    const { client, send } = fakeServer(model(name, { nodes: [onNode(pending, "gpu-0")] }), [
      worker("gpu-0"),
    ]);
    const wait = waitOn(client);
    await heard(wait, 1);
    send({
      type: "model.updated",
      model: model(name, { ready: true, nodes: [onNode({ state: "ready", artifact }, "gpu-0")] }),
    });
    await wait.waited;
    expect(wait.outcome()).toMatchObject({ ready: { name, ready: true } });
  });
});

import fs from "node:fs";
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  heartbeatResponseSchema,
  modelSchema,
  nodeJoinInfoSchema,
  nodeListSchema,
  nodeRegisterResponseSchema,
  nodeRemovedSchema,
  openAiModelListSchema,
  type HeartbeatRequest,
  type NodeRegisterRequest,
  type ServerEvent,
} from "../../src-main/contract";
import { createLogger } from "../../src-main/shared/logger";
import { packageVersion } from "../../src-main/shared/packageVersion";
import { createNodeSession, type NodeSessionOptions } from "../../src-main/worker/agent/nodeSession";
import { createControlPlaneClient } from "../../src-main/worker/controlPlaneClient";
import type { WorkerConfig } from "../../src-main/worker/workerConfig";
import { runCli } from "../helpers/cliProcess";
import { startFakeOpenAiServer } from "../helpers/fakeOpenAiServer";
import { startCore, startCoreWithHub, type TestServer, type TestServerWithHub } from "../helpers/startCore";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

let server: TestServerWithHub;
const gb = 1e9;

function nodeRequest(name: string, memoryBytes = 16 * gb): NodeRegisterRequest {
  return {
    name,
    url: "http://127.0.0.1:9/",
    backend: "cpu",
    devices: [{ name: "Test CPU", backend: "cpu", memory_total_bytes: memoryBytes }],
    memory: { total_bytes: memoryBytes, free_bytes: memoryBytes / 2 },
    backends_left_out: [],
  };
}

/** A worker's own session with the control plane at `url`, as the worker makes it (1 GB of memory). */
function workerSession(name: string, url: string, token: string, options: Partial<NodeSessionOptions> = {}) {
  return createNodeSession({
    config: { name, backend: "cpu", backendsLeftOut: [] } as unknown as WorkerConfig,
    client: createControlPlaneClient(url, token),
    memory: {
      devices: async () => [],
      memory: async () => ({ total_bytes: gb, free_bytes: gb }),
      dispose: async () => undefined,
    },
    nodeUrl: "http://127.0.0.1:9/",
    log: createLogger({ level: "silent" }),
    wait: async () => undefined,
    stopped: new AbortController().signal,
    ...options,
  });
}

async function registerNode(
  name: string,
  memoryBytes?: number,
  url?: string,
  backendsLeftOut: NodeRegisterRequest["backends_left_out"] = [],
) {
  const body = {
    ...nodeRequest(name, memoryBytes),
    ...(url ? { url } : {}),
    backends_left_out: backendsLeftOut,
  };
  const response = await server.request("POST", "/v0/nodes/register", {
    body,
    headers: { authorization: `Bearer ${server.nodeToken}` },
  });
  expect(response.status).toBe(201);
  return nodeRegisterResponseSchema.parse(response.body);
}

function beat(id: string, token: string, models: HeartbeatRequest["models"], memoryBytes = 16 * gb) {
  return server.request("POST", `/v0/nodes/${id}/heartbeat`, {
    body: { memory: { total_bytes: memoryBytes, free_bytes: memoryBytes / 2 }, models },
    headers: { authorization: `Bearer ${token}` },
  });
}

beforeAll(async () => {
  server = await startCoreWithHub({
    core: { nodeTimings: { heartbeatIntervalMs: 100, syncIntervalMs: 1000, offlineAfterMs: 400 } },
  });
  for (const url of ["acme/tiny-GGUF", "acme/split-GGUF"]) {
    expect((await server.request("POST", "/v0/models/register", { body: { url } })).status).toBe(201);
  }
});
afterAll(async () => {
  await server.close();
});

describe("POST /v0/nodes/register", () => {
  it("needs the node token or the admin token", async () => {
    const anonymous = await server.request("POST", "/v0/nodes/register", {
      body: nodeRequest("x"),
      anonymous: true,
    });
    expect(anonymous.status).toBe(401);
    const wrong = await server.request("POST", "/v0/nodes/register", {
      body: nodeRequest("x"),
      headers: { authorization: "Bearer not-a-node-token-0000" },
    });
    expect(wrong.status).toBe(401);
    const asAdmin = await server.request("POST", "/v0/nodes/register", { body: nodeRequest("by-admin") });
    expect(asAdmin.status).toBe(201);
  });

  it("answers a node id, its own token and the intervals", async () => {
    const answer = await registerNode("gpu-box-cuda0");
    expect(answer.node_id).toMatch(/^node_/);
    expect(answer.node_token).not.toBe(server.nodeToken);
    expect(answer).toMatchObject({ heartbeat_interval_ms: 100, sync_interval_ms: 1000 });
  });

  it("gives a restarted node (same name) its row back and retires its old token", async () => {
    const first = await registerNode("restarting");
    const second = await registerNode("restarting");
    expect(second.node_id).toBe(first.node_id);
    expect((await beat(first.node_id, first.node_token, [])).status).toBe(401);
    expect((await beat(second.node_id, second.node_token, [])).status).toBe(200);
  });

  it("refuses a second node under the name of one online elsewhere, and lets it in once that one is gone", async () => {
    // Two machines with one host name (cloned VMs), or `node --join` beside the control plane's own
    // workers: each would take the other's row back at its next heartbeat, forever.
    const first = await registerNode("twin-cpu0", undefined, "http://127.0.0.1:9101");
    const second = await server.request("POST", "/v0/nodes/register", {
      body: { ...nodeRequest("twin-cpu0"), url: "http://127.0.0.1:9102" },
      headers: { authorization: `Bearer ${server.nodeToken}` },
    });
    expect(second.status).toBe(409);
    expect(second.body.error.message).toBe(
      "A node named twin-cpu0 is online at http://127.0.0.1:9101 already. Give this one another name (llmlb node --join … --name <name>), or stop the other one.",
    );
    expect((await beat(first.node_id, first.node_token, [])).status).toBe(200);

    // Silent past the offline cutoff, the first is gone: the name is free again.
    await waitFor("the first to go offline", async () => {
      const nodes = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body);
      return nodes.data.find((node) => node.name === "twin-cpu0")?.status === "offline";
    });
    expect((await registerNode("twin-cpu0", undefined, "http://127.0.0.1:9102")).node_id).toBe(first.node_id);
  });

  it("tells a node started again with its own token, while its last run is still listed, that it will join", async () => {
    const first = await registerNode("again-cpu0", undefined, "http://127.0.0.1:9111");
    // Killed, and started at once on another port: its last run has not missed its heartbeats yet.
    const restarted = await server.request("POST", "/v0/nodes/register", {
      body: { ...nodeRequest("again-cpu0"), url: "http://127.0.0.1:9112" },
      headers: { authorization: `Bearer ${first.node_token}` },
    });
    expect(restarted.status).toBe(409);
    expect(restarted.body.error.message).toBe(
      "This node's last run (at http://127.0.0.1:9111) is still listed online: this one joins once that one's heartbeats stop (within seconds). If it still runs (a second process on the same data directory), stop one of them.",
    );
  });

  it("refuses a node under an endpoint's name, which lists and pinned settings would confuse", async () => {
    const vllm = await startFakeOpenAiServer({ name: "vllm", models: ["org/elsewhere"] });
    try {
      const added = await server.request("POST", "/v0/endpoints", {
        body: { name: "gpu-box", url: vllm.url },
      });
      expect(added.status).toBe(201);
      const refused = await server.request("POST", "/v0/nodes/register", {
        body: { ...nodeRequest("gpu-box"), url: "http://127.0.0.1:9103" },
        headers: { authorization: `Bearer ${server.nodeToken}` },
      });
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({
        code: "node.name_taken",
        param: "name",
        message:
          "An endpoint is named gpu-box: give this node another name (llmlb node --join … --name <name>), or remove the endpoint (llmlb endpoint rm gpu-box).",
      });
      const names = nodeListSchema
        .parse((await server.request("GET", "/v0/nodes")).body)
        .data.map((n) => n.name);
      expect(names.filter((name) => name === "gpu-box")).toHaveLength(1);
    } finally {
      await server.request("DELETE", "/v0/endpoints/gpu-box");
      await vllm.close();
    }
  });

  it("says a worker node is not an endpoint when asked to remove it as one", async () => {
    await registerNode("box-not-endpoint");
    const refused = await server.request("DELETE", "/v0/endpoints/box-not-endpoint");
    expect(refused.status).toBe(404);
    expect(refused.body.error.message).toBe(
      "box-not-endpoint is a worker node, not an endpoint: `llmlb node rm box-not-endpoint` (DELETE /v0/nodes/box-not-endpoint) removes it once it is offline.",
    );
  });

  it("refuses malformed registrations", async () => {
    for (const body of [
      {},
      { ...nodeRequest("x"), backend: "tpu" },
      { ...nodeRequest("x"), url: "file:///x" },
    ]) {
      const response = await server.request("POST", "/v0/nodes/register", { body });
      expect(response.status).toBe(400);
    }
  });

  it("lets in a node newer than itself, whose registration and heartbeats say more than it knows", async () => {
    const newer = await server.request("POST", "/v0/nodes/register", {
      body: { ...nodeRequest("from-the-future"), accelerators: [{ kind: "npu" }] },
      headers: { authorization: `Bearer ${server.nodeToken}` },
    });
    expect(newer.status).toBe(201);
    const { node_id, node_token } = nodeRegisterResponseSchema.parse(newer.body);
    const beaten = await server.request("POST", `/v0/nodes/${node_id}/heartbeat`, {
      body: {
        memory: { total_bytes: gb, free_bytes: gb / 2 },
        // A state added since this control plane: left out, and the node's other models still count.
        models: [
          { model: "acme/tiny-GGUF", artifact: null, state: "compiling", progress: 0.5 },
          { model: "acme/split-GGUF", artifact: null, state: "pending" },
        ],
        temperature_c: 61,
      },
      headers: { authorization: `Bearer ${node_token}` },
    });
    expect(beaten.status).toBe(200);
    const listed = (await server.request("GET", "/v0/nodes")).body.data.find(
      (node: { name: string }) => node.name === "from-the-future",
    );
    expect(
      listed.models.map((state: { model: string; state: string }) => `${state.model} ${state.state}`),
    ).toEqual(["acme/split-GGUF pending"]);
  });
});

describe("llmlbs of two versions", () => {
  it("a node of another node protocol is refused, both llmlbs named; one too old to say its own is let in, as 1", async () => {
    const refused = await server.request("POST", "/v0/nodes/register", {
      body: { ...nodeRequest("from-protocol-2"), llmlb_version: "0.9.0", protocol: 2 },
      headers: { authorization: `Bearer ${server.nodeToken}` },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      code: "node.protocol_mismatch",
      message:
        "This node runs llmlb 0.9.0, which speaks node protocol 2; this control plane runs llmlb 0.0.0-test, which speaks 1. Run the same llmlb on both machines.",
    });
    const listed = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body).data;
    expect(listed.some((node) => node.name === "from-protocol-2")).toBe(false);
    const unsaid = await server.request("POST", "/v0/nodes/register", {
      body: { ...nodeRequest("from-protocol-2"), protocol: 2 },
      headers: { authorization: `Bearer ${server.nodeToken}` },
    });
    expect(unsaid.body.error.message).toMatch(
      /^This node runs an llmlb that does not say its version, which speaks node protocol 2;/,
    );

    const older = await registerNode("from-before-versions");
    expect(older).toMatchObject({ protocol: 1, llmlb_version: "0.0.0-test" });
  });

  it("a worker says which llmlb it runs, and is listed with it; llmlb node list names one not the server's", async () => {
    const session = workerSession("says-its-version", server.url, server.nodeToken);
    await session.register();
    const listed = nodeListSchema
      .parse((await server.request("GET", "/v0/nodes")).body)
      .data.find((node) => node.name === "says-its-version");
    expect(listed?.llmlb_version).toBe(packageVersion());

    // Online while the CLI starts (this server runs 0.0.0-test).
    const beating = setInterval(() => void session.heartbeat({ models: [], loaded: [] }), 100);
    try {
      const result = await runCli(["node", "list", "--url", server.url, "--token", server.token], {});
      expect(result.stdout).toContain(
        `Another llmlb than this server's (0.0.0-test); run one llmlb on every machine:\n  says-its-version runs llmlb ${packageVersion()}\n`,
      );
    } finally {
      clearInterval(beating);
    }
  });

  it("a worker is told at once by a control plane of another protocol, newer or older than the check", async () => {
    // A newer control plane refuses it; one older than the check lets it in, saying another protocol.
    const answers = [
      {
        status: 409,
        body: {
          error: {
            message:
              "This node runs llmlb 0.1.0, which speaks node protocol 1; this control plane runs llmlb 2.0.0, which speaks 3. Run the same llmlb on both machines.",
            type: "invalid_request_error",
            code: "node.protocol_mismatch",
            param: "protocol",
          },
        },
      },
      {
        status: 201,
        body: {
          node_id: "node_x",
          node_token: "llmlb_nt_x",
          heartbeat_interval_ms: 2000,
          sync_interval_ms: 5000,
          llmlb_version: "2.0.0",
          protocol: 3,
        },
      },
    ];
    for (const answer of answers) {
      const controlPlane = http.createServer((_request, response) =>
        response
          .writeHead(answer.status, { "content-type": "application/json" })
          .end(JSON.stringify(answer.body)),
      );
      controlPlane.listen(0, "127.0.0.1");
      await once(controlPlane, "listening");
      const stopped = new AbortController();
      const told: (string | undefined)[] = [];
      let tries = 0;
      try {
        await workerSession(
          "meets-protocol-3",
          `http://127.0.0.1:${(controlPlane.address() as AddressInfo).port}`,
          "t",
          {
            stopped: stopped.signal,
            wait: async () => void tries++,
            onRegistration: (why) => {
              told.push(why);
              stopped.abort();
            },
          },
        ).register();
      } finally {
        controlPlane.close();
      }
      // On its first try, not after the 15 s a passing refusal is given.
      expect(tries).toBe(1);
      expect(told).toEqual([
        answer.status === 409
          ? answer.body.error!.message
          : `The control plane runs llmlb 2.0.0, which speaks node protocol 3; this node runs llmlb ${packageVersion()}, which speaks 1. Run the same llmlb on both machines.`,
      ]);
    }
  });
});

describe("what a node says of itself", () => {
  it("is listed in /v0/nodes: the GPU backends its machine left out, and the llama.cpp it runs once it says", async () => {
    const reason = "CUDA failed its self-test on a tiny model: CUDA error. Ways out: update the driver.";
    const node = await registerNode("worker-self", undefined, undefined, [{ backend: "cuda", reason }]);
    const listed = async () =>
      nodeListSchema
        .parse((await server.request("GET", "/v0/nodes")).body)
        .data.find((n) => n.name === "worker-self")!;
    expect((await listed()).backends_left_out).toEqual([{ backend: "cuda", reason }]);
    expect((await listed()).llama_cpp).toBeUndefined();

    const answer = await server.request("POST", `/v0/nodes/${node.node_id}/heartbeat`, {
      body: {
        memory: { total_bytes: 16 * gb, free_bytes: 8 * gb },
        models: [],
        llama_cpp: { build: "local", release: "b6000" },
      },
      headers: { authorization: `Bearer ${node.node_token}` },
    });
    expect(answer.status).toBe(200);
    expect((await listed()).llama_cpp).toEqual({ build: "local", release: "b6000" });
  });
});

describe("heartbeats", () => {
  it("make a model ready in /v1/models and show per-node progress in /v0/models", async () => {
    const node = await registerNode("worker-a");
    const downloading = await beat(node.node_id, node.node_token, [
      {
        model: "acme/tiny-GGUF",
        artifact: "tiny-Q4_K_M.gguf",
        state: "downloading",
        bytes_done: 1024,
        bytes_total: 4096,
        bytes_per_second: 512,
      },
      { model: "acme/split-GGUF", artifact: null, state: "unsupported", reason: "too large for this node" },
    ]);
    expect(downloading.status).toBe(200);
    heartbeatResponseSchema.parse(downloading.body);
    const model = modelSchema.parse((await server.request("GET", "/v0/models/acme%2Ftiny-GGUF")).body);
    expect(model.ready).toBe(false);
    expect(model.nodes).toEqual([
      expect.objectContaining({
        node_name: "worker-a",
        node_status: "online",
        state: "downloading",
        bytes_done: 1024,
        bytes_total: 4096,
      }),
    ]);

    await beat(node.node_id, node.node_token, [
      { model: "acme/tiny-GGUF", artifact: "tiny-Q4_K_M.gguf", state: "ready" },
    ]);
    const v1 = openAiModelListSchema.parse((await server.request("GET", "/v1/models")).body);
    expect(v1.data.find((m) => m.id === "acme/tiny-GGUF")?.ready).toBe(true);
    expect(v1.data.find((m) => m.id === "acme/split-GGUF")?.ready).toBe(false);
  });

  it("carry why a state waits (a broken connection, a download ahead, a retry by hand) through to /v0/models", async () => {
    const node = await registerNode("worker-why");
    const read = async () =>
      modelSchema
        .parse((await server.request("GET", "/v0/models/acme%2Ftiny-GGUF")).body)
        .nodes.find((entry) => entry.node_name === "worker-why");
    const states: HeartbeatRequest["models"] = [
      {
        model: "acme/tiny-GGUF",
        artifact: "tiny-Q4_K_M.gguf",
        state: "downloading",
        bytes_done: 1024,
        bytes_total: 4096,
        bytes_per_second: 0,
        interrupted: "ECONNRESET: socket hang up",
      },
      { model: "acme/tiny-GGUF", artifact: null, state: "pending", queued_behind: "acme/split-GGUF" },
      {
        model: "acme/tiny-GGUF",
        artifact: "tiny-Q4_K_M.gguf",
        state: "error",
        message: "It failed verification 2 times.",
        waits_for_retry: true,
      },
    ];
    for (const state of states) {
      expect((await beat(node.node_id, node.node_token, [state])).status).toBe(200);
      expect(await read()).toMatchObject(state);
    }
  });

  it("ignore models that are not registered", async () => {
    const node = await registerNode("worker-b");
    expect(
      (await beat(node.node_id, node.node_token, [{ model: "acme/deleted", artifact: null, state: "ready" }]))
        .status,
    ).toBe(200);
    const nodes = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body);
    expect(nodes.data.find((n) => n.name === "worker-b")?.models).toEqual([]);
  });

  it("are refused with another node's token, and for malformed states", async () => {
    const a = await registerNode("worker-c");
    const b = await registerNode("worker-d");
    expect((await beat(a.node_id, b.node_token, [])).status).toBe(401);
    const bad = await beat(a.node_id, a.node_token, [
      { model: "acme/tiny-GGUF", artifact: null, state: "downloading" } as never,
    ]);
    expect(bad.status).toBe(400);
  });

  it("answer a registry version that moves when a model is registered", async () => {
    const node = await registerNode("worker-e");
    const before = heartbeatResponseSchema.parse(
      (await beat(node.node_id, node.node_token, [])).body,
    ).registry_version;
    expect(
      (await server.request("POST", "/v0/models/register", { body: { url: "acme/weights-only" } })).status,
    ).toBe(201);
    const after = heartbeatResponseSchema.parse(
      (await beat(node.node_id, node.node_token, [])).body,
    ).registry_version;
    expect(after).toBeGreaterThan(before);
  });
});

describe("a node that stops reporting", () => {
  it("goes offline, and its ready models stop being ready", async () => {
    const node = await registerNode("worker-silent");
    await beat(node.node_id, node.node_token, [
      { model: "acme/split-GGUF", artifact: "big-Q8_0.gguf", state: "ready" },
    ]);
    const ready = async () =>
      openAiModelListSchema
        .parse((await server.request("GET", "/v1/models")).body)
        .data.find((m) => m.id === "acme/split-GGUF")?.ready;
    expect(await ready()).toBe(true);
    await waitFor("the silent node to go offline", async () => {
      const nodes = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body);
      return nodes.data.find((n) => n.name === "worker-silent")?.status === "offline";
    });
    expect(await ready()).toBe(false);
  });

  it("is logged as it goes offline and as it comes back, by its name and id", async () => {
    const lines: Record<string, unknown>[] = [];
    const logged = await startCore({
      hubEndpoint: server.hub.url,
      core: {
        log: createLogger({
          level: "info",
          destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
        }),
        nodeTimings: { heartbeatIntervalMs: 100, syncIntervalMs: 1000, offlineAfterMs: 400 },
      },
    });
    try {
      const auth = { headers: { authorization: `Bearer ${logged.nodeToken}` } };
      const { node_id, node_token } = nodeRegisterResponseSchema.parse(
        (await logged.request("POST", "/v0/nodes/register", { body: nodeRequest("comes-back"), ...auth }))
          .body,
      );
      await waitFor("it to be marked offline", () =>
        lines.some((line) => line.msg === "nodes missed their heartbeats; marked offline"),
      );
      const beaten = await logged.request("POST", `/v0/nodes/${node_id}/heartbeat`, {
        body: { memory: { total_bytes: gb, free_bytes: gb }, models: [] },
        headers: { authorization: `Bearer ${node_token}` },
      });
      expect(beaten.status).toBe(200);
      // (It is also said unreachable: nothing listens at its address.)
      const told = lines.filter(
        (line) => line.node_id === node_id && !String(line.msg).startsWith("cannot reach"),
      );
      expect(told.map((line) => [line.node, line.msg])).toEqual([
        ["comes-back", "node registered"],
        ["comes-back", "node back online: it heartbeats again"],
      ]);
    } finally {
      await logged.close();
    }
  });
});

describe("node tokens", () => {
  it("read the model list and manifests, and nothing else", async () => {
    const node = await registerNode("worker-reader");
    const auth = { headers: { authorization: `Bearer ${node.node_token}` } };
    expect((await server.request("GET", "/v0/models", auth)).status).toBe(200);
    expect(
      (await server.request("GET", "/v0/models/registry/acme%2Ftiny-GGUF/manifest.json", auth)).status,
    ).toBe(200);
    expect(
      (await server.request("POST", "/v0/models/register", { ...auth, body: { url: "acme/two-Q4" } })).status,
    ).toBe(401);
    expect((await server.request("DELETE", "/v0/models/acme%2Ftiny-GGUF", auth)).status).toBe(401);
    expect((await server.request("GET", "/v0/nodes", auth)).status).toBe(401);
  });
});

describe("registry changes", () => {
  it("are pushed to online nodes at once, with their token", async () => {
    const pokes: (string | undefined)[] = [];
    const nodeServer = http.createServer((request, response) => {
      if (request.url === "/v0/sync") pokes.push(request.headers.authorization);
      response.writeHead(204).end();
    });
    nodeServer.listen(0, "127.0.0.1");
    await once(nodeServer, "listening");
    try {
      const node = await registerNode(
        "worker-listening",
        undefined,
        `http://127.0.0.1:${(nodeServer.address() as AddressInfo).port}`,
      );
      expect(
        (await server.request("POST", "/v0/models/register", { body: { url: "acme/two-Q4/a-Q4_K_M.gguf" } }))
          .status,
      ).toBe(201);
      await waitFor("the sync notice", () => pokes.length > 0);
      expect(pokes[0]).toBe(`Bearer ${node.node_token}`);
    } finally {
      nodeServer.close();
    }
  });
});

describe("a node the control plane cannot reach", () => {
  it("is listed failing from its registration on, saying where it was looked for, not healthy until a request fails", async () => {
    // Nothing listens there: as a firewall, or an address only the node knows, would have it.
    const closed = http.createServer().listen(0, "127.0.0.1");
    await once(closed, "listening");
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const node = await registerNode("unreachable-box", undefined, `http://127.0.0.1:${port}`);
    const health = await waitFor("the check at registration", async () => {
      const listed = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body).data;
      const found = listed.find((entry) => entry.id === node.node_id)!.health;
      return found.state === "failing" && found;
    });
    expect(health.reason).toMatch(
      /^This llmlb cannot reach it at http:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED.*\): check its --advertise-host, and that its firewall lets this machine in\.$/,
    );
  });
});

describe("a burst of registry changes", () => {
  it("sends each node one sync notice at a time, and one more for what changed meanwhile", async () => {
    let pokes = 0;
    const held: http.ServerResponse[] = [];
    const nodeServer = http.createServer((request, response) => {
      if (request.url !== "/v0/sync") return void response.writeHead(204).end();
      pokes++;
      held.push(response);
    });
    nodeServer.listen(0, "127.0.0.1");
    await once(nodeServer, "listening");
    try {
      await registerNode(
        "worker-busy",
        undefined,
        `http://127.0.0.1:${(nodeServer.address() as AddressInfo).port}`,
      );
      const model = "acme/two-Q4/b-Q4_K_M.gguf";
      expect((await server.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(
        201,
      );
      await waitFor("the first notice", () => pokes === 1);
      for (let parallel = 1; parallel <= 20; parallel++) {
        const path = `/v0/models/${encodeURIComponent(model)}`;
        expect((await server.request("PATCH", path, { body: { settings: { parallel } } })).status).toBe(200);
      }
      // Twenty changes while the first notice is unanswered: none sent yet, one waits.
      expect(pokes).toBe(1);
      held.shift()!.writeHead(204).end();
      await waitFor("the one more", () => pokes === 2);
      held.shift()!.writeHead(204).end();
      await server.request("DELETE", `/v0/models/${encodeURIComponent(model)}`);
      await waitFor("a notice for the next change", () => pokes === 3);
      held.shift()!.writeHead(204).end();
    } finally {
      for (const response of held) response.writeHead(204).end();
      nodeServer.close();
    }
  });
});

describe("registering a model too large for every node", () => {
  it("warns with the sizes", async () => {
    const node = await registerNode("small-node", 8 * gb);
    await beat(node.node_id, node.node_token, [], 8 * gb);
    const response = await server.request("POST", "/v0/models/register", { body: { url: "acme/huge-GGUF" } });
    expect(response.status).toBe(201);
    expect(response.body.warnings.join(" ")).toMatch(
      /Too large for every node: the smallest GGUF needs 70\.0 GB, the largest node has \d+(\.\d)? GB/,
    );
  });
});

describe("DELETE /v0/nodes/<id or name>", () => {
  const listed = async () => nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body).data;
  const offline = (name: string) =>
    waitFor(`${name} to go offline`, async () =>
      (await listed()).some((node) => node.name === name && node.status === "offline"),
    );

  it("removes an offline worker with its models' states: gone from lists, a model's nodes and the metrics", async () => {
    const events: ServerEvent[] = [];
    const stop = server.core.events.subscribe((event) => events.push(event));
    try {
      const retired = await registerNode("retired-box");
      await beat(retired.node_id, retired.node_token, [
        { model: "acme/tiny-GGUF", artifact: "tiny-Q4_K_M.gguf", state: "ready" },
        {
          model: "acme/split-GGUF",
          artifact: "big-Q8_0.gguf",
          state: "downloading",
          bytes_done: 77,
          bytes_total: 99,
          bytes_per_second: 1,
        },
      ]);
      const metricsBefore = (await server.request("GET", "/metrics", { anonymous: true })).text;
      expect(metricsBefore).toContain(`llmlb_node_models{node="retired-box",state="ready"} 1`);
      await offline("retired-box");

      const response = await server.request("DELETE", "/v0/nodes/retired-box");
      expect(response.status).toBe(200);
      expect(nodeRemovedSchema.parse(response.body)).toEqual({
        id: retired.node_id,
        name: "retired-box",
        url: "http://127.0.0.1:9/",
        models: ["acme/split-GGUF", "acme/tiny-GGUF"],
      });

      expect((await listed()).map((node) => node.name)).not.toContain("retired-box");
      const model = modelSchema.parse((await server.request("GET", "/v0/models/acme%2Ftiny-GGUF")).body);
      expect(model.nodes.map((entry) => entry.node_name)).not.toContain("retired-box");
      expect((await server.request("GET", "/metrics", { anonymous: true })).text).not.toContain(
        "retired-box",
      );
      // The dashboard drops its card, and reads the models it had again.
      expect(events).toContainEqual({ type: "node.removed", id: retired.node_id });
      expect(events).toContainEqual({
        type: "model.updated",
        model: expect.objectContaining({ name: "acme/tiny-GGUF" }),
      });
      // Gone: a second removal finds nothing.
      const again = await server.request("DELETE", `/v0/nodes/${retired.node_id}`);
      expect(again.status).toBe(404);
      expect(again.body.error.code).toBe("node.not_found");
    } finally {
      stop();
    }
  });

  it("finds a node by its id as well as its name", async () => {
    const retired = await registerNode("retired-by-id");
    await offline("retired-by-id");
    const response = await server.request("DELETE", `/v0/nodes/${retired.node_id}`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: retired.node_id, name: "retired-by-id" });
    expect((await listed()).map((node) => node.name)).not.toContain("retired-by-id");
  });

  it("refuses an online node, saying to stop it first, and leaves it listed", async () => {
    const running = await registerNode("still-running");
    const response = await server.request("DELETE", "/v0/nodes/still-running");
    expect(response.status).toBe(409);
    expect(response.body.error).toMatchObject({ code: "node.online", param: "id" });
    expect(response.body.error.message).toBe(
      "Node still-running is online: it would register again at its next heartbeat. Stop it first (its `llmlb serve` or `llmlb node --join`), then remove it once it shows offline; or, to keep its machine out, replace the node token (llmlb node token --replace), then remove it with --force.",
    );
    expect((await beat(running.node_id, running.node_token, [])).status).toBe(200);
    expect((await listed()).find((node) => node.name === "still-running")?.status).toBe("online");
  });

  it("answers 404 for a node it does not know", async () => {
    const response = await server.request("DELETE", "/v0/nodes/no-such-node");
    expect(response.status).toBe(404);
    expect(response.body.error).toMatchObject({
      code: "node.not_found",
      message: "There is no node named or with id no-such-node.",
    });
  });

  it("points an endpoint's removal (and drain) at `llmlb endpoint rm`, and leaves the endpoint", async () => {
    const vllm = await startFakeOpenAiServer({ name: "vllm", models: ["meta/llama-3-8b"] });
    try {
      const added = await server.request("POST", "/v0/endpoints", {
        body: { name: "ext-vllm", url: vllm.url },
      });
      expect(added.status).toBe(201);
      for (const ref of ["ext-vllm", added.body.id as string]) {
        const response = await server.request("DELETE", `/v0/nodes/${ref}`);
        expect(response.status).toBe(409);
        expect(response.body.error).toMatchObject({ code: "node.is_endpoint", param: "id" });
        expect(response.body.error.message).toBe(
          "ext-vllm is an endpoint: remove it with `llmlb endpoint rm ext-vllm` (DELETE /v0/endpoints/ext-vllm).",
        );
      }
      const drained = await server.request("PUT", "/v0/nodes/ext-vllm/draining", {
        body: { draining: true },
      });
      expect(drained.status).toBe(409);
      expect(drained.body.error).toMatchObject({
        code: "node.is_endpoint",
        message:
          "ext-vllm is an endpoint: only worker nodes are drained. To send it nothing, remove it (`llmlb endpoint rm ext-vllm`), or pin models to other nodes (`llmlb model set <id> --nodes <names>`).",
      });
      expect((await listed()).map((node) => node.name)).toContain("ext-vllm");
      expect((await server.request("DELETE", "/v0/endpoints/ext-vllm")).status).toBe(204);
    } finally {
      await vllm.close();
    }
  });

  it("needs the admin token", async () => {
    const retired = await registerNode("retired-guarded");
    const asNode = await server.request("DELETE", `/v0/nodes/${retired.node_id}`, {
      headers: { authorization: `Bearer ${retired.node_token}` },
    });
    expect(asNode.status).toBe(401);
    const anonymous = await server.request("DELETE", `/v0/nodes/${retired.node_id}`, { anonymous: true });
    expect(anonymous.status).toBe(401);
  });

  it("lets a removed node come back as at a first start: its old token is refused, it registers anew, and lists afresh", async () => {
    const first = await registerNode("comes-back");
    await beat(first.node_id, first.node_token, [
      { model: "acme/tiny-GGUF", artifact: "tiny-Q4_K_M.gguf", state: "ready" },
    ]);
    await offline("comes-back");
    expect((await server.request("DELETE", "/v0/nodes/comes-back")).status).toBe(200);

    // Its next heartbeat is refused, which tells a worker to register again.
    const stale = await beat(first.node_id, first.node_token, []);
    expect(stale.status).toBe(401);
    expect((await listed()).map((node) => node.name)).not.toContain("comes-back");

    const second = await registerNode("comes-back");
    expect(second.node_id).not.toBe(first.node_id);
    expect((await beat(second.node_id, second.node_token, [])).status).toBe(200);
    const back = (await listed()).filter((node) => node.name === "comes-back");
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ id: second.node_id, status: "online", models: [] });
    expect((await beat(first.node_id, first.node_token, [])).status).toBe(401);
  });

  it("is told, once, by a worker's session when its control plane refuses its registration as malformed", async () => {
    // As a control plane older than the node answers a field it does not know.
    const older = http.createServer((_request, response) =>
      response.writeHead(400, { "content-type": "application/json" }).end(
        JSON.stringify({
          error: { message: 'Unrecognized key: "accelerators"', type: "invalid_request_error" },
        }),
      ),
    );
    older.listen(0, "127.0.0.1");
    await once(older, "listening");
    const lines: { level: number; msg: string }[] = [];
    const stopped = new AbortController();
    let waits = 0;
    const session = workerSession(
      "too-new",
      `http://127.0.0.1:${(older.address() as AddressInfo).port}`,
      "token",
      {
        log: createLogger({ destination: { write: (line: string) => void lines.push(JSON.parse(line)) } }),
        wait: async () => void (++waits === 3 && stopped.abort()),
        stopped: stopped.signal,
      },
    );
    try {
      await session.register();
    } finally {
      older.close();
    }
    expect(session.nodeId()).toBeUndefined();
    const errors = lines.filter((line) => line.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(
      /likely an older llmlb than this node's\. Run the same llmlb on both machines/,
    );
  });

  it("says once that heartbeats fail while the control plane is down, and once that they pass again", async () => {
    // A control plane that takes the node, then is down for five beats.
    let beats = 0;
    const flaky = http.createServer((request, response) => {
      if (request.url === "/v0/nodes/register") {
        response.writeHead(201, { "content-type": "application/json" });
        return void response.end(
          JSON.stringify({
            node_id: "n1",
            node_token: "t",
            heartbeat_interval_ms: 2000,
            sync_interval_ms: 5000,
          }),
        );
      }
      beats++;
      if (beats <= 5) return void response.writeHead(503, { "content-type": "application/json" }).end("{}");
      response
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ registry_version: 1 }));
    });
    flaky.listen(0, "127.0.0.1");
    await once(flaky, "listening");
    const lines: { level: number; msg: string }[] = [];
    const session = workerSession(
      "patient",
      `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`,
      "token",
      {
        log: createLogger({
          level: "info",
          destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
        }),
      },
    );
    try {
      await session.register();
      for (let i = 0; i < 6; i++) await session.heartbeat({ models: [], loaded: [] });
    } finally {
      flaky.close();
    }
    expect(lines.filter((line) => line.level === 40).map((line) => line.msg)).toEqual([
      "heartbeat failed; trying on, quietly, until one gets through",
    ]);
    expect(lines.filter((line) => line.msg === "heartbeats reach the control plane again")).toHaveLength(1);
  });

  it("is registered again by a worker's own session at its next heartbeat, as at a first start", async () => {
    const stopped = new AbortController();
    const session = workerSession("worker-returns", server.url, server.nodeToken, {
      stopped: stopped.signal,
    });
    try {
      await session.register();
      const first = session.nodeId()!;
      // It was stopped (no heartbeats), went offline and was removed; then it starts beating again.
      await offline("worker-returns");
      expect((await server.request("DELETE", "/v0/nodes/worker-returns")).status).toBe(200);
      expect(await session.heartbeat({ models: [], loaded: [] })).toBeUndefined();
      expect(session.nodeId()).not.toBe(first);
      expect(await session.heartbeat({ models: [], loaded: [] })).toEqual(expect.any(Number));
      expect((await listed()).filter((node) => node.name === "worker-returns")).toEqual([
        expect.objectContaining({ id: session.nodeId(), status: "online" }),
      ]);
    } finally {
      stopped.abort();
    }
  });
});

describe("joining another machine", () => {
  const listed = async () => nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body).data;
  const register = (name: string, token: string) =>
    server.request("POST", "/v0/nodes/register", {
      body: nodeRequest(name),
      headers: { authorization: `Bearer ${token}` },
    });

  it("shows the node token, and that a machine cannot join an llmlb on loopback, to the admin only", async () => {
    const response = await server.request("GET", "/v0/nodes/join");
    expect(response.status).toBe(200);
    expect(nodeJoinInfoSchema.parse(response.body)).toEqual({
      node_token: server.nodeToken,
      token_configured: false,
      commands: [],
      unreachable:
        'This llmlb listens on 127.0.0.1 only, which other machines cannot reach: start it with --host 0.0.0.0 and an API key (--api-key; for the desktop app, "host" and "apiKeys" in config.json in its data folder), then run the command shown here on the other machine.',
    });
    const asNode: Record<string, string> = { authorization: `Bearer ${server.nodeToken}` };
    for (const headers of [asNode, {}]) {
      const refused = await server.request("GET", "/v0/nodes/join", { headers, anonymous: true });
      expect(refused.status).toBe(401);
      expect(refused.text).not.toContain(server.nodeToken);
    }
  });

  it("replaces the node token: the old one lets no machine in, those joined stay, new ones join with the new", async () => {
    const joinedBefore = await registerNode("joined-before");
    const old = server.nodeToken;
    const events: ServerEvent[] = [];
    const stop = server.core.events.subscribe((event) => events.push(event));
    const response = await server.request("POST", "/v0/nodes/join/token");
    stop();
    expect(response.status).toBe(200);
    // A dashboard showing the join command reads it again.
    expect(events).toContainEqual({ type: "node.token_replaced" });
    const replaced = nodeJoinInfoSchema.parse(response.body);
    expect(replaced.node_token).toMatch(/^llmlb_node_/);
    expect(replaced.node_token).not.toBe(old);
    // Kept for the next start, readable by this user only.
    const file = `${server.dataDir}/node-token`;
    expect(fs.readFileSync(file, "utf8").trim()).toBe(replaced.node_token);
    if (process.platform !== "win32") expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    server.nodeToken = replaced.node_token;

    expect((await register("with-old-token", old)).status).toBe(401);
    expect((await beat(joinedBefore.node_id, joinedBefore.node_token, [])).status).toBe(200);
    expect((await register("with-new-token", replaced.node_token)).status).toBe(201);
    expect((await server.request("GET", "/v0/nodes/join")).body.node_token).toBe(replaced.node_token);
    expect((await listed()).map((node) => node.name)).not.toContain("with-old-token");
  });

  it("with force, removes an online node at once: its session is refused, and joins again only with the node token as it is", async () => {
    const stopped = new AbortController();
    const outcomes: (string | undefined)[] = [];
    const kept = server.nodeToken;
    // Its retries, each after a failed registration: stopped after the third.
    let retries = 0;
    const session = workerSession("to-keep-out", server.url, kept, {
      stopped: stopped.signal,
      onRegistration: (refused) => outcomes.push(refused),
      wait: async () => {
        if (++retries === 3) stopped.abort();
      },
    });
    try {
      await session.register();
      const first = session.nodeId()!;
      const response = await server.request("DELETE", "/v0/nodes/to-keep-out?force=true");
      expect(response.status).toBe(200);
      expect(nodeRemovedSchema.parse(response.body)).toEqual({
        id: first,
        name: "to-keep-out",
        url: "http://127.0.0.1:9/",
        models: [],
        was_online: true,
      });
      expect((await listed()).map((node) => node.name)).not.toContain("to-keep-out");
      // Its token no longer works; it registers again, with the node token it has, which still works.
      expect(await session.heartbeat({ models: [], loaded: [] })).toBeUndefined();
      expect(session.nodeId()).not.toBe(first);
      expect(outcomes).toEqual([undefined, undefined]);

      // Once the node token is replaced, removing it keeps it out.
      server.nodeToken = nodeJoinInfoSchema.parse(
        (await server.request("POST", "/v0/nodes/join/token")).body,
      ).node_token;
      expect((await server.request("DELETE", "/v0/nodes/to-keep-out?force=true")).status).toBe(200);
      expect(await session.heartbeat({ models: [], loaded: [] })).toBeUndefined();
      expect(retries).toBe(3);
      expect((await register("to-keep-out", kept)).status).toBe(401);
      expect((await listed()).map((node) => node.name)).not.toContain("to-keep-out");
    } finally {
      stopped.abort();
    }
  });

  it("keeps a machine joined after a replacement: its worker, started again, registers with the token it was given, under its own name only", async () => {
    const store: { token?: string } = {};
    const kept = {
      read: () => store.token,
      write: (token: string) => void (store.token = token),
      forget: () => void delete store.token,
    };
    const joinedWith = server.nodeToken;
    /** The worker as started afresh, as its machine launched it: with the node token it was given. */
    const startWorker = (options: Partial<NodeSessionOptions> = {}) => {
      const stopped = new AbortController();
      const session = workerSession("stays-joined", server.url, joinedWith, {
        client: createControlPlaneClient(server.url, joinedWith, kept),
        stopped: stopped.signal,
        wait: async () => stopped.abort(),
        ...options,
      });
      return { session, stopped };
    };
    const first = startWorker();
    await first.session.register();
    const id = first.session.nodeId()!;
    expect(store.token).toBe(first.session.token());
    server.nodeToken = nodeJoinInfoSchema.parse(
      (await server.request("POST", "/v0/nodes/join/token")).body,
    ).node_token;

    // Started again (a crash), on another port. While its old self is listed online there, its name is
    // taken, its own token or not (two processes sharing one data directory hold the same token).
    const early = startWorker({ nodeUrl: "http://127.0.0.1:1/" });
    await early.session.register();
    expect(early.session.nodeId()).toBeUndefined();
    expect(store.token).toBe(first.session.token());
    await waitFor("its old self offline", async () =>
      (await listed()).some((node) => node.id === id && node.status === "offline"),
    );
    const again = startWorker({ nodeUrl: "http://127.0.0.1:1/" });
    await again.session.register();
    expect(again.stopped.signal.aborted).toBe(false);
    expect(again.session.nodeId()).toBe(id);
    expect(store.token).toBe(again.session.token());
    expect((await listed()).find((node) => node.id === id)).toMatchObject({
      status: "online",
      url: "http://127.0.0.1:1/",
    });
    // Good for its own name only, and its previous token is retired.
    expect((await register("not-stays-joined", store.token!)).status).toBe(401);
    expect((await beat(id, first.session.token()!, [])).status).toBe(401);

    // Removed, its kept token is forgotten, and the node token it was given no longer lets it in.
    expect((await server.request("DELETE", "/v0/nodes/stays-joined?force=true")).status).toBe(200);
    const removed = startWorker();
    await removed.session.register();
    expect(removed.stopped.signal.aborted).toBe(true);
    expect(removed.session.nodeId()).toBeUndefined();
    expect(store.token).toBeUndefined();
    expect((await listed()).map((node) => node.name)).not.toContain("stays-joined");
  });

  it("checks the token again once a registration's body is in: a replacement or a removal meanwhile keeps it out", async () => {
    /** A registration whose headers go first (and are let in), its body only once `meanwhile` is done. */
    const slowly = async (name: string, token: string, meanwhile: () => Promise<void>) => {
      const body = JSON.stringify(nodeRequest(name));
      const request = http.request(`${server.url}/v0/nodes/register`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
        },
      });
      const answered = once(request, "response") as Promise<[http.IncomingMessage]>;
      request.flushHeaders();
      // The server has read the headers by the time it answers a request sent after them.
      expect((await server.request("GET", "/v0/nodes")).status).toBe(200);
      await meanwhile();
      request.end(body);
      const [response] = await answered;
      response.resume();
      return response.statusCode;
    };
    const old = server.nodeToken;
    expect(
      await slowly("slow-joiner", old, async () => {
        server.nodeToken = nodeJoinInfoSchema.parse(
          (await server.request("POST", "/v0/nodes/join/token")).body,
        ).node_token;
      }),
    ).toBe(401);

    const removed = await registerNode("slow-returner");
    expect(
      await slowly("slow-returner", removed.node_token, async () => {
        expect((await server.request("DELETE", "/v0/nodes/slow-returner?force=true")).status).toBe(200);
      }),
    ).toBe(401);
    expect((await listed()).map((node) => node.name)).not.toContain("slow-joiner");
    expect((await listed()).map((node) => node.name)).not.toContain("slow-returner");
  });

  it("is refused to replace a node token the configuration sets, and the token stays", async () => {
    const configured = await startCore({
      hubEndpoint: server.hub.url,
      config: { nodeToken: "llmlb_node_set_by_the_environment" },
    });
    try {
      const response = await configured.request("POST", "/v0/nodes/join/token");
      expect(response.status).toBe(409);
      expect(response.body.error).toMatchObject({
        code: "settings.read_only",
        message:
          "The node token is set by LLMLB_NODE_TOKEN (or nodeToken in config.json): change it there, then restart llmlb.",
      });
      expect((await configured.request("GET", "/v0/nodes/join")).body).toMatchObject({
        node_token: "llmlb_node_set_by_the_environment",
        token_configured: true,
      });
      expect(fs.existsSync(`${configured.dataDir}/node-token`)).toBe(false);
    } finally {
      await configured.close();
    }
  });
});

describe("an operator's drain", () => {
  it("is kept across restarts of llmlb and the node's own re-registrations, until undone", async () => {
    const dir = await makeTempDir();
    const start = () => startCore({ hubEndpoint: server.hub.url, dataDir: dir.path });
    const draining = async (core: TestServer) =>
      nodeListSchema
        .parse((await core.request("GET", "/v0/nodes")).body)
        .data.find((node) => node.name === "in-maintenance")?.draining;
    const join = (core: TestServer) =>
      core.request("POST", "/v0/nodes/register", {
        body: nodeRequest("in-maintenance"),
        headers: { authorization: `Bearer ${core.nodeToken}` },
      });
    try {
      let core = await start();
      expect((await join(core)).status).toBe(201);
      const put = (draining: boolean) =>
        core.request("PUT", "/v0/nodes/in-maintenance/draining", { body: { draining } });
      expect((await put(true)).status).toBe(200);
      await core.close();

      core = await start();
      expect(await draining(core)).toBe(true);
      expect((await join(core)).status).toBe(201);
      expect(await draining(core)).toBe(true);
      expect((await put(false)).status).toBe(200);
      await core.close();

      core = await start();
      expect(await draining(core)).toBeUndefined();
      await core.close();
    } finally {
      await dir.remove();
    }
  });
});

describe("GET /metrics", () => {
  it("gives every registered model a queue depth, 0 while no request waits or runs", async () => {
    const text = (await server.request("GET", "/metrics", { anonymous: true })).text;
    for (const state of ["waiting", "running"]) {
      expect(text).toContain(`llmlb_queue_depth{model="acme/tiny-GGUF",state="${state}"} 0`);
      expect(text).toContain(`llmlb_queue_depth{model="acme/split-GGUF",state="${state}"} 0`);
    }
  });
});

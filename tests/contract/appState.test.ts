import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  nodeListSchema,
  nodeRegisterResponseSchema,
  readinessSchema,
  serverEventSchema,
  settingsSchema,
  statusSchema,
  type ServerEvent,
} from "../../src-main/contract";
import type { FakeHub } from "../fixtures/fakeHub";
import { runCli } from "../helpers/cliProcess";
import { startCore, startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

let hub: FakeHub;
let server: TestServerWithHub;

beforeAll(async () => {
  server = await startCoreWithHub({
    core: { nodeTimings: { heartbeatIntervalMs: 100, syncIntervalMs: 1000, offlineAfterMs: 400 } },
  });
  hub = server.hub;
});
afterAll(async () => {
  await server?.close();
});

/** A node joins with the node token; `beat` sends its heartbeats (8 GB, half free). */
async function joinNode(name: string) {
  const joined = await server.request("POST", "/v0/nodes/register", {
    headers: { authorization: `Bearer ${server.nodeToken}` },
    body: {
      name,
      url: "http://127.0.0.1:9",
      backend: "cpu",
      devices: [],
      memory: { total_bytes: 8e9, free_bytes: 4e9 },
    },
  });
  const node = nodeRegisterResponseSchema.parse(joined.body);
  const beat = (models: object[], loaded: object[] = []) =>
    server.request("POST", `/v0/nodes/${node.node_id}/heartbeat`, {
      headers: { authorization: `Bearer ${node.node_token}` },
      body: { memory: { total_bytes: 8e9, free_bytes: 4e9 }, models, loaded },
    });
  return { beat };
}

/** Reads `GET /v0/events` as the dashboard does, collecting every event. */
async function openEvents(headers: Record<string, string> = { authorization: `Bearer ${server.token}` }) {
  const controller = new AbortController();
  const response = await fetch(`${server.url}/v0/events`, { headers, signal: controller.signal });
  const received: ServerEvent[] = [];
  let text = "";
  const reading = (async () => {
    if (!response.ok || !response.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = text.indexOf("\n\n")) >= 0) {
          const message = text.slice(0, end);
          text = text.slice(end + 2);
          const data = message
            .split("\n")
            .filter((line) => line.startsWith("data: "))
            .map((line) => line.slice(6))
            .join("\n");
          if (data) received.push(serverEventSchema.parse(JSON.parse(data)));
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  return {
    response,
    received,
    ended: reading,
    close: () => controller.abort(),
  };
}

describe("GET /v0/events", () => {
  it("needs the admin token", async () => {
    const stream = await openEvents({});
    expect(stream.response.status).toBe(401);
  });

  it("streams a registration, a node's download progress, readiness and a removal as they happen", async () => {
    const stream = await openEvents();
    expect(stream.response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    try {
      expect(
        (await server.request("POST", "/v0/models/register", { body: { url: "acme/tiny-GGUF" } })).status,
      ).toBe(201);
      await waitFor("model.updated for the registration", () =>
        stream.received.some((e) => e.type === "model.updated" && e.model.name === "acme/tiny-GGUF"),
      );

      const node = await joinNode("gpu-a");
      await waitFor("node.updated for gpu-a", () =>
        stream.received.some((e) => e.type === "node.updated" && e.node.name === "gpu-a"),
      );

      const beat = (state: object) =>
        node.beat(
          [{ model: "acme/tiny-GGUF", artifact: "tiny-Q4_K_M.gguf", ...state }],
          [{ model: "acme/tiny-GGUF", sequences: 4, busy: 1 }],
        );
      await beat({ state: "downloading", bytes_done: 100, bytes_total: 400, bytes_per_second: 50 });
      await waitFor("model.updated with the download progress", () =>
        stream.received.some(
          (e) =>
            e.type === "model.updated" &&
            e.model.nodes.some((n) => n.state === "downloading" && n.bytes_done === 100),
        ),
      );
      await beat({ state: "ready" });
      await waitFor("model.updated with the model ready", () =>
        stream.received.some((e) => e.type === "model.updated" && e.model.ready),
      );
      const lastNode = stream.received.filter((e) => e.type === "node.updated").at(-1);
      expect(lastNode?.type === "node.updated" && lastNode.node.loaded).toEqual([
        { model: "acme/tiny-GGUF", sequences: 4, busy: 1 },
      ]);

      // A heartbeat that changes nothing about the model does not repeat it.
      const modelEvents = stream.received.filter((e) => e.type === "model.updated").length;
      await beat({ state: "ready" });
      await waitFor(
        "node.updated for the repeated heartbeat",
        () => stream.received.filter((e) => e.type === "node.updated").length >= 4,
      );
      expect(stream.received.filter((e) => e.type === "model.updated")).toHaveLength(modelEvents);

      // Silence: the node goes offline, and the model with it.
      await waitFor("node.updated with gpu-a offline", () =>
        stream.received.some((e) => e.type === "node.updated" && e.node.status === "offline"),
      );
      await waitFor("model.updated with the model no longer ready", () =>
        stream.received.some(
          (e) => e.type === "model.updated" && !e.model.ready && e.model.nodes.length === 1,
        ),
      );

      expect((await server.request("DELETE", "/v0/models/acme%2Ftiny-GGUF")).status).toBe(204);
      await waitFor("model.removed", () =>
        stream.received.some((e) => e.type === "model.removed" && e.name === "acme/tiny-GGUF"),
      );
    } finally {
      stream.close();
    }
  });
});

describe("GET /v0/events after a model is deleted and registered again", () => {
  it("says the model is ready again when a node that kept its file reports it", async () => {
    const node = await joinNode("keeper");
    // The node has not synced since the deletion: it still reports the model ready.
    const beat = () => node.beat([{ model: "acme/split-GGUF", artifact: "split.gguf", state: "ready" }]);
    const register = () =>
      server.request("POST", "/v0/models/register", { body: { url: "acme/split-GGUF" } });
    expect((await register()).status).toBe(201);
    await beat();
    expect((await server.request("DELETE", "/v0/models/acme%2Fsplit-GGUF")).status).toBe(204);
    await beat();
    const stream = await openEvents();
    try {
      expect((await register()).status).toBe(201);
      await beat();
      await waitFor("the model ready again", () =>
        stream.received.some(
          (e) => e.type === "model.updated" && e.model.name === "acme/split-GGUF" && e.model.ready,
        ),
      );
    } finally {
      stream.close();
      expect((await server.request("DELETE", "/v0/models/acme%2Fsplit-GGUF")).status).toBe(204);
    }
  });
});

describe("status and pausing", () => {
  it("counts models and nodes, and pausing turns inference away with 503 and Retry-After", async () => {
    const before = statusSchema.parse((await server.request("GET", "/v0/status")).body);
    expect(before.paused).toBe(false);
    // What the events tests left: their models deleted, their two nodes.
    expect(before.models).toEqual({ total: 0, ready: 0 });
    expect(before.nodes.total).toBe(2);

    const stream = await openEvents();
    try {
      const paused = await server.request("PUT", "/v0/serving", { body: { paused: true } });
      expect(paused.status).toBe(200);
      expect(statusSchema.parse(paused.body).paused).toBe(true);
      await waitFor("serving paused", () => stream.received.some((e) => e.type === "serving" && e.paused));

      const refused = await server.request("POST", "/v1/chat/completions", {
        anonymous: true,
        body: { model: "acme/tiny-GGUF", messages: [{ role: "user", content: "hi" }] },
      });
      expect(refused.status).toBe(503);
      expect(refused.headers["retry-after"]).toBe("5");
      expect(refused.body.error.code).toBe("serving.paused");
      expect(refused.body.error.message).toMatch(/paused/);
      // On Anthropic's route a pause is what its clients retry: `overloaded_error`.
      const anthropic = await server.request("POST", "/v1/messages", {
        anonymous: true,
        body: { model: "acme/tiny-GGUF", max_tokens: 5, messages: [{ role: "user", content: "hi" }] },
      });
      expect([anthropic.status, anthropic.body.error.type]).toEqual([503, "overloaded_error"]);
      // Management keeps working while paused.
      expect((await server.request("GET", "/v0/models")).status).toBe(200);

      await server.request("PUT", "/v0/serving", { body: { paused: false } });
      await waitFor("serving resumed", () => stream.received.some((e) => e.type === "serving" && !e.paused));
      const resumed = await server.request("POST", "/v1/chat/completions", {
        anonymous: true,
        body: { model: "acme/nothing-here", messages: [{ role: "user", content: "hi" }] },
      });
      expect(resumed.status).toBe(404);
    } finally {
      stream.close();
    }
  });

  it("says which models are still loading and since when, in /v0/nodes and llmlb status", async () => {
    const node = await joinNode("gpu-loading");
    const since = new Date(Date.now() - 30_000).toISOString();
    const beat = () =>
      node.beat(
        [{ model: "acme/tiny-GGUF", artifact: "tiny-Q4_K_M.gguf", state: "ready" }],
        [{ model: "acme/tiny-GGUF", sequences: 4, busy: 1, loading_since: since }],
      );
    await beat();
    // The node keeps reporting while the CLI starts (a silent node is offline after 400 ms here).
    const beating = setInterval(() => void beat(), 100);
    try {
      const nodes = nodeListSchema.parse((await server.request("GET", "/v0/nodes")).body);
      expect(nodes.data.find((n) => n.name === "gpu-loading")?.loaded).toEqual([
        { model: "acme/tiny-GGUF", sequences: 4, busy: 1, loading_since: since },
      ]);
      const status = await runCli(["--url", server.url, "--token", server.token, "status"], {});
      expect(status.stdout).toMatch(/gpu-loading: acme\/tiny-GGUF \(loading for 3\d s; requests wait\)/);
    } finally {
      clearInterval(beating);
    }
  });

  it("GET /v0/ready, without a token, is 200 only while /v1 serves a ready model, and says why not", async () => {
    const ready = async () => {
      const answer = await server.request("GET", "/v0/ready", { anonymous: true });
      return { status: answer.status, body: readinessSchema.parse(answer.body) };
    };
    const none = await ready();
    expect(none.status).toBe(503);
    expect(none.body.ready).toBe(false);
    expect(none.body.reason).toMatch(/^No model is ready/);

    const node = await joinNode("gpu-ready");
    expect(
      (await server.request("POST", "/v0/models/register", { body: { url: "acme/tiny-GGUF" } })).status,
    ).toBe(201);
    try {
      await node.beat([{ model: "acme/tiny-GGUF", artifact: "tiny-Q4_K_M.gguf", state: "downloading" }]);
      expect((await ready()).body.reason).toMatch(/^No model is ready yet: 1 registered\b/);
      await node.beat([{ model: "acme/tiny-GGUF", artifact: "tiny-Q4_K_M.gguf", state: "ready" }]);
      expect(await ready()).toEqual({
        status: 200,
        body: { ready: true, reason: null, models: { total: 1, ready: 1 } },
      });

      await server.request("PUT", "/v0/serving", { body: { paused: true } });
      const paused = await ready();
      expect(paused.status).toBe(503);
      expect(paused.body.reason).toMatch(/^Serving is paused/);
      await server.request("PUT", "/v0/serving", { body: { paused: false } });
      expect((await ready()).status).toBe(200);
    } finally {
      await server.request("PUT", "/v0/serving", { body: { paused: false } });
      await server.request("DELETE", "/v0/models/acme/tiny-GGUF");
    }
    expect((await ready()).status).toBe(503);
  });

  it("rejects a malformed pause request and needs the admin token", async () => {
    expect((await server.request("PUT", "/v0/serving", { body: { paused: "yes" } })).status).toBe(400);
    expect((await server.request("PUT", "/v0/serving", { body: { paused: true, extra: 1 } })).status).toBe(
      400,
    );
    expect(
      (await server.request("PUT", "/v0/serving", { anonymous: true, body: { paused: true } })).status,
    ).toBe(401);
    expect((await server.request("GET", "/v0/status", { anonymous: true })).status).toBe(401);
    expect(statusSchema.parse((await server.request("GET", "/v0/status")).body).paused).toBe(false);
  });
});

describe("settings", () => {
  it("keeps the Hugging Face token in a 0600 file, never sends it back, and uses it for gated repos at once", async () => {
    const initial = settingsSchema.parse((await server.request("GET", "/v0/settings")).body);
    expect(initial.hf_token).toEqual({ set: false, storage: "file", saved_ignored: false });
    expect(initial.start_at_login).toBeNull();

    const gated = await server.request("POST", "/v0/models/register", { body: { url: "acme/gated-GGUF" } });
    expect(gated.status).toBe(401);

    const saved = await server.request("PUT", "/v0/settings", { body: { hf_token: hub.token } });
    expect(saved.status).toBe(200);
    expect(saved.text).not.toContain(hub.token);
    expect(settingsSchema.parse(saved.body).hf_token.set).toBe(true);
    const file = path.join(server.dataDir, "hf-token");
    expect(fs.readFileSync(file, "utf8").trim()).toBe(hub.token);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    expect(
      (await server.request("POST", "/v0/models/register", { body: { url: "acme/gated-GGUF" } })).status,
    ).toBe(201);

    const forgotten = await server.request("PUT", "/v0/settings", { body: { hf_token: null } });
    expect(settingsSchema.parse(forgotten.body).hf_token.set).toBe(false);
    expect(fs.existsSync(file)).toBe(false);
  });

  it("saves the port and cache folder for the next start, and says a restart is needed", async () => {
    const folder = path.join(server.dataDir, "elsewhere");
    const saved = settingsSchema.parse(
      (await server.request("PUT", "/v0/settings", { body: { port: 9123, hub_cache_dir: folder } })).body,
    );
    expect(saved).toMatchObject({ port: 9123, hub_cache_dir: folder, restart_required: true });
    const file = JSON.parse(fs.readFileSync(path.join(server.dataDir, "config.json"), "utf8"));
    expect(file).toMatchObject({ port: 9123, hubCacheDir: folder });
  });

  it("shows the port a flag or LLMLB_PORT set, read-only, and a saved one then asks for no restart", async () => {
    const own = await startCore({ hubEndpoint: hub.url, config: { port: 0, overridden: ["port"] } });
    try {
      fs.writeFileSync(path.join(own.dataDir, "config.json"), JSON.stringify({ port: 8080 }));
      const shown = settingsSchema.parse((await own.request("GET", "/v0/settings")).body);
      // What runs is what the page shows; the saved 8080 applies when llmlb starts without the flag.
      expect(shown).toMatchObject({ port: 0, restart_required: false, overridden: ["port"] });
      const refused = await own.request("PUT", "/v0/settings", { body: { port: 9000 } });
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toMatch(/--port or LLMLB_PORT/);
      expect(JSON.parse(fs.readFileSync(path.join(own.dataDir, "config.json"), "utf8")).port).toBe(8080);
    } finally {
      await own.close();
    }
  });

  it("shows the cache folder HF_HUB_CACHE or HF_HOME set, read-only, over a saved one", async () => {
    const own = await startCore({ hubEndpoint: hub.url, config: { overridden: ["hubCacheDir"] } });
    try {
      fs.writeFileSync(path.join(own.dataDir, "config.json"), JSON.stringify({ hubCacheDir: "/saved/hub" }));
      const shown = settingsSchema.parse((await own.request("GET", "/v0/settings")).body);
      expect(shown).toMatchObject({
        hub_cache_dir: path.join(own.dataDir, "hub"),
        restart_required: false,
        overridden: ["hub_cache_dir"],
      });
      const refused = await own.request("PUT", "/v0/settings", { body: { hub_cache_dir: "/elsewhere" } });
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({
        param: "hub_cache_dir",
        message:
          "The model cache folder comes from HF_HUB_CACHE (or HF_HOME) in llmlb's environment; change it there.",
      });
      expect(JSON.parse(fs.readFileSync(path.join(own.dataDir, "config.json"), "utf8")).hubCacheDir).toBe(
        "/saved/hub",
      );
    } finally {
      await own.close();
    }
  });

  it("says when HF_TOKEN in the environment hides a saved token, and names it when the hub refuses it", async () => {
    // A token saved in Settings by an earlier start; this one has HF_TOKEN in its environment.
    const dir = await makeTempDir();
    fs.writeFileSync(path.join(dir.path, "hf-token"), `${hub.token}\n`, { mode: 0o600 });
    const own = await startCore({
      hubEndpoint: hub.url,
      dataDir: dir.path,
      config: { hfToken: "hf_from_the_environment_0000" },
    });
    try {
      const shown = settingsSchema.parse((await own.request("GET", "/v0/settings")).body);
      expect(shown.hf_token).toEqual({ set: true, storage: "env", saved_ignored: true });
      const refused = await own.request("POST", "/v0/models/register", { body: { url: "acme/tiny-GGUF" } });
      expect(refused.status).toBe(401);
      expect(refused.body.error.message).toMatch(/HF_TOKEN in llmlb's environment/);
      expect(refused.body.error.message).toMatch(/saved in Settings is not used/);
    } finally {
      await own.close();
      await dir.remove();
    }
  });

  it("refuses, where they are chosen, a cache folder and a port the next start could not use, saying why", async () => {
    const before = (await server.request("GET", "/v0/settings")).body;
    const file = path.join(server.dataDir, "a-file");
    fs.writeFileSync(file, "");
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const takenPort = (taken.address() as net.AddressInfo).port;
    try {
      const refusals = [
        [
          { hub_cache_dir: file },
          `The model cache folder ${file} cannot be used: it is a file, not a folder.`,
        ],
        [{ hub_cache_dir: path.join(file, "hub") }, `cannot be used: ${file} is a file, not a folder.`],
        [
          { port: takenPort },
          `Port ${takenPort} cannot be used: another program (or another llmlb) listens on it now.`,
        ],
        [{ hf_token: "hf_ abc def" }, "with no spaces"],
      ] as const;
      for (const [body, words] of refusals) {
        const refused = await server.request("PUT", "/v0/settings", { body });
        expect(refused.status, JSON.stringify(body)).toBe(400);
        expect(refused.body.error.message).toContain(words);
        expect(refused.body.error.param).toBe(Object.keys(body)[0]);
      }
    } finally {
      taken.close();
    }
    // A folder not there yet, which this user could make, is taken (and not made until used).
    const later = path.join(server.dataDir, "not-yet", "hub");
    expect((await server.request("PUT", "/v0/settings", { body: { hub_cache_dir: later } })).status).toBe(
      200,
    );
    expect(fs.existsSync(later)).toBe(false);
    await server.request("PUT", "/v0/settings", { body: { hub_cache_dir: before.hub_cache_dir } });
  });

  it("refuses bad values with 400 and changes nothing", async () => {
    const before = (await server.request("GET", "/v0/settings")).body;
    for (const body of [
      { port: 70000 },
      { port: "80" },
      { hub_cache_dir: "relative/path" },
      { hf_token: "" },
      { colour: "blue" },
      { start_at_login: true },
    ]) {
      const response = await server.request("PUT", "/v0/settings", { body });
      expect([400, 409], JSON.stringify(body)).toContain(response.status);
      expect(response.body.error.message.length).toBeGreaterThan(0);
    }
    expect((await server.request("GET", "/v0/settings")).body).toEqual(before);
  });
});

describe("quitting from the dashboard", () => {
  it("answers 202, then asks the app to quit, where the host can quit", async () => {
    let asked = 0;
    const own = await startCore({ hubEndpoint: hub.url, core: { requestQuit: () => void asked++ } });
    try {
      expect(statusSchema.parse((await own.request("GET", "/v0/status")).body).can_quit).toBe(true);
      expect((await own.request("POST", "/v0/quit", { anonymous: true })).status).toBe(401);
      expect(asked).toBe(0);
      const response = await own.request("POST", "/v0/quit");
      expect(response.status).toBe(202);
      expect(response.body).toEqual({ quitting: true });
      await waitFor("the quit", () => asked === 1);
    } finally {
      await own.close();
    }
  });

  it("refuses with a reason where it cannot quit", async () => {
    expect(statusSchema.parse((await server.request("GET", "/v0/status")).body).can_quit).toBe(false);
    const response = await server.request("POST", "/v0/quit");
    expect(response.status).toBe(409);
    expect(response.body.error.message).toMatch(/stop it where it was started/);
  });
});

describe("shutting down", () => {
  it("ends open event streams instead of waiting on them", async () => {
    const own = await startCore({ hubEndpoint: hub.url });
    const response = await fetch(`${own.url}/v0/events`, {
      headers: { authorization: `Bearer ${own.token}` },
    });
    expect(response.status).toBe(200);
    const drained = (async () => {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) void chunk;
    })();
    await own.close();
    await drained;
  });
});

import { afterEach, describe, expect, it } from "vitest";
import type { HeartbeatRequest, LoadedModel } from "../../src-main/contract";
import { createLogger } from "../../src-main/shared/logger";
import type { ControlPlaneClient } from "../../src-main/worker/controlPlaneClient";
import { openDownloadLedger } from "../../src-main/worker/downloadLedger";
import { createNodeAgent, type NodeAgent } from "../../src-main/worker/nodeAgent";
import { toWorkerEnv } from "../../src-main/contract";
import { workerConfigFromEnv } from "../../src-main/worker/workerConfig";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

let agent: NodeAgent | undefined;
let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
afterEach(async () => {
  await agent?.dispose();
  await temp?.remove();
  agent = undefined;
  temp = undefined;
});

/** A node agent on a control plane that answers each heartbeat when the test says. */
async function agentOnHeldControlPlane(loaded: () => LoadedModel[]) {
  temp = await makeTempDir();
  const log = createLogger({ level: "silent" });
  const beats: { report: HeartbeatRequest; answer(): void }[] = [];
  const client: ControlPlaneClient = {
    register: async () => ({
      node_id: "n1",
      node_token: "token",
      // No beat of its own while the test runs: only those it asks for.
      heartbeat_interval_ms: 600_000,
      sync_interval_ms: 600_000,
    }),
    heartbeat: (_id, report) =>
      new Promise((resolve) => beats.push({ report, answer: () => resolve({ registry_version: 1 }) })),
    listModels: async () => [],
    manifest: async () => {
      throw new Error("no manifests here");
    },
    removedFiles: async () => new Set<string>(),
  };
  agent = createNodeAgent({
    config: workerConfigFromEnv({
      ...toWorkerEnv({
        controlUrl: "http://127.0.0.1:9",
        nodeToken: "a-node-token-of-16+",
        name: "n1",
        backend: "cpu",
        threads: 1,
        stateDir: temp.path,
      }),
      HF_HUB_CACHE: temp.path,
    }),
    log,
    client,
    memory: {
      devices: async () => [],
      memory: async () => ({ total_bytes: 1e9, free_bytes: 1e9 }),
      dispose: async () => undefined,
    },
    ledger: await openDownloadLedger(`${temp.path}/ledger.json`, temp.path, log),
    nodeUrl: "http://127.0.0.1:9/",
    loaded,
  });
  await agent.start();
  return { agent, beats };
}

describe("a node's reports to its control plane", () => {
  it("go one at a time, in order: those asked for while one is on its way follow it as one, with what holds then", async () => {
    let loaded: LoadedModel[] = [{ model: "org/a", sequences: 1, busy: 0 }];
    const { agent, beats } = await agentOnHeldControlPlane(() => loaded);
    const first = agent.reportNow();
    await waitFor("the first report sent", () => beats.length === 1);
    // The model goes while the first report is on its way: two more reports are asked for.
    loaded = [];
    const second = agent.reportNow();
    const third = agent.reportNow();
    await new Promise((resolve) => setImmediate(resolve));
    expect(beats).toHaveLength(1);
    beats[0]!.answer();
    await waitFor("the next report sent", () => beats.length === 2);
    expect(beats.map((beat) => beat.report.loaded)).toEqual([
      [{ model: "org/a", sequences: 1, busy: 0 }],
      [],
    ]);
    beats[1]!.answer();
    await Promise.all([first, second, third]);
    expect(beats).toHaveLength(2);
  });
});

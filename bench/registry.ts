import path from "node:path";
import { Agent, request } from "undici";
import { createLogger } from "../src-main/shared/logger";
import { createModelRepository } from "../src-main/core/registry/modelRepository";
import { openDatabase } from "../src-main/core/registry/openDatabase";
import { createRegistryVersion } from "../src-main/core/registry/registryVersion";
import { startFakeHub, type FakeRepo } from "../tests/fixtures/fakeHub";
import { fakeBytes } from "../tests/helpers/hubRepos";
import { startCore } from "../tests/helpers/startCore";
import { makeTempDir } from "../tests/helpers/tempDir";
import { ms, summary, timeEach } from "./stats";

const registrations = 200;
const listedModels = 10_000;
const listRequests = 300;

function benchRepos(): FakeRepo[] {
  return Array.from({ length: registrations }, (_, i) => ({
    id: `bench/model-${i}-GGUF`,
    files: [
      { path: "README.md", content: Buffer.from("# bench\n") },
      { path: `model-${i}-Q4_K_M.gguf`, content: fakeBytes(`q4-${i}`, 1024) },
      { path: `model-${i}-Q8_0.gguf`, content: fakeBytes(`q8-${i}`, 1024) },
    ],
  }));
}

/** Fills the registry straight through the repository, as 10,000 registrations would leave it. */
function seedModels(dataDir: string, count: number): void {
  const db = openDatabase({ file: path.join(dataDir, "llmlb.db"), log: createLogger({ level: "silent" }) });
  const models = createModelRepository(db, createRegistryVersion());
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      models.insert({
        id: `seed/model-${i}-GGUF`,
        repo: `seed/model-${i}-GGUF`,
        filename: null,
        revision: "main",
        commit: "c".repeat(40),
        source: "huggingface",
        displayName: `model-${i}-GGUF`,
        sizeBytes: 1_000_000,
        createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        artifacts: [
          {
            filename: "model-Q4_K_M.gguf",
            format: "gguf",
            quantization: "Q4_K_M",
            size_bytes: 1_000_000,
            sha256: "a".repeat(64),
            split_group: null,
          },
        ],
      });
    }
  })();
  db.close();
}

export async function benchRegistry(): Promise<void> {
  const hub = await startFakeHub({ repos: benchRepos() });
  const temp = await makeTempDir("llmlb-bench-");
  const dispatcher = new Agent({ connections: 1 });
  try {
    const server = await startCore({ hubEndpoint: hub.url, dataDir: temp.path });
    const headers = { authorization: `Bearer ${server.token}`, "content-type": "application/json" };
    const call = async (method: "GET" | "POST", url: string, body?: unknown) => {
      const response = await request(server.url + url, {
        method,
        headers,
        body: body ? JSON.stringify(body) : undefined,
        dispatcher,
      });
      await response.body.dump();
      if (response.statusCode >= 300) throw new Error(`${method} ${url} answered ${response.statusCode}`);
    };

    // The fake hub's own answer time, measured the same way, is the floor registration stands on.
    const hubSamples = await timeEach(
      registrations,
      async (i) => {
        const res = await request(`${hub.url}/api/models/bench/model-${Math.max(0, i)}-GGUF/revision/main`, {
          dispatcher,
        });
        await res.body.dump();
      },
      5,
    );
    const registerSamples = await timeEach(
      registrations,
      (i) =>
        i < 0 ? Promise.resolve() : call("POST", "/v0/models/register", { url: `bench/model-${i}-GGUF` }),
      0,
    );
    await server.core.dispose();

    seedModels(temp.path, listedModels);
    const seeded = await startCore({ hubEndpoint: hub.url, dataDir: temp.path });
    const seededCall = async (url: string) => {
      const response = await request(seeded.url + url, {
        headers: { authorization: `Bearer ${seeded.token}` },
        dispatcher,
      });
      const text = await response.body.text();
      return text.length;
    };
    const healthSamples = await timeEach(listRequests, async () => void (await seededCall("/v0/health")));
    let bytes = 0;
    const listSamples = await timeEach(
      listRequests,
      async () => void (bytes = await seededCall("/v1/models")),
    );
    const pageSamples = await timeEach(
      listRequests,
      async () => void (await seededCall("/v0/models?limit=50&offset=5000")),
    );
    await seeded.close();

    const hubStats = summary(hubSamples);
    const reg = summary(registerSamples);
    const list = summary(listSamples);
    const health = summary(healthSamples);
    const page = summary(pageSamples);
    console.log(`registry benchmark (${new Date().toISOString()})`);
    console.log(`  registration against the fake hub, ${registrations} repos, sequential:`);
    console.log(
      `    p50 ${ms(reg.p50)}  p95 ${ms(reg.p95)}  (one hub model-info call: p50 ${ms(hubStats.p50)}; ratio p50 ${(reg.p50 / hubStats.p50).toFixed(1)}x)`,
    );
    console.log(
      `  GET /v1/models with ${listedModels.toLocaleString("en")} registered models (${(bytes / 1e6).toFixed(2)} MB):`,
    );
    console.log(
      `    p50 ${ms(list.p50)}  p95 ${ms(list.p95)}  p99 ${ms(list.p99)}  target p95 < 20 ms: ${list.p95 < 20 ? "met" : "MISSED"}`,
    );
    console.log(
      `    vs GET /v0/health on the same server: p50 ${ms(health.p50)}; ratio p50 ${(list.p50 / health.p50).toFixed(1)}x`,
    );
    console.log(
      `  GET /v0/models?limit=50&offset=5000 with ${listedModels.toLocaleString("en")} models: p50 ${ms(page.p50)}  p95 ${ms(page.p95)}`,
    );
  } finally {
    await dispatcher.close();
    await hub.close();
    await temp.remove();
  }
}

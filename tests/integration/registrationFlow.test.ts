import { afterAll, beforeAll, expect, it } from "vitest";
import { manifestSchema, openAiModelListSchema } from "../../src-main/contract";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { testRepos } from "../helpers/hubRepos";
import { startCore } from "../helpers/startCore";
import { makeTempDir } from "../helpers/tempDir";

let hub: FakeHub;
let temp: { path: string; remove(): Promise<void> };

beforeAll(async () => {
  hub = await startFakeHub({ repos: testRepos() });
  temp = await makeTempDir();
});
afterAll(async () => {
  await hub.close();
  await temp.remove();
});

it("register → list → manifest → /v1/models not ready → delete → gone", async () => {
  const server = await startCore({ hubEndpoint: hub.url, dataDir: temp.path });
  try {
    const url = "https://huggingface.co/acme/tiny-GGUF/blob/main/tiny-Q4_K_M.gguf";
    const registered = await server.request("POST", "/v0/models/register", { body: { url } });
    expect(registered.status).toBe(201);
    const id = registered.body.name as string;
    expect(id).toBe("acme/tiny-GGUF/tiny-Q4_K_M.gguf");

    const list = await server.request("GET", "/v0/models");
    expect(list.body.data.map((m: { name: string }) => m.name)).toEqual([id]);

    const manifest = manifestSchema.parse(
      (await server.request("GET", `/v0/models/registry/${encodeURIComponent(id)}/manifest.json`)).body,
    );
    expect(manifest.artifacts).toHaveLength(1);
    const download = await fetch(manifest.artifacts[0]!.url);
    expect(download.status).toBe(200);
    expect(Number(download.headers.get("content-length"))).toBe(manifest.artifacts[0]!.size_bytes);
    await download.arrayBuffer();

    const v1 = openAiModelListSchema.parse((await server.request("GET", "/v1/models")).body);
    expect(v1.data).toEqual([expect.objectContaining({ id, ready: false })]);

    expect((await server.request("DELETE", `/v0/models/${encodeURIComponent(id)}`)).status).toBe(204);
    expect(openAiModelListSchema.parse((await server.request("GET", "/v1/models")).body).data).toEqual([]);
    expect((await server.request("GET", "/v0/models")).body.total).toBe(0);
  } finally {
    await server.close();
  }
});

it("keeps models and hub metadata across restarts, so a later registration works while the hub is down", async () => {
  const first = await startCore({ hubEndpoint: hub.url, dataDir: temp.path });
  const registered = await first.request("POST", "/v0/models/register", { body: { url: "acme/split-GGUF" } });
  expect(registered.status).toBe(201);
  const token = first.token;
  await first.core.dispose();

  hub.setFaults({ unreachable: true });
  const second = await startCore({ hubEndpoint: hub.url, dataDir: temp.path });
  try {
    expect(second.token).toBe(token);
    const kept = await second.request("GET", "/v0/models/acme%2Fsplit-GGUF");
    expect(kept.status).toBe(200);
    expect(kept.body.commit).toBe(registered.body.commit);
    expect(kept.body.artifacts).toEqual(registered.body.artifacts);
    const fromCache = await second.request("POST", "/v0/models/register", {
      body: { url: "acme/split-GGUF:Q8_0" },
    });
    expect(fromCache.status).toBe(201);
    expect(fromCache.body.stale.age_seconds).toBeGreaterThanOrEqual(0);
    expect(fromCache.body.name).toBe("acme/split-GGUF/big-Q8_0.gguf");
  } finally {
    hub.clearFaults();
    await second.core.dispose();
  }
});

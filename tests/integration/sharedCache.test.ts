import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminRequest, registerAndWaitReady } from "../helpers/cliProcess";
import { serveInTempDir, type ServedInTempDir } from "../helpers/serveInTempDir";
import { serveTinyModel, tinyModel, type TinyModelServe } from "../helpers/tinyModelServe";
import { waitFor } from "../helpers/waitFor";

// Two llmlbs (two data directories) on one Hugging Face cache, as every tool shares it by default: the
// first downloads the model, the second finds it in the cache. The first removing it must not take
// the file from under the second, which serves it.
let first: TinyModelServe;
let second: ServedInTempDir;
let cache: string;

beforeAll(async () => {
  first = await serveTinyModel({ workers: 1, logLevel: "info" });
  cache = first.env.HF_HUB_CACHE!;
  second = await serveInTempDir({
    hubUrl: first.hub.url,
    args: ["--port", "0", "--workers", "1"],
    env: { HF_HUB_CACHE: cache },
  });
  await registerAndWaitReady(second.serve.url, second.dataDir, tinyModel);
}, 120_000);

afterAll(async () => {
  await second?.close();
  await first?.close();
});

/** The model's files in the shared cache: its blobs and its snapshot links. */
function cachedFiles(): string[] {
  const repo = path.join(cache, `models--${tinyModel.replace("/", "--")}`);
  if (!fs.existsSync(repo)) return [];
  return fs
    .readdirSync(repo, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() || entry.isSymbolicLink())
    .map((entry) => path.relative(repo, path.join(entry.parentPath, entry.name)))
    .filter((file) => file.startsWith("blobs") || file.startsWith("snapshots"))
    .sort();
}

async function chatOn(url: string): Promise<number> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: tinyModel, messages: [{ role: "user", content: "Hi" }], max_tokens: 2 }),
  });
  await response.text();
  return response.status;
}

describe("two llmlbs on one Hugging Face cache", () => {
  it("the one that downloaded a model removes it, and the file stays for the other, which serves it", async () => {
    const before = cachedFiles();
    expect(before.filter((file) => file.startsWith("blobs"))).toHaveLength(1);

    const removed = await first.admin("DELETE", `/v0/models/${encodeURIComponent(tinyModel)}`);
    expect(removed.status).toBe(204);
    await waitFor("the first llmlb's worker to let its file go", () =>
      first.serve.logs().includes("another llmlb on this cache uses"),
    );
    expect(cachedFiles()).toEqual(before);
    expect(await chatOn(second.serve.url)).toBe(200);

    // The other removes it too (it found it in the cache: not its to delete): the one that downloaded
    // it does, at its next look, as no llmlb uses it any more.
    const again = await adminRequest(
      second.serve.url,
      second.dataDir,
      "DELETE",
      `/v0/models/${encodeURIComponent(tinyModel)}`,
    );
    expect(again.status).toBe(204);
    await waitFor("the file removed from the cache", () => cachedFiles().length === 0, { timeoutMs: 30_000 });
  }, 60_000);
});

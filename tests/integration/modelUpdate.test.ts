import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchema } from "../../src-main/contract";
import { sha256Hex } from "../fixtures/fakeHub";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { runCli } from "../helpers/cliProcess";
import { serveTinyModel, tinyModel, type TinyModelServe } from "../helpers/tinyModelServe";
import { waitFor } from "../helpers/waitFor";

// `llmlb model update`: a model whose revision moved on the hub is fetched anew by its worker, and
// served from the new file; the old one leaves the cache.
let served: TinyModelServe;

beforeAll(async () => {
  served = await serveTinyModel({ workers: 1 });
}, 120_000);
afterAll(async () => {
  await served?.close();
});

const blobs = () => {
  const folder = path.join(served.env.HF_HUB_CACHE!, `models--${tinyModel.replace("/", "--")}`, "blobs");
  return fs.existsSync(folder) ? fs.readdirSync(folder) : [];
};

describe("llmlb model update", () => {
  it("fetches the new commit's file on its worker, serves it, and lets the old one go", async () => {
    const before = modelSchema.parse(
      (await served.admin("GET", `/v0/models/${encodeURIComponent(tinyModel)}`)).body,
    );
    const oldSha = before.artifacts[0]!.sha256!;
    expect(blobs()).toContain(oldSha);
    const newer = generateTinyGguf({ seed: 7 });
    served.hub.addRepo({ id: tinyModel, files: [{ path: "tiny-llama-Q4_K_M.gguf", content: newer }] });

    const result = await runCli(["model", "update", tinyModel], served.env);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^${tinyModel} moved from ${before.commit.slice(0, 7)} to \\w{7}: nodes fetch its files there`,
      ),
    );

    await waitFor(
      "the new file ready on the worker, and the old one gone",
      async () => {
        const model = modelSchema.parse(
          (await served.admin("GET", `/v0/models/${encodeURIComponent(tinyModel)}`)).body,
        );
        return (
          model.nodes.some((node) => node.state === "ready") &&
          blobs().includes(sha256Hex(newer)) &&
          !blobs().includes(oldSha)
        );
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const chat = await fetch(`${served.serve.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: tinyModel, messages: [{ role: "user", content: "Hi" }], max_tokens: 2 }),
    });
    expect(chat.status).toBe(200);
    await chat.text();
  }, 90_000);

  it("moves to a commit whose file is the same without fetching it, and the file still goes with the model", async () => {
    const before = modelSchema.parse(
      (await served.admin("GET", `/v0/models/${encodeURIComponent(tinyModel)}`)).body,
    );
    // A README added: main moves, its GGUF does not.
    const gguf = fs.readFileSync(
      path.join(
        served.env.HF_HUB_CACHE!,
        `models--${tinyModel.replace("/", "--")}`,
        "blobs",
        before.artifacts[0]!.sha256!,
      ),
    );
    served.hub.addRepo({
      id: tinyModel,
      files: [
        { path: "tiny-llama-Q4_K_M.gguf", content: gguf },
        { path: "README.md", content: Buffer.from("# tiny\n") },
      ],
    });
    const result = await runCli(["model", "update", tinyModel], served.env);
    expect(result.stdout).toMatch(/its files are the same there, so nodes serve it on as they were\./);
    served.hub.resetStats();
    await waitFor(
      "the model ready at the new commit",
      async () =>
        modelSchema
          .parse((await served.admin("GET", `/v0/models/${encodeURIComponent(tinyModel)}`)).body)
          .nodes.some((node) => node.state === "ready"),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // Nothing fetched again.
    expect(served.hub.bytesServed()).toBe(0);
    // Removed, it takes its file with it, linked at both commits as it was.
    expect((await served.admin("DELETE", `/v0/models/${encodeURIComponent(tinyModel)}`)).status).toBe(204);
    await waitFor(
      "its file gone from the cache",
      async () => !blobs().includes(before.artifacts[0]!.sha256!),
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    );
  }, 90_000);
});

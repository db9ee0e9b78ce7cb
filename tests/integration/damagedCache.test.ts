import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchema } from "../../src-main/contract";
import { adminRequest, startServeProcess, type ServeProcess } from "../helpers/cliProcess";
import { serveTinyModel, tinyModel, type TinyModelServe } from "../helpers/tinyModelServe";
import { waitFor } from "../helpers/waitFor";

// A model file damaged on disk after it was downloaded and verified (a crash mid-write, a bad sector),
// its size unchanged: the next start must not serve it, nor leave the model in error for good.
let server: TinyModelServe;
let again: ServeProcess | undefined;

beforeAll(async () => {
  server = await serveTinyModel({ workers: 1 });
}, 90_000);
afterAll(async () => {
  await again?.stop();
  await server?.close();
});

describe("a cached model file damaged on disk", () => {
  it("whose header no longer reads is found by its sha256, removed and downloaded again at the next start", async () => {
    const blobs = path.join(server.env.HF_HUB_CACHE!, "models--acme--tiny-llama-GGUF", "blobs");
    const [sha] = fs.readdirSync(blobs).filter((name) => /^[0-9a-f]{64}$/.test(name));
    const blob = path.join(blobs, sha!);
    const size = fs.statSync(blob).size;
    expect(await server.serve.stop()).toBe(0);

    // "GGUF" no longer starts it; its size is what the hub says.
    const file = fs.openSync(blob, "r+");
    fs.writeSync(file, Buffer.from("this"), 0, 4, 0);
    fs.closeSync(file);
    server.hub.resetStats();

    again = await startServeProcess(["--port", "0", "--workers", "1"], { ...process.env, ...server.env });
    const url = again.url;
    await waitFor(
      "the model ready again",
      async () => {
        const answer = await adminRequest(
          url,
          server.dataDir,
          "GET",
          `/v0/models/${encodeURIComponent(tinyModel)}`,
        );
        return modelSchema.parse(answer.body).ready;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(createHash("sha256").update(fs.readFileSync(blob)).digest("hex")).toBe(sha);
    expect(server.hub.bytesServed()).toBe(size);
    expect(again.logs()).toContain("a cached file no longer matches its sha256; downloading it again");
  });
});

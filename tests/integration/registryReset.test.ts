import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex, startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { registerAndWaitReady, startServeProcess, type ServeProcess } from "../helpers/cliProcess";
import { makeTempDir } from "../helpers/tempDir";

// The registry is lost (its database deleted or reset, a reinstall, another control plane) while the
// model files its workers downloaded stay in the Hugging Face cache: those files are not the workers'
// to delete for that, only for a model the registry says was removed.
const tiny = generateTinyGguf({ seed: 1 });
let hub: FakeHub;
let temp: Awaited<ReturnType<typeof makeTempDir>>;
let serve: ServeProcess | undefined;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  hub = await startFakeHub({
    repos: [
      { id: "acme/tiny-llama-GGUF", files: [{ path: "tiny-llama-Q4_K_M.gguf", content: tiny }] },
      {
        id: "acme/other-GGUF",
        files: [{ path: "other-Q4_K_M.gguf", content: generateTinyGguf({ seed: 2 }) }],
      },
    ],
  });
  temp = await makeTempDir();
  env = {
    HF_ENDPOINT: hub.url,
    HF_HUB_CACHE: path.join(temp.path, "hub"),
    LLMLB_DATA_DIR: path.join(temp.path, "data"),
    LLMLB_LOG_LEVEL: "warn",
  };
});
afterAll(async () => {
  await serve?.stop();
  await hub?.close();
  await temp?.remove();
});

describe("a registry that is lost while its files stay in the cache", () => {
  it("keeps every file the workers downloaded, and the model registered again is ready without a download", async () => {
    const dataDir = env.LLMLB_DATA_DIR!;
    serve = await startServeProcess(["--port", "0", "--workers", "1"], env);
    await registerAndWaitReady(serve.url, dataDir, "acme/tiny-llama-GGUF");
    const blob = path.join(temp.path, "hub", "models--acme--tiny-llama-GGUF", "blobs", sha256Hex(tiny));
    const downloaded = fs.statSync(blob);
    await serve.stop();

    for (const file of ["llmlb.db", "llmlb.db-wal", "llmlb.db-shm"])
      fs.rmSync(path.join(dataDir, file), { force: true });
    serve = await startServeProcess(["--port", "0", "--workers", "1"], env);
    // Another model made ready: the worker has synced with the new, empty registry since it started.
    await registerAndWaitReady(serve.url, dataDir, "acme/other-GGUF");
    expect(fs.existsSync(blob)).toBe(true);

    hub.resetStats();
    await registerAndWaitReady(serve.url, dataDir, "acme/tiny-llama-GGUF");
    expect(fs.statSync(blob).ino).toBe(downloaded.ino);
    expect(hub.bytesServed()).toBe(0);
  }, 90_000);
});

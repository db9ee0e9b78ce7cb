import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchFakeApp, root, runFakeApp } from "../helpers/fakeElectron/launch";
import { startCoreWithHub } from "../helpers/startCore";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

/**
 * The desktop app (built main process, stand-in Electron) on a data directory whose models were
 * downloaded into a cache folder that is gone: a disk not connected, a moved home folder.
 */
describe("the desktop app with its model cache folder missing", () => {
  let dataDir: Awaited<ReturnType<typeof makeTempDir>>;
  let cacheDir: string;

  beforeAll(async () => {
    expect(fs.existsSync(path.join(root, "out/main/main.js")), "the app is built (npm run build)").toBe(true);
    dataDir = await makeTempDir("llmlb-missing-cache-");
    cacheDir = path.join(dataDir.path, "unplugged-disk", "hub");
    // A model registered earlier, on this data directory.
    const earlier = await startCoreWithHub({ dataDir: dataDir.path, config: { workers: "none" } });
    try {
      const registered = await earlier.request("POST", "/v0/models/register", {
        body: { url: "acme/tiny-GGUF" },
      });
      expect(registered.status).toBe(201);
    } finally {
      await earlier.close();
    }
  }, 30_000);

  afterAll(() => dataDir?.remove());

  it("asks before downloading every model again, and quits as asked, making nothing", async () => {
    const { code, output } = await runFakeApp(dataDir.path, {
      HF_HUB_CACHE: cacheDir,
      FAKE_MESSAGE_BOX_RESPONSE: "0",
    });
    expect(code).toBe(0);
    expect(output).toMatch(/messageBox .*The model cache folder is missing/);
    expect(output).toContain(`${cacheDir} does not exist, but 1 registered model was downloaded into it`);
    expect(fs.existsSync(cacheDir)).toBe(false);
    expect(fs.existsSync(path.join(dataDir.path, "server.json"))).toBe(false);
  }, 30_000);

  it("told to go on, starts and serves as usual", async () => {
    const app = launchFakeApp(dataDir.path, {
      HF_HUB_CACHE: cacheDir,
      FAKE_MESSAGE_BOX_RESPONSE: "1",
      FAKE_HOLD_PROBE: "0",
      LLMLB_WORKERS: "none",
    });
    const exited = new Promise<number | null>((resolve) => app.once("exit", resolve));
    try {
      const info = await waitFor("server.json", async () => {
        const file = path.join(dataDir.path, "server.json");
        return fs.existsSync(file)
          ? (JSON.parse(fs.readFileSync(file, "utf8")) as { url: string })
          : undefined;
      });
      const token = fs.readFileSync(path.join(dataDir.path, "admin-token"), "utf8").trim();
      const models = await fetch(`${info.url}/v0/models`, { headers: { authorization: `Bearer ${token}` } });
      expect(((await models.json()) as { total: number }).total).toBe(1);
      await fetch(`${info.url}/v0/quit`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
      expect(await exited).toBe(0);
    } finally {
      if (app.exitCode === null) app.kill("SIGKILL");
    }
  }, 30_000);
});

import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { _electron, type ElectronApplication } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

const root = path.resolve(import.meta.dirname, "../..");

/**
 * The Electron binary, if this machine has one. Never `require("electron")`: without its binary that
 * starts a download. The package records the binary's name in path.txt once it is installed.
 */
function electronBinary(): { path: string } | { reason: string } {
  const dir = path.dirname(createRequire(import.meta.url).resolve("electron/package.json"));
  const pathFile = path.join(dir, "path.txt");
  if (!fs.existsSync(pathFile)) return { reason: "Electron binary not installed" };
  const dist = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? path.join(dir, "dist");
  const binary = path.join(dist, fs.readFileSync(pathFile, "utf8").trim());
  if (!fs.existsSync(binary)) return { reason: `Electron binary not installed (${binary} is missing)` };
  if (process.platform === "linux" && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY)
    return { reason: "no display; run under xvfb-run" };
  return { path: binary };
}

const electron = electronBinary();
const skipReason = "reason" in electron ? electron.reason : undefined;

describe("desktop app", () => {
  let app: ElectronApplication | undefined;
  let dataDir: Awaited<ReturnType<typeof makeTempDir>> | undefined;
  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await dataDir?.remove();
  });

  it.skipIf(skipReason !== undefined)(
    skipReason
      ? `electron smoke (skipped: ${skipReason})`
      : "electron smoke: the window shows the dashboard, closing it keeps serving, quitting drains",
    async () => {
      if (!("path" in electron)) return;
      expect(fs.existsSync(path.join(root, "out/main/main.js")), "the app is built (npm run build)").toBe(
        true,
      );
      dataDir = await makeTempDir("llmlb-electron-");
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
      delete env.ELECTRON_RUN_AS_NODE;
      app = await _electron.launch({
        executablePath: electron.path,
        // Chromium's own sandbox refuses to run as root (CI containers); the page stays sandboxed.
        args: [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), root],
        env: {
          ...env,
          LLMLB_DATA_DIR: dataDir.path,
          LLMLB_PORT: "0",
          LLMLB_WORKERS: "none",
          LLMLB_LOG_LEVEL: "warn",
          HF_ENDPOINT: "http://127.0.0.1:9",
        },
        timeout: 60_000,
      });
      const exited = new Promise<number | null>((resolve) =>
        app!.process().once("exit", (code) => resolve(code)),
      );

      const page = await app.firstWindow({ timeout: 60_000 });
      await page.waitForLoadState("domcontentloaded");
      expect(page.url()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
      const url = new URL(page.url()).origin;
      // The dashboard rendered (it titles the page after its screen), and read /v0 with the token the
      // window's link gave it.
      await page.waitForFunction(() => (document.getElementById("root")?.childElementCount ?? 0) > 0);
      expect(await page.title()).toMatch(/ · llmlb$/);
      // The models page's empty state shows only once /v0 has answered.
      await page.getByText("Paste any of these").waitFor({ timeout: 30_000 });
      expect(new URL(page.url()).hash).not.toContain("token");
      // The sandboxed preload ran (a CommonJS one), and the page has no Node.
      expect(
        await page.evaluate(() => (window as unknown as { llmlbDesktop?: unknown }).llmlbDesktop),
      ).toEqual({
        isDesktop: true,
        platform: process.platform,
      });
      expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe(
        "undefined",
      );
      // Sandboxed with context isolation: no Node globals in the page.
      expect(await page.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe(
        "undefined",
      );

      // Closing the window keeps the service in the tray.
      await page.close();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(app.process().exitCode).toBeNull();
      expect((await fetch(`${url}/v0/health`)).status).toBe(200);

      // Quitting drains and exits cleanly: the server is gone and it removed its server.json.
      // The reply may race the exit: what counts is the exit code.
      await app.evaluate(({ app: electronApp }) => electronApp.quit()).catch(() => undefined);
      expect(await exited).toBe(0);
      await waitFor("the server to stop", async () => {
        try {
          await fetch(`${url}/v0/health`);
          return false;
        } catch {
          return true;
        }
      });
      expect(fs.existsSync(path.join(dataDir.path, "server.json"))).toBe(false);
      app = undefined;
    },
    120_000,
  );
});

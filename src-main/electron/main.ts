import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { app, BrowserWindow, session, shell } from "electron";
import { resolveConfig } from "../core/config";
import { createCore, type Core } from "../core/createCore";
import { createLogger } from "../core/logger";
import { adminCookieName } from "../core/server/guards";
import { createUtilityWorkerLauncher } from "./utilityLauncher";
import { isDashboardUrl, isExternalWebUrl, windowOptions } from "./windowOptions";

const here = path.dirname(fileURLToPath(import.meta.url));
let core: Core | undefined;
let dashboardUrl: string | undefined;
let window: BrowserWindow | undefined;

async function openWindow(): Promise<void> {
  if (!dashboardUrl || !core) return;
  if (window && !window.isDestroyed()) {
    window.show();
    window.focus();
    return;
  }
  // The dashboard authenticates with the same HttpOnly cookie a browser gets from /?token=.
  await session.defaultSession.cookies.set({
    url: dashboardUrl,
    name: adminCookieName,
    value: core.adminToken,
    httpOnly: true,
    sameSite: "strict",
  });
  window = new BrowserWindow(windowOptions(path.join(here, "../preload/preload.mjs")));
  const base = dashboardUrl;
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (isExternalWebUrl(url)) void shell.openExternal(url);
    return { action: "deny" };
  });
  window.webContents.on("will-navigate", (event, url) => {
    if (!isDashboardUrl(url, base)) {
      event.preventDefault();
      if (isExternalWebUrl(url)) void shell.openExternal(url);
    }
  });
  window.once("ready-to-show", () => window?.show());
  await window.loadURL(`${base}/`);
}

/**
 * better-sqlite3 built for Electron's ABI by `npm start` (scripts/electron-native.mjs), beside the
 * Node build; packaged apps rebuild the module itself and have none.
 */
function electronSqliteBinding(): string | undefined {
  const addon = path.join(
    app.getAppPath(),
    "node_modules/.cache/llmlb",
    `electron-${process.versions.electron}`,
    "better-sqlite3/build/Release/better_sqlite3.node",
  );
  return fs.existsSync(addon) ? addon : undefined;
}

async function start(): Promise<void> {
  const config = resolveConfig({ env: process.env });
  const log = createLogger({ level: config.logLevel });
  core = await createCore({
    config,
    log,
    version: app.getVersion(),
    rendererDir: path.join(here, "../renderer"),
    sqliteNativeBinding: electronSqliteBinding(),
    workerLauncher: createUtilityWorkerLauncher(path.join(here, "worker.js")),
  });
  dashboardUrl = await core.listen();
  await openWindow();
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on("second-instance", () => void openWindow());
  app.on("activate", () => void openWindow());
  app.on("window-all-closed", () => {
    // The service keeps running until Quit (the tray arrives with the desktop work).
    if (process.platform !== "darwin") app.quit();
  });
  app.on("before-quit", (event) => {
    if (!core) return;
    event.preventDefault();
    const closing = core;
    core = undefined;
    void closing.dispose().finally(() => app.quit());
  });
  void app
    .whenReady()
    .then(start)
    .catch((error: unknown) => {
      process.stderr.write(`llmlb failed to start: ${(error as Error).stack ?? String(error)}\n`);
      app.exit(1);
    });
}

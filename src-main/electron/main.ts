import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { app, clipboard, dialog, Menu, powerMonitor, shell, utilityProcess } from "electron";
import type { Config } from "../core/config";
import { createCore, type Core } from "../core/createCore";
import { dataFiles, ensureDataDir, readAdminToken } from "../core/dataDir";
import { DataDirInUseError } from "../core/dataDirLock";
import { dashboardLink } from "../contract/dashboardLink";
import { createLogger, openLogFile, type LogFile, type Logger } from "../shared/logger";
import { appMenuTemplate } from "./appMenu";
import {
  electronProfileDir,
  iconsDir,
  loadDesktopConfig,
  trayIconFile,
  whenPortTaken,
} from "./desktopConfig";
import { createDesktopHfTokenStore, createDesktopLoginItem } from "./desktopSettings";
import { createQuitController, onWindowAllClosed } from "./lifecycle";
import { atLoginArg, startedAtLogin } from "./loginItems";
import { createAppTray, type AppTray } from "./tray";
import { trayStateFromStatus, type TrayAction, type TrayState } from "./trayMenu";
import { createUtilityWorkerLauncher } from "./utilityLauncher";
import { writeRedirectPage } from "./redirectPage";
import { createDashboardWindow } from "./window";

const here = path.dirname(fileURLToPath(import.meta.url));

function run(config: Config, log: Logger, logFile: LogFile): void {
  const icons = iconsDir({
    packaged: app.isPackaged,
    appPath: app.getAppPath(),
    resourcesPath: process.resourcesPath,
  });
  const window = createDashboardWindow({
    preload: path.join(here, "../preload/preload.cjs"),
    icon: path.join(icons, "icon.png"),
    log,
  });
  let core: Core | undefined;
  let startError: string | undefined;
  let tray: AppTray | undefined;

  function trayState(): TrayState {
    const url = core?.url();
    // Quitting, the core is being taken apart (its database closes): nothing more is asked of it.
    if (core && url && quitting.phase === "running")
      return trayStateFromStatus(core.status(), url, config.hubCacheDir);
    const idle = {
      modelsReady: 0,
      modelsTotal: 0,
      nodesOnline: 0,
      paused: false,
      cacheDir: config.hubCacheDir,
    };
    if (startError) return { ...idle, error: startError };
    return quitting.phase === "running" ? { ...idle, starting: true } : { ...idle, stopping: true };
  }

  /** Asked for before the core listens (a second launch during start-up): shown once it does. */
  let windowWanted = false;
  function openDashboard(): void {
    if (quitting.phase !== "running") return;
    const url = core?.url();
    if (core && url) void window.show(url, core.adminToken);
    else windowWanted = true;
  }

  function runTrayAction(action: TrayAction): void {
    switch (action.type) {
      case "open-dashboard":
        return openDashboard();
      case "copy-text":
        void clipboard.writeText(action.text);
        return;
      case "set-paused":
        // The core publishes a "serving" event, which refreshes the tray.
        return core?.setPaused(action.paused);
      case "open-path":
        // Nothing downloaded yet: the folder may not exist; make it, as the workers would.
        fs.mkdirSync(action.path, { recursive: true });
        void shell.openPath(action.path).then((problem) => {
          if (problem) log.warn({ path: action.path, problem }, "cannot open the model cache folder");
        });
        return;
      case "quit":
        return app.quit();
    }
  }

  /**
   * The cache folder is gone while models are registered (a disk not connected, a moved home folder):
   * started now, every model downloads again. Asked before the workers start; true to go on.
   */
  async function downloadAgain(registered: number): Promise<boolean> {
    const { response } = await dialog.showMessageBox({
      type: "warning",
      message: "The model cache folder is missing",
      detail:
        `${config.hubCacheDir} does not exist, but ${registered} registered model${registered === 1 ? " was" : "s were"} downloaded into it. ` +
        "If it is on a disk that is not connected, connect it and start llmlb again, or set the folder in Settings (or HF_HUB_CACHE). " +
        "Started now, llmlb downloads them again into a new, empty folder.",
      buttons: ["Quit", "Download them again"],
      defaultId: 0,
      cancelId: 0,
    });
    return response === 1;
  }

  async function start(): Promise<void> {
    // Looked at before anything can make it.
    const cacheWasMissing = !fs.existsSync(config.hubCacheDir);
    await app.whenReady();
    Menu.setApplicationMenu(
      Menu.buildFromTemplate(
        appMenuTemplate({
          platform: process.platform,
          development: !app.isPackaged,
          openDashboard,
          quit: () => app.quit(),
        }),
      ),
    );
    tray = createAppTray({
      icon: path.join(icons, trayIconFile(process.platform)),
      state: trayState,
      onAction: runTrayAction,
    });
    core = await createCore({
      config,
      log,
      version: app.getVersion(),
      rendererDir: path.join(here, "../renderer"),
      workerLauncher: createUtilityWorkerLauncher({
        entry: path.join(here, "worker.js"),
        fork: (modulePath, args, options) => utilityProcess.fork(modulePath, args, options),
      }),
      hfTokenStore: await createDesktopHfTokenStore(config.dataDir, log.child({ module: "desktop" })),
      // A GUI app may have no standard error: the workers' lines go into its log file.
      onWorkerOutput: (_worker, line) => logFile.writeRaw(line),
      requestQuit: () => app.quit(),
      loginItem: createDesktopLoginItem(),
      whenPortTaken: whenPortTaken(config),
      // An installed app's llama.cpp binaries are read-only, inside the app.
      ...(app.isPackaged
        ? {
            gpuBuild: {
              unavailable:
                "The desktop app carries llama.cpp read-only: build it with `llmlb gpu build` where llmlb runs from its npm package or its sources, and serve from there.",
            },
          }
        : {}),
    });
    core.events.subscribe(() => tray?.refresh());
    const registered = core.models.count();
    if (cacheWasMissing && registered > 0 && !(await downloadAgain(registered))) {
      log.warn({ cache: config.hubCacheDir }, "the model cache folder is missing: quit, as asked");
      app.quit();
      return;
    }
    // Resolves once listening: the window opens while the workers start (finding GPUs can take a minute).
    await core.listen();
    tray.refresh();
    // Quit while starting: the drain stops what just started; no window.
    if (quitting.phase !== "running") return;
    const atLogin = startedAtLogin(process.argv);
    // Started at login: serve from the tray without putting a window in the way.
    if (!atLogin || windowWanted) openDashboard();
    else if (onWindowAllClosed(process.platform).hideDock) app.dock?.hide();
  }

  let starting: Promise<void> = Promise.resolve();
  const quitting = createQuitController({
    async drain() {
      window.close();
      await starting.catch(() => undefined);
      await core?.dispose();
    },
    quit: () => app.quit(),
    exit: (code) => {
      tray?.dispose();
      app.exit(code);
    },
    // As launched by hand: the window opens.
    relaunch: () =>
      app.relaunch({
        args: process.argv.slice(1).filter((arg) => arg !== atLoginArg),
        // An AppImage runs from a mount that goes with it: start the image.
        ...(process.env.APPIMAGE ? { execPath: process.env.APPIMAGE } : {}),
      }),
    // The drain timeout, then the workers' stop timeout (5 s), then a margin.
    forceAfterMs: config.drainTimeoutSeconds * 1000 + 10_000,
    onProblem: (message, error) => log.error({ err: error }, message),
  });
  starting = start();

  app.on("second-instance", (_event, argv) => {
    // The login item fired while a copy started by hand runs: nothing to show.
    if (startedAtLogin(argv)) return;
    if (quitting.phase === "running") openDashboard();
    else quitting.launchedAgain();
  });
  // macOS sends it at the first launch too: until the core listens, start() decides (no window at login).
  app.on("activate", () => {
    if (core?.url()) openDashboard();
  });
  app.on("window-all-closed", () => {
    // Handling the event at all is what keeps Electron from quitting: the service stays in the tray.
    if (onWindowAllClosed(process.platform).hideDock) app.dock?.hide();
  });
  app.on("before-quit", (event) => {
    const decision = quitting.beforeQuit();
    tray?.refresh();
    if (decision === "prevent") event.preventDefault();
  });
  app.on("will-quit", () => tray?.dispose());
  // Linux and macOS say so before they end the apps; Windows ends them without before-quit.
  void app.whenReady().then(() => powerMonitor.on("shutdown", () => quitting.systemShuttingDown()));
  // The OS asking politely (logout, `kill`, Ctrl+C in a terminal) drains like the tray's Quit.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => app.quit());

  /** `llmlb serve` already serves this data directory: its dashboard, in the browser, is what is wanted. */
  async function offerRunningServer(url: string, message: string): Promise<void> {
    const { response } = await dialog.showMessageBox({
      type: "info",
      message: "llmlb is already running for this data folder",
      detail: message,
      buttons: ["Open its dashboard", "Close"],
      defaultId: 0,
      cancelId: 1,
    });
    if (response !== 0) return;
    const token = config.adminToken ?? readAdminToken(config.dataDir);
    await shell.openExternal(token ? writeRedirectPage(config.dataDir, dashboardLink(url, token)) : url);
  }

  starting.catch(async (error: unknown) => {
    startError = (error as Error).message ?? String(error);
    log.fatal({ err: error }, "llmlb failed to start");
    tray?.refresh();
    // Quitting during start-up: the drain takes it from here.
    if (quitting.phase !== "running") return;
    await core?.dispose().catch(() => undefined);
    if (error instanceof DataDirInUseError && error.url) await offerRunningServer(error.url, error.message);
    else dialog.showErrorBox("llmlb could not start", startError);
    tray?.dispose();
    app.exit(1);
  });
}

/**
 * Before anything runs: a GUI app may have no standard error to print to, and on Linux an error box
 * before ready goes only there, so it waits for ready.
 */
function failBeforeStart(error: unknown): void {
  void app.whenReady().then(() => {
    dialog.showErrorBox("llmlb could not start", (error as Error).message ?? String(error));
    app.exit(2);
  });
}

function main(): void {
  let config: Config;
  try {
    config = loadDesktopConfig(process.env);
    // One data directory, one app: the lock, the log and Chromium's profile live in it (set before ready).
    ensureDataDir(config.dataDir);
  } catch (error) {
    failBeforeStart(error);
    return;
  }
  app.setPath("userData", electronProfileDir(config.dataDir));
  if (!app.requestSingleInstanceLock()) {
    // The running copy gets second-instance and shows its window; its log is its own.
    app.quit();
    return;
  }
  const logFile = openLogFile(path.join(config.dataDir, dataFiles.log));
  const log = createLogger({ level: config.logLevel, destination: logFile.destination });
  log.info({ version: app.getVersion(), electron: process.versions.electron }, "llmlb desktop starting");
  run(config, log, logFile);
}

main();

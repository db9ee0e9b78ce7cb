import { app, BrowserWindow, session, shell } from "electron";
import { dashboardLink } from "../contract/dashboardLink";
import type { Logger } from "../shared/logger";
import { allowPermission, navigationDecision, windowOpenDecision, windowOptions } from "./windowOptions";

export interface DashboardWindowOptions {
  preload: string;
  icon?: string;
  log: Logger;
}

export interface DashboardWindow {
  /** Shows the dashboard: focuses the open window, or opens one. */
  show(dashboardUrl: string, adminToken: string): Promise<void>;
  /** Closes the window, if open. */
  close(): void;
}

/** The one dashboard window, with every navigation and permission guard on its session and contents. */
export function createDashboardWindow(options: DashboardWindowOptions): DashboardWindow {
  const { log } = options;
  let window: BrowserWindow | undefined;
  let guarded: string | undefined;

  function guardSession(dashboardUrl: string): void {
    if (guarded === dashboardUrl) return;
    guarded = dashboardUrl;
    const { defaultSession } = session;
    defaultSession.setPermissionRequestHandler((contents, permission, callback) =>
      callback(allowPermission(permission, contents.getURL(), dashboardUrl)),
    );
    defaultSession.setPermissionCheckHandler((_contents, permission, origin) =>
      allowPermission(permission, origin, dashboardUrl),
    );
  }

  return {
    async show(dashboardUrl, adminToken) {
      if (process.platform === "darwin") void app.dock?.show();
      if (window && !window.isDestroyed()) {
        if (window.isMinimized()) window.restore();
        window.show();
        window.focus();
        return;
      }
      guardSession(dashboardUrl);
      const opened = new BrowserWindow(windowOptions({ preload: options.preload, icon: options.icon }));
      window = opened;
      const contents = opened.webContents;
      contents.setWindowOpenHandler(({ url }) => {
        if (windowOpenDecision(url) === "open-external") void shell.openExternal(url);
        return { action: "deny" };
      });
      // Every frame's navigations and redirects; the URL is the event's (the positional one is deprecated).
      const guard = (event: Electron.Event<{ url: string; isMainFrame: boolean }>) => {
        const decision = navigationDecision(event.url, dashboardUrl);
        if (decision === "allow") return;
        event.preventDefault();
        // The page sends the user to the browser; a frame within it does not.
        if (decision === "open-external" && event.isMainFrame) void shell.openExternal(event.url);
      };
      contents.on("will-frame-navigate", guard);
      contents.on("will-redirect", guard);
      contents.on("will-attach-webview", (event) => event.preventDefault());
      opened.once("ready-to-show", () => opened.show());
      opened.on("closed", () => {
        if (window === opened) window = undefined;
      });
      try {
        // The page takes the token from the link's fragment, as from the link `llmlb serve` prints.
        await opened.loadURL(dashboardLink(dashboardUrl, adminToken));
      } catch (error) {
        // Electron's message names the address loaded, token and all: not for the log file.
        const reason = String((error as Error).message).replace(/#token=[^\s'"]*/g, "#token=…");
        log.warn({ reason }, "the dashboard did not load");
      }
    },
    close() {
      if (window && !window.isDestroyed()) window.close();
    },
  };
}

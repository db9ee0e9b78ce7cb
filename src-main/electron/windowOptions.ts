import type { BrowserWindowConstructorOptions } from "electron";

/** The dashboard window: the renderer is a web page with no Node access at all. */
export function windowOptions(preloadPath: string): BrowserWindowConstructorOptions {
  return {
    width: 1200,
    height: 800,
    minWidth: 720,
    minHeight: 480,
    title: "llmlb",
    show: false,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  };
}

/** The window may only show the dashboard's own origin; anything else opens in the system browser. */
export function isDashboardUrl(target: string, dashboardUrl: string): boolean {
  try {
    return new URL(target).origin === new URL(dashboardUrl).origin;
  } catch {
    return false;
  }
}

/** Links the system browser may open: web pages only, never file: or custom schemes. */
export function isExternalWebUrl(target: string): boolean {
  try {
    const { protocol } = new URL(target);
    return protocol === "https:" || protocol === "http:";
  } catch {
    return false;
  }
}

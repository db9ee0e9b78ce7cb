import type { BrowserWindowConstructorOptions } from "electron";

export interface WindowOptionsInput {
  preload: string;
  /** The window's icon (Linux and Windows; macOS takes the app's). Default: Electron's. */
  icon?: string;
}

/** The dashboard window: the renderer is a web page with no Node access at all. */
export function windowOptions(input: WindowOptionsInput): BrowserWindowConstructorOptions {
  return {
    width: 1200,
    height: 800,
    minWidth: 720,
    minHeight: 480,
    title: "llmlb",
    // Shown on ready-to-show, so the window never flashes blank.
    show: false,
    ...(input.icon ? { icon: input.icon } : {}),
    webPreferences: {
      preload: input.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webviewTag: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
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

export type NavigationDecision = "allow" | "open-external" | "deny";

/** A navigation in the window: the dashboard stays, web links go to the system browser, the rest nowhere. */
export function navigationDecision(target: string, dashboardUrl: string): NavigationDecision {
  if (isDashboardUrl(target, dashboardUrl)) return "allow";
  return isExternalWebUrl(target) ? "open-external" : "deny";
}

/** `window.open` and target=_blank never open an Electron window: web links go to the system browser. */
export function windowOpenDecision(target: string): Exclude<NavigationDecision, "allow"> {
  return isExternalWebUrl(target) ? "open-external" : "deny";
}

/**
 * Web permissions (camera, notifications, geolocation, …) are refused; the dashboard only needs to
 * write to the clipboard (its Copy buttons), and only its own origin may.
 */
export function allowPermission(permission: string, requestingUrl: string, dashboardUrl: string): boolean {
  return permission === "clipboard-sanitized-write" && isDashboardUrl(requestingUrl, dashboardUrl);
}

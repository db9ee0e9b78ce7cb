import path from "node:path";
import type { Config } from "../core/config";
import { resolveConfigWithFile } from "../core/configFile";

/**
 * The desktop app's configuration, resolved as `llmlb serve` resolves it (defaults < `<dataDir>/config.json`
 * < environment), so the port and cache folder saved from Settings apply at the next start here too.
 */
export const loadDesktopConfig = (env: Record<string, string | undefined>): Config =>
  resolveConfigWithFile({ env });

/**
 * A port in use does not keep the app from starting (a user cannot restart it with --port): it serves
 * on another. Only a port set in the environment for this start is kept to.
 */
export const whenPortTaken = (config: Pick<Config, "overridden">): "fail" | "use-another" =>
  config.overridden.includes("port") ? "fail" : "use-another";

/**
 * Chromium's own profile (cookies, caches) lives in the data directory, so one data directory is one app:
 * the single-instance lock is per profile, and a second copy on another data directory (a test's) runs
 * beside it.
 */
export const electronProfileDir = (dataDir: string) => path.join(dataDir, "electron");

/** Where the icons are: `resources/` in the source tree, `<resources>/icons` in a packaged app. */
export function iconsDir(options: { packaged: boolean; appPath: string; resourcesPath: string }): string {
  return options.packaged
    ? path.join(options.resourcesPath, "icons")
    : path.join(options.appPath, "resources");
}

/**
 * macOS: a template image (black and clear; the menu bar tints it for light and dark). Elsewhere a
 * coloured one, since taskbars and panels may be light or dark. Electron picks the @2x file itself.
 */
export function trayIconFile(platform: NodeJS.Platform): string {
  return platform === "darwin" ? "trayTemplate.png" : "tray.png";
}

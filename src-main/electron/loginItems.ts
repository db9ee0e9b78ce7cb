import fs from "node:fs";
import path from "node:path";
import type { LoginItem } from "../core/settings/settingsService";

/** The argument a start at login passes, so the app starts in the tray without opening its window. */
export const atLoginArg = "--llmlb-at-login";

/** Electron's app, as far as start at login needs it (macOS and Windows). */
export interface LoginItemSettingsApi {
  getLoginItemSettings(options?: { args?: string[] }): { openAtLogin: boolean; wasOpenedAtLogin?: boolean };
  setLoginItemSettings(settings: { openAtLogin: boolean; args?: string[] }): void;
}

export type LoginItemKind = "electron" | "xdg-autostart" | "none";

/**
 * How this copy starts at login: Electron's login items on macOS and Windows, an XDG autostart entry on
 * Linux. A development run (not packaged) has none: it would register the bare Electron binary.
 */
export function loginItemKind(platform: NodeJS.Platform, packaged: boolean): LoginItemKind {
  if (!packaged) return "none";
  if (platform === "darwin" || platform === "win32") return "electron";
  if (platform === "linux" || platform === "freebsd" || platform === "openbsd") return "xdg-autostart";
  return "none";
}

/** macOS and Windows: the OS's own login items. Windows passes `atLoginArg`; macOS says wasOpenedAtLogin. */
export function createElectronLoginItem(app: LoginItemSettingsApi, platform: NodeJS.Platform): LoginItem {
  const args = platform === "win32" ? [atLoginArg] : undefined;
  return {
    get: () => app.getLoginItemSettings(args ? { args } : undefined).openAtLogin,
    set: (enabled) => app.setLoginItemSettings({ openAtLogin: enabled, ...(args ? { args } : {}) }),
  };
}

/** Quotes one argument of a desktop entry's Exec key (the Desktop Entry Specification's rules). */
export function desktopExecArg(arg: string): string {
  return `"${arg.replace(/(["`$\\])/g, "\\$1").replace(/%/g, "%%")}"`;
}

export interface XdgAutostartOptions {
  /** `$XDG_CONFIG_HOME/autostart/llmlb.desktop`. */
  file: string;
  /** The program to start: the AppImage (`$APPIMAGE`) or the installed executable. */
  executable: string;
}

/** Linux: a desktop entry in the XDG autostart folder, which desktop sessions start at login. */
export function createXdgAutostartLoginItem(options: XdgAutostartOptions): LoginItem {
  const { file, executable } = options;
  return {
    get() {
      try {
        return !/^Hidden\s*=\s*true\s*$/m.test(fs.readFileSync(file, "utf8"));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw error;
      }
    },
    set(enabled) {
      if (!enabled) {
        fs.rmSync(file, { force: true });
        return;
      }
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const entry = [
        "[Desktop Entry]",
        "Type=Application",
        "Name=llmlb",
        "Comment=Local OpenAI-compatible service for the GPUs of this machine",
        `Exec=${desktopExecArg(executable)} ${atLoginArg}`,
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
        "",
      ].join("\n");
      fs.writeFileSync(file, entry, { mode: 0o644 });
    },
  };
}

/** The XDG autostart folder: `$XDG_CONFIG_HOME/autostart`, else `~/.config/autostart`. */
export function xdgAutostartFile(env: Record<string, string | undefined>, home: string): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(home, ".config"), "autostart", "llmlb.desktop");
}

/** Whether this start came from a login item: the app then stays in the tray. */
export function startedAtLogin(argv: readonly string[], wasOpenedAtLogin: boolean | undefined): boolean {
  return argv.includes(atLoginArg) || wasOpenedAtLogin === true;
}

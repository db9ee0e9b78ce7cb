import fs from "node:fs";
import path from "node:path";
import { AppError } from "../shared/errors";
import type { LoginItem } from "../core/settings/settingsService";

/** The argument a start at login passes, so the app starts in the tray without opening its window. */
export const atLoginArg = "--llmlb-at-login";

/** Electron's app, as far as start at login needs it (Windows). */
export interface LoginItemSettingsApi {
  getLoginItemSettings(options?: { args?: string[] }): { openAtLogin: boolean };
  setLoginItemSettings(settings: { openAtLogin: boolean; args?: string[] }): void;
}

export type LoginItemKind = "electron" | "launch-agent" | "xdg-autostart" | "none";

/**
 * How this copy starts at login: a launch agent on macOS, Electron's login items on Windows, an XDG
 * autostart entry on Linux. Each passes `atLoginArg`: macOS 13+ login items (SMAppService) take no
 * arguments and report no `wasOpenedAtLogin`, so there a launch agent does it. A development run (not
 * packaged) has none: it would register the bare Electron binary.
 */
export function loginItemKind(platform: NodeJS.Platform, packaged: boolean): LoginItemKind {
  if (!packaged) return "none";
  if (platform === "darwin") return "launch-agent";
  if (platform === "win32") return "electron";
  if (platform === "linux" || platform === "freebsd" || platform === "openbsd") return "xdg-autostart";
  return "none";
}

/** Windows: the OS's own login items (the registry's Run key), which pass `atLoginArg`. */
export function createElectronLoginItem(app: LoginItemSettingsApi): LoginItem {
  const args = [atLoginArg];
  return {
    get: () => app.getLoginItemSettings({ args }).openAtLogin,
    set: (enabled) => app.setLoginItemSettings({ openAtLogin: enabled, args }),
  };
}

const launchAgentLabel = "dev.llmlb.desktop";

/** `~/Library/LaunchAgents/dev.llmlb.desktop.plist`: what launchd starts at login. */
export function launchAgentFile(home: string): string {
  return path.join(home, "Library", "LaunchAgents", `${launchAgentLabel}.plist`);
}

export interface LaunchAgentOptions {
  /** `launchAgentFile(home)`. */
  file: string;
  /** The app's executable inside its bundle (`…/llmlb.app/Contents/MacOS/llmlb`). */
  executable: string;
  /**
   * Electron's login items, which earlier versions used: an item left there is counted as on, and
   * removed whenever start at login is set (the agent replaces it). Default: none.
   */
  legacy?: LoginItemSettingsApi;
}

const xmlText = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * macOS: a launch agent that opens the app bundle at login (through `open`, as a click in the Finder
 * would) with `atLoginArg`.
 */
export function createLaunchAgentLoginItem(options: LaunchAgentOptions): LoginItem {
  const { file, legacy } = options;
  const bundle = path.resolve(options.executable, "..", "..", "..");
  return {
    get: () => fs.existsSync(file) || (legacy?.getLoginItemSettings().openAtLogin ?? false),
    set(enabled) {
      legacy?.setLoginItemSettings({ openAtLogin: false });
      if (!enabled) {
        fs.rmSync(file, { force: true });
        return;
      }
      // Run from a disk image, or from where macOS moved a downloaded app (App Translocation): that
      // path is gone after the next login.
      if (bundle.startsWith("/Volumes/") || bundle.includes("/AppTranslocation/")) {
        throw new AppError(
          "settings.read_only",
          `llmlb runs from ${bundle}, which will not be there at the next login: move it to the Applications folder first.`,
          { param: "start_at_login" },
        );
      }
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const args = ["/usr/bin/open", "-a", bundle, "--args", atLoginArg];
      const plist = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
        '<plist version="1.0">',
        "<dict>",
        "  <key>Label</key>",
        `  <string>${launchAgentLabel}</string>`,
        "  <key>ProgramArguments</key>",
        "  <array>",
        ...args.map((arg) => `    <string>${xmlText(arg)}</string>`),
        "  </array>",
        "  <key>RunAtLoad</key>",
        "  <true/>",
        "  <key>LimitLoadToSessionType</key>",
        "  <string>Aqua</string>",
        "</dict>",
        "</plist>",
        "",
      ].join("\n");
      fs.writeFileSync(file, plist, { mode: 0o644 });
    },
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
  /**
   * Chromium's own switches this start was given that a start at login needs too: `--no-sandbox`, which
   * an AppImage needs where AppArmor refuses unprivileged user namespaces (Ubuntu 23.10 and newer).
   * Default: none.
   */
  chromiumArgs?: readonly string[];
}

/** Linux: a desktop entry in the XDG autostart folder, which desktop sessions start at login. */
export function createXdgAutostartLoginItem(options: XdgAutostartOptions): LoginItem {
  const { file, executable } = options;
  const extra = (options.chromiumArgs ?? []).map((arg) => ` ${desktopExecArg(arg)}`).join("");
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
        `Exec=${desktopExecArg(executable)}${extra} ${atLoginArg}`,
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

/** The Chromium switches of this start that a start at login must repeat (see XdgAutostartOptions). */
export function chromiumArgsToKeep(argv: readonly string[]): string[] {
  return argv.filter((arg) => arg === "--no-sandbox");
}

/** Whether this start came from a login item: the app then stays in the tray. */
export function startedAtLogin(argv: readonly string[]): boolean {
  return argv.includes(atLoginArg);
}

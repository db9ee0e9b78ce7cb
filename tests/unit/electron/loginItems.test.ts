import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  atLoginArg,
  createElectronLoginItem,
  createLaunchAgentLoginItem,
  chromiumArgsToKeep,
  createXdgAutostartLoginItem,
  launchAgentFile,
  desktopExecArg,
  loginItemKind,
  startedAtLogin,
  xdgAutostartFile,
  type LoginItemSettingsApi,
} from "../../../src-main/electron/loginItems";
import { tempDirForEachTest } from "../../helpers/tempDir";

describe("how the app starts at login", () => {
  it("uses a launch agent on macOS, the OS's login items on Windows, XDG autostart on Linux, nothing unpackaged", () => {
    expect(loginItemKind("darwin", true)).toBe("launch-agent");
    expect(loginItemKind("win32", true)).toBe("electron");
    expect(loginItemKind("linux", true)).toBe("xdg-autostart");
    for (const platform of ["darwin", "win32", "linux"] as const)
      expect(loginItemKind(platform, false)).toBe("none");
  });

  it("knows a start at login by its argument, which every kind passes (macOS 13+ reports no wasOpenedAtLogin)", () => {
    expect(startedAtLogin(["/opt/llmlb/llmlb", atLoginArg])).toBe(true);
    expect(startedAtLogin(["/Applications/llmlb.app/Contents/MacOS/llmlb"])).toBe(false);
  });
});

describe("Electron's login items (Windows)", () => {
  function fakeApp() {
    const calls: unknown[] = [];
    let openAtLogin = false;
    const app: LoginItemSettingsApi = {
      getLoginItemSettings: (options) => {
        calls.push(["get", options]);
        return { openAtLogin };
      },
      setLoginItemSettings: (settings) => {
        calls.push(["set", settings]);
        openAtLogin = settings.openAtLogin;
      },
    };
    return { app, calls };
  }

  it("turns start at login on and off", () => {
    const { app } = fakeApp();
    const item = createElectronLoginItem(app);
    expect(item.get()).toBe(false);
    item.set(true);
    expect(item.get()).toBe(true);
    item.set(false);
    expect(item.get()).toBe(false);
  });

  it("passes (and asks with) the at-login argument", () => {
    const { app, calls } = fakeApp();
    const item = createElectronLoginItem(app);
    item.set(true);
    item.get();
    expect(calls).toEqual([
      ["set", { openAtLogin: true, args: [atLoginArg] }],
      ["get", { args: [atLoginArg] }],
    ]);
  });
});

describe("macOS launch agent", () => {
  const dir = tempDirForEachTest("llmlb-launch-agent-");

  it("writes and removes an agent that opens the app bundle at login with the at-login argument", () => {
    const file = path.join(dir.path, "LaunchAgents", "dev.llmlb.desktop.plist");
    const item = createLaunchAgentLoginItem({
      file,
      executable: "/Applications/llmlb & co.app/Contents/MacOS/llmlb",
    });
    expect(item.get()).toBe(false);
    item.set(true);
    expect(item.get()).toBe(true);
    const plist = fs.readFileSync(file, "utf8");
    expect(plist).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE plist/);
    expect(plist).toContain("<key>Label</key>\n  <string>dev.llmlb.desktop</string>");
    expect(plist).toContain("<key>RunAtLoad</key>\n  <true/>");
    const args = [...plist.matchAll(/^\s*<string>(.*)<\/string>$/gm)].map((m) => m[1]);
    expect(args).toEqual([
      "dev.llmlb.desktop",
      "/usr/bin/open",
      "-a",
      "/Applications/llmlb &amp; co.app",
      "--args",
      atLoginArg,
      "Aqua",
    ]);
    item.set(false);
    expect(item.get()).toBe(false);
    expect(fs.existsSync(file)).toBe(false);
  });

  it("counts, and replaces, a login item an earlier version left with Electron", () => {
    const file = path.join(dir.path, "dev.llmlb.desktop.plist");
    let openAtLogin = true;
    const legacy: LoginItemSettingsApi = {
      getLoginItemSettings: () => ({ openAtLogin }),
      setLoginItemSettings: (settings) => void (openAtLogin = settings.openAtLogin),
    };
    const item = createLaunchAgentLoginItem({
      file,
      executable: "/Applications/llmlb.app/Contents/MacOS/llmlb",
      legacy,
    });
    expect(item.get()).toBe(true);
    item.set(true);
    expect(openAtLogin).toBe(false);
    expect(fs.existsSync(file)).toBe(true);
    item.set(false);
    expect(item.get()).toBe(false);
  });

  it("refuses to start at login from a disk image or a translocated download, saying to move it", () => {
    const file = path.join(dir.path, "dev.llmlb.desktop.plist");
    for (const executable of [
      "/Volumes/llmlb 1.0/llmlb.app/Contents/MacOS/llmlb",
      "/private/var/folders/x/T/AppTranslocation/ABC/d/llmlb.app/Contents/MacOS/llmlb",
    ]) {
      expect(() => createLaunchAgentLoginItem({ file, executable }).set(true)).toThrow(/Applications folder/);
    }
    expect(fs.existsSync(file)).toBe(false);
  });

  it("lives in ~/Library/LaunchAgents", () => {
    expect(launchAgentFile("/Users/me")).toBe(
      path.join("/Users/me", "Library", "LaunchAgents", "dev.llmlb.desktop.plist"),
    );
  });
});

describe("XDG autostart", () => {
  const dir = tempDirForEachTest("llmlb-autostart-");

  it("writes and removes a desktop entry that starts the app in the tray", () => {
    const file = path.join(dir.path, "autostart", "llmlb.desktop");
    const item = createXdgAutostartLoginItem({ file, executable: "/home/me/Apps/llmlb 1.0.AppImage" });
    expect(item.get()).toBe(false);
    item.set(true);
    expect(item.get()).toBe(true);
    const entry = fs.readFileSync(file, "utf8");
    expect(entry).toMatch(/^\[Desktop Entry\]\n/);
    expect(entry).toContain("Type=Application\n");
    expect(entry).toContain(`Exec="/home/me/Apps/llmlb 1.0.AppImage" ${atLoginArg}\n`);
    item.set(false);
    expect(item.get()).toBe(false);
    expect(fs.existsSync(file)).toBe(false);
  });

  it("repeats --no-sandbox where this start had it (an AppImage on Ubuntu 23.10 and newer)", () => {
    const file = path.join(dir.path, "llmlb.desktop");
    const argv = ["/tmp/.mount_llmlb/llmlb", "--no-sandbox", "--enable-logging"];
    createXdgAutostartLoginItem({
      file,
      executable: "/home/me/llmlb.AppImage",
      chromiumArgs: chromiumArgsToKeep(argv),
    }).set(true);
    expect(fs.readFileSync(file, "utf8")).toContain(
      `Exec="/home/me/llmlb.AppImage" "--no-sandbox" ${atLoginArg}\n`,
    );
  });

  it("counts an entry the user hid as off", () => {
    const file = path.join(dir.path, "llmlb.desktop");
    fs.writeFileSync(file, "[Desktop Entry]\nType=Application\nExec=llmlb\nHidden=true\n");
    expect(createXdgAutostartLoginItem({ file, executable: "llmlb" }).get()).toBe(false);
  });

  it("quotes Exec arguments as the Desktop Entry Specification says", () => {
    expect(desktopExecArg("/opt/llmlb")).toBe('"/opt/llmlb"');
    expect(desktopExecArg('/a "b" $c `d` \\e 100%')).toBe('"/a \\"b\\" \\$c \\`d\\` \\\\e 100%%"');
  });

  it("lives in $XDG_CONFIG_HOME/autostart, else ~/.config/autostart", () => {
    expect(xdgAutostartFile({ XDG_CONFIG_HOME: "/x" }, "/home/me")).toBe(
      path.join("/x", "autostart", "llmlb.desktop"),
    );
    expect(xdgAutostartFile({}, "/home/me")).toBe(
      path.join("/home/me", ".config", "autostart", "llmlb.desktop"),
    );
  });
});

import type { MenuItemConstructorOptions } from "electron";
import { describe, expect, it } from "vitest";
import { appMenuTemplate } from "../../../src-main/electron/appMenu";

function items(menu: MenuItemConstructorOptions[]): MenuItemConstructorOptions[] {
  return menu.flatMap((item) => [item, ...(Array.isArray(item.submenu) ? items(item.submenu) : [])]);
}

function menuFor(platform: NodeJS.Platform, development = false) {
  const calls: string[] = [];
  const menu = appMenuTemplate({
    platform,
    development,
    openDashboard: () => calls.push("open"),
    quit: () => calls.push("quit"),
  });
  const click = (label: string) => {
    const item = items(menu).find((entry) => entry.label === label);
    if (!item?.click) throw new Error(`no item ${label}`);
    (item.click as () => void)();
  };
  return { menu, calls, click };
}

describe("the window's menu", () => {
  it.each(["darwin", "win32", "linux"] as const)(
    "on %s has a Quit (Cmd/Ctrl+Q) that quits through the drain",
    (platform) => {
      const { menu, calls, click } = menuFor(platform);
      const quit = items(menu).find((item) => item.label === "Quit llmlb");
      expect(quit?.accelerator).toBe("CmdOrCtrl+Q");
      expect(quit?.role).toBeUndefined();
      click("Quit llmlb");
      click("Open dashboard");
      expect(calls).toEqual(["quit", "open"]);
      // Copy and paste in the window's fields (macOS has none without an Edit menu).
      expect(menu.some((item) => item.role === "editMenu")).toBe(true);
    },
  );

  it("puts the app's own menu first on macOS", () => {
    const { menu } = menuFor("darwin");
    expect(menu[0]?.label).toBe("llmlb");
    expect(
      items(menu[0]!.submenu as MenuItemConstructorOptions[]).map((item) => item.label ?? item.role),
    ).toContain("Quit llmlb");
  });

  it("offers the developer tools only in a development run", () => {
    const roles = (development: boolean) =>
      items(menuFor("linux", development).menu).map((item) => item.role);
    expect(roles(false)).not.toContain("toggleDevTools");
    expect(roles(true)).toContain("toggleDevTools");
  });
});

import type { MenuItemConstructorOptions } from "electron";

export interface AppMenuOptions {
  platform: NodeJS.Platform;
  /** A development run: the developer tools are in the View menu. */
  development: boolean;
  openDashboard(): void;
  /** Quits through the drain, as the tray's Quit does. */
  quit(): void;
}

/**
 * The window's menu bar: a Quit that is there without a tray (GNOME without the AppIndicator
 * extension shows none), and the Edit menu without which macOS has no copy and paste in the window.
 */
export function appMenuTemplate(options: AppMenuOptions): MenuItemConstructorOptions[] {
  const quit: MenuItemConstructorOptions = {
    label: "Quit llmlb",
    accelerator: "CmdOrCtrl+Q",
    click: () => options.quit(),
  };
  const openDashboard: MenuItemConstructorOptions = {
    label: "Open dashboard",
    click: () => options.openDashboard(),
  };
  const view: MenuItemConstructorOptions = {
    label: "View",
    submenu: [
      { role: "reload" },
      ...(options.development ? [{ role: "toggleDevTools" } as const] : []),
      { type: "separator" },
      { role: "resetZoom" },
      { role: "zoomIn" },
      { role: "zoomOut" },
      { type: "separator" },
      { role: "togglefullscreen" },
    ],
  };
  if (options.platform === "darwin") {
    return [
      {
        label: "llmlb",
        submenu: [
          { role: "about" },
          { type: "separator" },
          { role: "hide" },
          { role: "hideOthers" },
          { role: "unhide" },
          { type: "separator" },
          quit,
        ],
      },
      { label: "File", submenu: [openDashboard, { role: "close" }] },
      { role: "editMenu" },
      view,
      { role: "windowMenu" },
    ];
  }
  return [
    { label: "&File", submenu: [openDashboard, { role: "close" }, { type: "separator" }, quit] },
    { role: "editMenu" },
    view,
  ];
}

import { Menu, nativeImage, Tray, type MenuItemConstructorOptions } from "electron";
import { throttle } from "./throttle";
import { buildTrayMenu, trayTooltip, type MenuItemSpec, type TrayAction, type TrayState } from "./trayMenu";

export interface AppTrayOptions {
  /** The icon file (Electron takes the @2x beside it on high-density screens). */
  icon: string;
  /** The state to show now. */
  state(): TrayState;
  onAction(action: TrayAction): void;
  /** The menu is rebuilt at most this often. Default: 1000 ms. */
  refreshMs?: number;
}

export interface AppTray {
  /** Asks for a rebuild (throttled); call it on every core event. */
  refresh(): void;
  dispose(): void;
}

function toTemplate(
  items: MenuItemSpec[],
  onAction: (action: TrayAction) => void,
): MenuItemConstructorOptions[] {
  return items.map((item) => {
    if (item.type === "separator") return { type: "separator" };
    const { action } = item;
    return { label: item.label, enabled: item.enabled, ...(action ? { click: () => onAction(action) } : {}) };
  });
}

/** The menu bar / notification area icon: the service's status and what to do with it. */
export function createAppTray(options: AppTrayOptions): AppTray {
  const tray = new Tray(nativeImage.createFromPath(options.icon));
  let shown: string | undefined;
  function render(): void {
    if (tray.isDestroyed()) return;
    const state = options.state();
    const items = buildTrayMenu(state);
    // Download progress changes nothing the menu shows most of the time: rebuild only on a change.
    const key = JSON.stringify(items);
    if (key === shown) return;
    shown = key;
    tray.setContextMenu(Menu.buildFromTemplate(toTemplate(items, options.onAction)));
    tray.setToolTip(trayTooltip(state));
  }
  // Windows opens the dashboard on a click (the menu is on the right button); macOS and Linux show the menu.
  if (process.platform === "win32") tray.on("click", () => options.onAction({ type: "open-dashboard" }));
  const refresh = throttle(render, options.refreshMs ?? 1000);
  render();
  return {
    refresh,
    dispose() {
      refresh.dispose();
      if (!tray.isDestroyed()) tray.destroy();
    },
  };
}

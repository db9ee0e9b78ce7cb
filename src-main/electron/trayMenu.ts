import type { Status } from "../contract";

/** What the tray shows, gathered from the core (or its absence while it starts). */
export interface TrayState {
  /** The core is not listening yet. */
  starting?: boolean;
  /** The core failed to start; the message says why. */
  error?: string;
  /** Quitting: running requests finish and the workers stop (up to 20 s). */
  stopping?: boolean;
  modelsReady: number;
  modelsTotal: number;
  nodesOnline: number;
  paused: boolean;
  /** The server's base URL (http://127.0.0.1:port), once listening. */
  apiUrl?: string;
  /** The Hugging Face cache folder the workers download into. */
  cacheDir?: string;
}

/** What a menu item does when clicked; tray.ts maps each to an Electron call. */
export type TrayAction =
  | { type: "open-dashboard" }
  | { type: "copy-text"; text: string }
  | { type: "set-paused"; paused: boolean }
  | { type: "open-path"; path: string }
  | { type: "quit" };

/** One menu item, as plain data (Electron's MenuItemConstructorOptions without the click handler). */
export type MenuItemSpec =
  { type: "separator" } | { type: "normal"; label: string; enabled: boolean; action?: TrayAction };

const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

/** The one line that sums up the service: the menu's first item and the tray's tooltip. */
export function trayStatusLine(state: TrayState): string {
  if (state.error) return "Failed to start";
  if (state.stopping) return "Stopping…";
  if (state.starting) return "Starting…";
  const models =
    state.modelsTotal === 0
      ? "No models"
      : state.modelsReady === state.modelsTotal
        ? `${plural(state.modelsReady, "model", "models")} ready`
        : `${state.modelsReady} of ${plural(state.modelsTotal, "model", "models")} ready`;
  const line = `${models} · ${plural(state.nodesOnline, "node", "nodes")}`;
  return state.paused ? `Paused · ${line}` : line;
}

/** The tray's tooltip: the app's name and the status line. */
export function trayTooltip(state: TrayState): string {
  return `llmlb: ${trayStatusLine(state)}`;
}

/** The tray menu for a state, as plain item descriptions. */
export function buildTrayMenu(state: TrayState): MenuItemSpec[] {
  const running = !state.starting && !state.stopping && !state.error && state.apiUrl !== undefined;
  const items: MenuItemSpec[] = [{ type: "normal", label: trayStatusLine(state), enabled: false }];
  if (state.error) items.push({ type: "normal", label: state.error.slice(0, 120), enabled: false });
  items.push(
    { type: "separator" },
    { type: "normal", label: "Open dashboard", enabled: running, action: { type: "open-dashboard" } },
    {
      type: "normal",
      label: "Copy API URL",
      enabled: running,
      ...(state.apiUrl ? { action: { type: "copy-text", text: `${state.apiUrl}/v1` } } : {}),
    },
    { type: "separator" },
    {
      type: "normal",
      label: state.paused ? "Resume serving" : "Pause serving",
      enabled: running,
      action: { type: "set-paused", paused: !state.paused },
    },
    {
      type: "normal",
      label: "Open model cache folder",
      enabled: state.cacheDir !== undefined,
      ...(state.cacheDir ? { action: { type: "open-path", path: state.cacheDir } } : {}),
    },
    { type: "separator" },
    { type: "normal", label: "Quit llmlb", enabled: true, action: { type: "quit" } },
  );
  return items;
}

/** The tray's state from the core's status (GET /v0/status's shape). */
export function trayStateFromStatus(
  status: Pick<Status, "models" | "nodes" | "paused">,
  apiUrl: string | undefined,
  cacheDir: string | undefined,
): TrayState {
  return {
    modelsReady: status.models.ready,
    modelsTotal: status.models.total,
    nodesOnline: status.nodes.online,
    paused: status.paused,
    ...(apiUrl ? { apiUrl } : { starting: true }),
    ...(cacheDir ? { cacheDir } : {}),
  };
}

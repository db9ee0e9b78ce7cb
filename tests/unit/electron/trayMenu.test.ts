import { describe, expect, it } from "vitest";
import {
  buildTrayMenu,
  trayStateFromStatus,
  trayStatusLine,
  trayTooltip,
  type MenuItemSpec,
  type TrayState,
} from "../../../src-main/electron/trayMenu";

const running: TrayState = {
  modelsReady: 2,
  modelsTotal: 2,
  nodesOnline: 1,
  paused: false,
  apiUrl: "http://127.0.0.1:8080",
  cacheDir: "/home/me/.cache/huggingface/hub",
};

type Item = Extract<MenuItemSpec, { type: "normal" }>;
const item = (items: MenuItemSpec[], label: string): Item => {
  const found = items.find((entry): entry is Item => entry.type === "normal" && entry.label === label);
  if (!found) throw new Error(`no item "${label}" in ${JSON.stringify(items)}`);
  return found;
};
const labels = (items: MenuItemSpec[]) => items.map((entry) => (entry.type === "normal" ? entry.label : "—"));

describe("tray status line", () => {
  it("counts ready models and online nodes, singular and plural", () => {
    expect(trayStatusLine(running)).toBe("2 models ready · 1 node");
    expect(trayStatusLine({ ...running, modelsReady: 1, modelsTotal: 1, nodesOnline: 2 })).toBe(
      "1 model ready · 2 nodes",
    );
    expect(trayStatusLine({ ...running, modelsReady: 1, modelsTotal: 3, nodesOnline: 0 })).toBe(
      "1 of 3 models ready · 0 nodes",
    );
    expect(trayStatusLine({ ...running, modelsReady: 0, modelsTotal: 0 })).toBe("No models · 1 node");
  });

  it("says Paused when serving is paused", () => {
    expect(trayStatusLine({ ...running, paused: true })).toBe("Paused · 2 models ready · 1 node");
  });

  it("says Starting… before the core listens, and Failed to start after an error", () => {
    const starting = { ...running, apiUrl: undefined, starting: true };
    expect(trayStatusLine(starting)).toBe("Starting…");
    expect(trayStatusLine({ ...starting, starting: false, error: "port 8080 in use" })).toBe(
      "Failed to start",
    );
  });

  it("is the tooltip too", () => {
    expect(trayTooltip(running)).toBe("llmlb: 2 models ready · 1 node");
  });
});

describe("tray menu", () => {
  it("opens with the status line, disabled, then the actions, Quit last", () => {
    const items = buildTrayMenu(running);
    expect(items[0]).toEqual({ type: "normal", label: "2 models ready · 1 node", enabled: false });
    expect(labels(items)).toEqual([
      "2 models ready · 1 node",
      "—",
      "Open dashboard",
      "Copy API URL",
      "—",
      "Pause serving",
      "Open model cache folder",
      "—",
      "Quit llmlb",
    ]);
    for (const label of [
      "Open dashboard",
      "Copy API URL",
      "Pause serving",
      "Open model cache folder",
      "Quit llmlb",
    ])
      expect(item(items, label).enabled, label).toBe(true);
  });

  it("copies the /v1 URL", () => {
    expect(item(buildTrayMenu(running), "Copy API URL").action).toEqual({
      type: "copy-text",
      text: "http://127.0.0.1:8080/v1",
    });
  });

  it("flips Pause serving and Resume serving with the paused state", () => {
    expect(item(buildTrayMenu(running), "Pause serving").action).toEqual({
      type: "set-paused",
      paused: true,
    });
    const paused = buildTrayMenu({ ...running, paused: true });
    expect(labels(paused)).not.toContain("Pause serving");
    expect(item(paused, "Resume serving").action).toEqual({ type: "set-paused", paused: false });
  });

  it("opens the cache folder and the dashboard, and quits", () => {
    const items = buildTrayMenu(running);
    expect(item(items, "Open model cache folder").action).toEqual({
      type: "open-path",
      path: "/home/me/.cache/huggingface/hub",
    });
    expect(item(items, "Open dashboard").action).toEqual({ type: "open-dashboard" });
    expect(item(items, "Quit llmlb").action).toEqual({ type: "quit" });
  });

  it("while starting, offers only what works without the server: the cache folder and Quit", () => {
    const items = buildTrayMenu({ ...running, apiUrl: undefined, starting: true });
    expect(items[0]).toMatchObject({ label: "Starting…", enabled: false });
    for (const label of ["Open dashboard", "Copy API URL", "Pause serving"])
      expect(item(items, label).enabled, label).toBe(false);
    expect(item(items, "Copy API URL").action).toBeUndefined();
    expect(item(items, "Open model cache folder").enabled).toBe(true);
    expect(item(items, "Quit llmlb").enabled).toBe(true);
  });

  it("while quitting, says Stopping… and offers nothing that needs the server", () => {
    const items = buildTrayMenu({ ...running, stopping: true });
    expect(items[0]).toMatchObject({ label: "Stopping…", enabled: false });
    for (const label of ["Open dashboard", "Copy API URL", "Pause serving"])
      expect(item(items, label).enabled, label).toBe(false);
  });

  it("after a failed start, shows why under the status line", () => {
    const items = buildTrayMenu({ ...running, apiUrl: undefined, error: "listen EADDRINUSE 127.0.0.1:8080" });
    expect(labels(items).slice(0, 2)).toEqual(["Failed to start", "listen EADDRINUSE 127.0.0.1:8080"]);
    expect(item(items, "Open dashboard").enabled).toBe(false);
    expect(item(items, "Quit llmlb").enabled).toBe(true);
  });
});

describe("tray state from the core's status", () => {
  const status = { models: { total: 3, ready: 2 }, nodes: { total: 2, online: 1 }, paused: true };

  it("takes the counts and the paused flag", () => {
    expect(trayStateFromStatus(status, "http://127.0.0.1:9000", "/cache")).toEqual({
      modelsReady: 2,
      modelsTotal: 3,
      nodesOnline: 1,
      paused: true,
      apiUrl: "http://127.0.0.1:9000",
      cacheDir: "/cache",
    });
  });

  it("is starting while there is no URL yet", () => {
    expect(trayStateFromStatus(status, undefined, "/cache").starting).toBe(true);
  });
});

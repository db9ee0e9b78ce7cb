// A stand-in for the `electron` module, for running the built main process (out/main/main.js) under
// plain Node (see loader.mjs): it mirrors only the Electron API the shell uses, records what the
// shell does with it, and takes commands (click a tray item, close the window, launch again, let the
// device probe start) from the test over IPC. Workers run as real processes through the
// utility-process stand-in, which behaves as Electron's does (utilityProcess.mjs).
import { EventEmitter } from "node:events";
import fs from "node:fs";
import { createUtilityProcessStandIn } from "./utilityProcess.mjs";

const state = {
  tray: [],
  tooltip: undefined,
  clipboard: undefined,
  opened: [],
  external: [],
  windows: [],
};
let menu = [];
class App extends EventEmitter {
  isPackaged = false;
  dock = undefined;
  whenReady() {
    return new Promise((resolve) => setTimeout(resolve, 10));
  }
  setPath(name, value) {
    state[name + "Path"] = value;
  }
  requestSingleInstanceLock() {
    return true;
  }
  getVersion() {
    return "0.0.0-test";
  }
  getAppPath() {
    return process.env.FAKE_APP_PATH;
  }
  getLoginItemSettings() {
    return { openAtLogin: false };
  }
  setLoginItemSettings() {}
  quit() {
    let prevented = false;
    this.emit("before-quit", { preventDefault: () => (prevented = true) });
    if (prevented) return;
    this.emit("will-quit", { preventDefault() {} });
    process.exit(0);
  }
  exit(code) {
    process.exit(code);
  }
  relaunch(options) {
    console.log("relaunch " + JSON.stringify(options ?? {}));
  }
}
export const app = new App();
const windows = new Set();
export class BrowserWindow extends EventEmitter {
  constructor(options) {
    super();
    this.record = { options, shown: false, url: undefined, status: undefined, apiStatus: undefined };
    this.destroyed = false;
    windows.add(this);
    state.windows.push(this.record);
    this.webContents = Object.assign(new EventEmitter(), {
      setWindowOpenHandler: (handler) => (this.openHandler = handler),
      getURL: () => this.record.url,
    });
  }
  async loadURL(url) {
    this.record.url = url;
    // As the dashboard does: the page, then the API with the token the link's fragment carries.
    this.record.status = (await fetch(url)).status;
    const token = decodeURIComponent(new URL(url).hash.replace(/^#token=/, ""));
    const authorization = "Bearer " + token;
    this.record.apiStatus = (await fetch(new URL("/v0/status", url), { headers: { authorization } })).status;
    setTimeout(() => this.emit("ready-to-show"), 1);
  }
  show() {
    this.record.shown = true;
  }
  focus() {}
  restore() {}
  isMinimized() {
    return false;
  }
  isDestroyed() {
    return this.destroyed;
  }
  close() {
    this.destroyed = true;
    this.record.closed = true;
    windows.delete(this);
    this.emit("closed");
    if (windows.size === 0) app.emit("window-all-closed", { preventDefault() {} });
  }
}
export class Tray extends EventEmitter {
  constructor(image) {
    super();
    state.trayIcon = image.path;
    this.destroyed = false;
  }
  setContextMenu(template) {
    menu = template;
    state.tray = template.map((item) =>
      item.type === "separator" ? "-" : item.label + (item.enabled ? "" : " (disabled)"),
    );
  }
  setToolTip(text) {
    state.tooltip = text;
  }
  isDestroyed() {
    return this.destroyed;
  }
  destroy() {
    this.destroyed = true;
  }
}
const labels = (items) =>
  items.map((item) =>
    item.type === "separator"
      ? "-"
      : item.submenu
        ? { [item.label ?? item.role]: labels(item.submenu) }
        : (item.label ?? item.role),
  );
export const Menu = {
  buildFromTemplate: (template) => template,
  setApplicationMenu: (menu) => {
    state.appMenu = labels(menu);
  },
};
export const nativeImage = {
  createFromPath: (file) => {
    if (!fs.existsSync(file)) throw new Error("no icon at " + file);
    return { path: file };
  },
};
const handlers = {};
export const session = {
  defaultSession: {
    setPermissionRequestHandler: (handler) => (handlers.request = handler),
    setPermissionCheckHandler: (handler) => (handlers.check = handler),
  },
};
export const shell = {
  openExternal: async (url) => {
    state.external.push(url);
    console.log("openExternal " + url);
  },
  openPath: async (file) => {
    state.opened.push(file);
    return "";
  },
};
export const clipboard = {
  writeText: (text) => {
    state.clipboard = text;
  },
};
// What a dialog showed is printed too: a copy that exits at once cannot be asked over IPC.
export const dialog = {
  showErrorBox: (title, message) => {
    state.errorBox = title + ": " + message;
    console.log("errorBox " + state.errorBox);
  },
  showMessageBox: async (options) => {
    console.log("messageBox " + JSON.stringify(options));
    return { response: Number(process.env.FAKE_MESSAGE_BOX_RESPONSE ?? options.cancelId ?? 0) };
  },
};
// Only the asynchronous API: the synchronous one is deprecated and the shell must not use it.
export const safeStorage = {
  isAsyncEncryptionAvailable: async () => true,
  getSelectedStorageBackend: () => "gnome_libsecret",
  encryptStringAsync: async (text) => Buffer.from("fake:" + text),
  decryptStringAsync: async (data) => ({ result: data.toString().slice(5), shouldReEncrypt: false }),
};
// With FAKE_HOLD_PROBE=1 the device probe starts only when the test says so.
let releaseProbe;
const probeReleased = new Promise((resolve) => (releaseProbe = resolve));
export const utilityProcess = createUtilityProcessStandIn({
  hold: (modulePath, args) =>
    process.env.FAKE_HOLD_PROBE === "1" && args.includes("--probe-devices") ? probeReleased : undefined,
});
export const contextBridge = {};
export const powerMonitor = new EventEmitter();

const current = () => [...windows].at(-1);
const commands = {
  snapshot: () => state,
  click: (label) => {
    const item = menu.find((entry) => entry.label === label);
    if (!item || !item.click) throw new Error("no clickable tray item " + label);
    item.click();
  },
  navigate: (url) => {
    let prevented = false;
    const event = { url, isMainFrame: true, preventDefault: () => (prevented = true) };
    current().webContents.emit("will-frame-navigate", event);
    return prevented;
  },
  windowOpen: (url) => current().openHandler({ url }).action,
  permission: (permission, url) => handlers.check(null, permission, url),
  closeWindow: () => current().close(),
  secondInstance: () => app.emit("second-instance", {}, [], ""),
  releaseProbe: () => releaseProbe(),
};
process.on("message", ({ id, command, args }) => {
  try {
    process.send({ id, result: commands[command](...args) ?? null });
  } catch (error) {
    process.send({ id, error: String(error) });
  }
});

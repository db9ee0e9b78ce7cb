import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

/**
 * The built main process (out/main/main.js) under plain Node with a stand-in for the `electron` module:
 * no Electron binary here, so this checks the shell's wiring (core start, tray, window, quit and drain)
 * while electron.smoke.test.ts checks the real thing where Electron is installed. The stand-in mirrors
 * only the Electron API the shell uses, records what the shell does with it, and takes commands (click a
 * tray item, close the window, launch again) from the test over IPC.
 */
const fakeElectron = String.raw`
import { EventEmitter } from "node:events";
import fs from "node:fs";

const state = { tray: [], tooltip: undefined, clipboard: undefined, opened: [], external: [], cookie: undefined, windows: [] };
let menu = [];
class App extends EventEmitter {
  isPackaged = false;
  dock = undefined;
  whenReady() { return new Promise((resolve) => setTimeout(resolve, 10)); }
  setPath(name, value) { state[name + "Path"] = value; }
  requestSingleInstanceLock() { return true; }
  getVersion() { return "0.0.0-test"; }
  getAppPath() { return process.env.FAKE_APP_PATH; }
  getLoginItemSettings() { return { openAtLogin: false }; }
  setLoginItemSettings() {}
  quit() {
    let prevented = false;
    this.emit("before-quit", { preventDefault: () => (prevented = true) });
    if (prevented) return;
    this.emit("will-quit", { preventDefault() {} });
    process.exit(0);
  }
  exit(code) { process.exit(code); }
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
    const cookie = state.cookie ? state.cookie.name + "=" + state.cookie.value : "";
    this.record.status = (await fetch(url, { headers: { cookie } })).status;
    this.record.apiStatus = (await fetch(new URL("/v0/status", url), { headers: { cookie } })).status;
    setTimeout(() => this.emit("ready-to-show"), 1);
  }
  show() { this.record.shown = true; }
  focus() {}
  restore() {}
  isMinimized() { return false; }
  isDestroyed() { return this.destroyed; }
  close() {
    this.destroyed = true;
    this.record.closed = true;
    windows.delete(this);
    this.emit("closed");
    if (windows.size === 0) app.emit("window-all-closed", { preventDefault() {} });
  }
}
export class Tray extends EventEmitter {
  constructor(image) { super(); state.trayIcon = image.path; this.destroyed = false; }
  setContextMenu(template) {
    menu = template;
    state.tray = template.map((item) => item.type === "separator" ? "-" : item.label + (item.enabled ? "" : " (disabled)"));
  }
  setToolTip(text) { state.tooltip = text; }
  isDestroyed() { return this.destroyed; }
  destroy() { this.destroyed = true; }
}
export const Menu = { buildFromTemplate: (template) => template };
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
    cookies: { set: async (cookie) => { state.cookie = cookie; } },
  },
};
export const shell = {
  openExternal: async (url) => { state.external.push(url); },
  openPath: async (file) => { state.opened.push(file); return ""; },
};
export const clipboard = { writeText: (text) => { state.clipboard = text; } };
export const dialog = { showErrorBox: (title, message) => { state.errorBox = title + ": " + message; } };
export const safeStorage = {
  isEncryptionAvailable: () => true,
  getSelectedStorageBackend: () => "gnome_libsecret",
  encryptString: (text) => Buffer.from("fake:" + text),
  decryptString: (data) => data.toString().slice(5),
};
export const utilityProcess = { fork() { throw new Error("no workers in this test"); } };
export const contextBridge = {};

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
    current().webContents.emit("will-navigate", { preventDefault: () => (prevented = true) }, url);
    return prevented;
  },
  windowOpen: (url) => current().openHandler({ url }).action,
  permission: (permission, url) => handlers.check(null, permission, url),
  closeWindow: () => current().close(),
  secondInstance: () => app.emit("second-instance", {}, [], ""),
};
process.on("message", ({ id, command, args }) => {
  try {
    process.send({ id, result: commands[command](...args) ?? null });
  } catch (error) {
    process.send({ id, error: String(error) });
  }
});
`;

const loader = String.raw`
import { register } from "node:module";
const fake = new URL("./electron.mjs", import.meta.url).href;
register("data:text/javascript," + encodeURIComponent(
  "export async function resolve(specifier, context, next) {" +
  "  if (specifier === 'electron') return { url: " + JSON.stringify(fake) + ", shortCircuit: true };" +
  "  return next(specifier, context);" +
  "}"));
`;

const root = path.resolve(import.meta.dirname, "../..");

interface Snapshot {
  tray: string[];
  tooltip?: string;
  clipboard?: string;
  opened: string[];
  external: string[];
  trayIcon?: string;
  userDataPath?: string;
  errorBox?: string;
  cookie?: { name: string; httpOnly: boolean; sameSite: string; url: string };
  windows: {
    options: { show: boolean; webPreferences: Record<string, unknown> };
    shown: boolean;
    closed?: boolean;
    url?: string;
    status?: number;
    apiStatus?: number;
  }[];
}

describe("desktop shell wiring (built main process, stand-in Electron)", () => {
  let child: ChildProcess;
  let dataDir: Awaited<ReturnType<typeof makeTempDir>>;
  let fakeDir: Awaited<ReturnType<typeof makeTempDir>>;
  let exited: Promise<number | null>;
  let output = "";
  let nextId = 1;
  const replies = new Map<number, (reply: { result?: unknown; error?: string }) => void>();

  function send<T = unknown>(command: string, ...args: unknown[]): Promise<T> {
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      replies.set(id, (reply) => (reply.error ? reject(new Error(reply.error)) : resolve(reply.result as T)));
      child.send({ id, command, args });
    });
  }
  const snapshot = () => send<Snapshot>("snapshot");

  beforeAll(async () => {
    expect(fs.existsSync(path.join(root, "out/main/main.js")), "the app is built (npm run build)").toBe(true);
    dataDir = await makeTempDir("llmlb-shell-");
    fakeDir = await makeTempDir("llmlb-fake-electron-");
    fs.writeFileSync(path.join(fakeDir.path, "electron.mjs"), fakeElectron);
    fs.writeFileSync(path.join(fakeDir.path, "loader.mjs"), loader);
    child = spawn(
      process.execPath,
      [
        "--import",
        pathToFileURL(path.join(fakeDir.path, "loader.mjs")).href,
        path.join(root, "out/main/main.js"),
      ],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        env: {
          ...process.env,
          FAKE_APP_PATH: root,
          LLMLB_DATA_DIR: dataDir.path,
          LLMLB_PORT: "0",
          LLMLB_WORKERS: "none",
          LLMLB_LOG_LEVEL: "warn",
          HF_ENDPOINT: "http://127.0.0.1:9",
          HF_HUB_CACHE: path.join(dataDir.path, "hub"),
        },
      },
    );
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    child.on("message", (reply: { id: number; result?: unknown; error?: string }) => {
      replies.get(reply.id)?.(reply);
      replies.delete(reply.id);
    });
    exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  });

  afterAll(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await dataDir.remove();
    await fakeDir.remove();
  });

  it("starts the core, shows the tray, and opens the dashboard window with its cookie", async () => {
    const started = await waitFor(
      `the window (output: ${output})`,
      async () => {
        const state = await snapshot();
        return state.windows[0]?.shown && state.tooltip === "llmlb: No models · 0 nodes" ? state : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(started.userDataPath).toBe(path.join(dataDir.path, "electron"));
    expect(started.trayIcon).toBe(path.join(root, "resources", "tray.png"));
    expect(started.tray).toEqual([
      "No models · 0 nodes (disabled)",
      "-",
      "Open dashboard",
      "Copy API URL",
      "-",
      "Pause serving",
      "Open model cache folder",
      "-",
      "Quit llmlb",
    ]);
    const window = started.windows[0]!;
    expect(window.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(window.options.show).toBe(false);
    expect(window.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    });
    expect(window.options.webPreferences.preload).toBe(path.join(root, "out/preload/preload.cjs"));
    expect(fs.existsSync(window.options.webPreferences.preload as string)).toBe(true);
    expect(started.cookie).toMatchObject({ name: "llmlb_admin", httpOnly: true, sameSite: "strict" });
    expect(window.status).toBe(200);
    expect(window.apiStatus).toBe(200);
  });

  it("keeps the window on the dashboard and sends the rest to the system browser", async () => {
    const url = (await snapshot()).windows[0]!.url!;
    expect(await send("navigate", `${url}#/models`)).toBe(false);
    expect(await send("navigate", "https://huggingface.co/org/repo")).toBe(true);
    expect(await send("navigate", "file:///etc/passwd")).toBe(true);
    expect(await send("windowOpen", "https://github.com/")).toBe("deny");
    expect((await snapshot()).external).toEqual(["https://huggingface.co/org/repo", "https://github.com/"]);
    expect(await send("permission", "clipboard-sanitized-write", url)).toBe(true);
    expect(await send("permission", "media", url)).toBe(false);
  });

  it("copies the API URL, pauses and resumes serving, and opens the cache folder from the tray", async () => {
    const url = new URL((await snapshot()).windows[0]!.url!).origin;
    await send("click", "Copy API URL");
    expect((await snapshot()).clipboard).toBe(`${url}/v1`);

    await send("click", "Pause serving");
    await waitFor(
      "the paused tray",
      async () => (await snapshot()).tooltip === "llmlb: Paused · No models · 0 nodes",
    );
    expect((await snapshot()).tray).toContain("Resume serving");
    const token = fs.readFileSync(path.join(dataDir.path, "admin-token"), "utf8").trim();
    const status = await fetch(`${url}/v0/status`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await status.json()) as { paused: boolean }).paused).toBe(true);

    await send("click", "Resume serving");
    await waitFor(
      "the resumed tray",
      async () => (await snapshot()).tooltip === "llmlb: No models · 0 nodes",
    );

    await send("click", "Open model cache folder");
    expect((await snapshot()).opened).toEqual([path.join(dataDir.path, "hub")]);
  });

  it("keeps serving with the window closed, and a second launch opens it again", async () => {
    const url = new URL((await snapshot()).windows[0]!.url!).origin;
    await send("closeWindow");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(child.exitCode).toBeNull();
    expect((await fetch(`${url}/v0/health`)).status).toBe(200);
    await send("secondInstance");
    await waitFor("a new window", async () => (await snapshot()).windows[1]?.shown);
  });

  it("quits from the tray after draining: the server stops and clears its server.json", async () => {
    const url = new URL((await snapshot()).windows[0]!.url!).origin;
    expect(fs.existsSync(path.join(dataDir.path, "server.json"))).toBe(true);
    await send("click", "Quit llmlb");
    expect(await exited).toBe(0);
    expect(fs.existsSync(path.join(dataDir.path, "server.json"))).toBe(false);
    await expect(fetch(`${url}/v0/health`)).rejects.toThrow();
  });
});

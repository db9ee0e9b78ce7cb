import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchFakeApp, root, runFakeApp } from "../helpers/fakeElectron/launch";
import { childPids, commandLine, isAlive } from "../helpers/processes";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

/**
 * The built main process (out/main/main.js) under plain Node with a stand-in for the `electron` module
 * (tests/helpers/fakeElectron): no Electron binary here, so this checks the shell's wiring (core start,
 * tray, window, workers as utility processes, quit and drain) while electron.smoke.test.ts checks the
 * real thing where Electron is installed.
 */

interface Snapshot {
  tray: string[];
  tooltip?: string;
  clipboard?: string;
  opened: string[];
  external: string[];
  trayIcon?: string;
  appMenu?: (string | Record<string, unknown>)[];
  userDataPath?: string;
  errorBox?: string;
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
  let exited: Promise<number | null>;
  let output = "";
  let workerPids: number[] = [];
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
    child = launchFakeApp(dataDir.path);
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
  });

  it("starts the core, shows the tray, and opens the dashboard window by its link while the GPUs are still being looked for", async () => {
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
    expect(window.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=llmlb_/);
    expect(window.options.show).toBe(false);
    expect(window.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    });
    expect(window.options.webPreferences.preload).toBe(path.join(root, "out/preload/preload.cjs"));
    expect(fs.existsSync(window.options.webPreferences.preload as string)).toBe(true);
    expect(window.status).toBe(200);
    expect(window.apiStatus).toBe(200);
  });

  it("starts the workers the device probe asks for as utility processes once it answers", async () => {
    await send("releaseProbe");
    await waitFor(
      `one worker online (output: ${output})`,
      async () => (await snapshot()).tooltip === "llmlb: No models · 1 node",
      { timeoutMs: 30_000 },
    );
    // The probe's answer came over its parent port: output in flight at its exit would have been lost.
    // The app's log and its worker's, in one file in the data directory (a GUI app may have no stderr).
    const entries = await waitFor("the worker's lines in the log", () => {
      const lines = fs.readFileSync(path.join(dataDir.path, "logs", "llmlb.log"), "utf8").split("\n");
      // Whole lines only: the log is written as it goes.
      const whole = lines.slice(0, -1).map((line) => JSON.parse(line) as { msg: string; node?: string });
      return whole.some((entry) => entry.node && entry.msg === "registered with the control plane")
        ? whole
        : undefined;
    });
    expect(entries.map((entry) => entry.msg)).toContain("llmlb desktop starting");
    expect(entries.map((entry) => entry.msg)).not.toContain("device detection failed; using the CPU");
    workerPids = childPids(child.pid!);
    expect(workerPids).toHaveLength(1);
    expect(commandLine(workerPids[0]!)).toContain("worker.js");
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
      async () => (await snapshot()).tooltip === "llmlb: Paused · No models · 1 node",
    );
    expect((await snapshot()).tray).toContain("Resume serving");
    const token = fs.readFileSync(path.join(dataDir.path, "admin-token"), "utf8").trim();
    const status = await fetch(`${url}/v0/status`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await status.json()) as { paused: boolean }).paused).toBe(true);

    await send("click", "Resume serving");
    await waitFor("the resumed tray", async () => (await snapshot()).tooltip === "llmlb: No models · 1 node");

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

  it("started where `llmlb serve` (or another copy) already serves the data folder, offers its dashboard", async () => {
    const url = new URL((await snapshot()).windows[0]!.url!).origin;
    const token = fs.readFileSync(path.join(dataDir.path, "admin-token"), "utf8").trim();
    // As a copy whose single-instance lock is another profile's would: the data directory is taken.
    const { code, output: printed } = await runFakeApp(dataDir.path, { FAKE_MESSAGE_BOX_RESPONSE: "0" });
    expect(code).toBe(1);
    expect(printed).toMatch(/messageBox .*already running for this data folder/);
    // By a page of this user's that sends the browser on: no token on the browser's command line.
    const page = path.join(dataDir.path, "open-dashboard.html");
    expect(printed).toContain(`openExternal ${pathToFileURL(page).href}`);
    expect(fs.readFileSync(page, "utf8")).toContain(`url=${url}/#token=${encodeURIComponent(token)}`);
    expect(fs.statSync(page).mode & 0o077).toBe(0);
    // The first copy serves on.
    expect((await fetch(`${url}/v0/health`)).status).toBe(200);
  });

  it("has a Quit in the window's menu, for desktops that show no tray", async () => {
    const menu = (await snapshot()).appMenu;
    expect(menu?.[0]).toEqual({ "&File": ["Open dashboard", "close", "-", "Quit llmlb"] });
  });

  it("quits from the dashboard after draining: the workers and the server stop, server.json goes", async () => {
    const url = new URL((await snapshot()).windows[0]!.url!).origin;
    expect(fs.existsSync(path.join(dataDir.path, "server.json"))).toBe(true);
    const token = fs.readFileSync(path.join(dataDir.path, "admin-token"), "utf8").trim();
    const asked = await fetch(`${url}/v0/quit`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(asked.status).toBe(202);
    expect(await exited).toBe(0);
    expect(fs.existsSync(path.join(dataDir.path, "server.json"))).toBe(false);
    expect(workerPids.filter(isAlive)).toEqual([]);
    await expect(fetch(`${url}/v0/health`)).rejects.toThrow();
  });
});

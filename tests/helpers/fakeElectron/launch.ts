import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";

const fakeElectronDir = import.meta.dirname;
export const root = path.resolve(import.meta.dirname, "../../..");

/**
 * The built main process (out/main/main.js) under plain Node with the stand-in `electron` module, on
 * `dataDir`: no GPU probe until the test releases it, no hub, the model cache in the data directory;
 * `env` adds to that. Standard output and error are piped; commands go over IPC (electron.mjs).
 */
export function launchFakeApp(dataDir: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(
    process.execPath,
    [
      "--import",
      pathToFileURL(path.join(fakeElectronDir, "loader.mjs")).href,
      path.join(root, "out/main/main.js"),
    ],
    {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: {
        ...process.env,
        FAKE_APP_PATH: root,
        LLMLB_DATA_DIR: dataDir,
        LLMLB_PORT: "0",
        LLMLB_WORKERS: "auto",
        FAKE_HOLD_PROBE: "1",
        LLMLB_LOG_LEVEL: "info",
        HF_ENDPOINT: "http://127.0.0.1:9",
        HF_HUB_CACHE: path.join(dataDir, "hub"),
        ...env,
      },
    },
  );
}

/** Everything a launched app printed until it exited, and its exit code. */
export async function runFakeApp(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  const child = launchFakeApp(dataDir, env);
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, output };
}

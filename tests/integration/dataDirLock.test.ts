import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import readline from "node:readline";
import { describe, expect, it } from "vitest";
import { lockDataDir } from "../../src-main/core/dataDirLock";
import { runCli } from "../helpers/cliProcess";
import { tempDirForEachTest } from "../helpers/tempDir";

const root = path.resolve(import.meta.dirname, "../..");
const dir = tempDirForEachTest();

/** Another process that takes the lock, says so, and then waits to be killed. */
async function holderProcess() {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      `import { lockDataDir } from ${JSON.stringify(path.join(root, "src-main/core/dataDirLock.ts"))};
       lockDataDir(${JSON.stringify(dir.path)}); console.log("locked"); setInterval(() => {}, 1000);`,
    ],
    { cwd: root, stdio: ["ignore", "pipe", "inherit"] },
  );
  const [line] = await once(readline.createInterface({ input: child.stdout! }), "line");
  expect(line).toBe("locked");
  return child;
}

describe("the data directory lock", () => {
  it("refuses a second holder, in this process or another, until the first lets go", async () => {
    const release = lockDataDir(dir.path);
    expect(() => lockDataDir(dir.path)).toThrow(/already running for/);
    release();
    lockDataDir(dir.path)();
  });

  it("is free again the moment its holder is killed: no stale lock to clear by hand", async () => {
    const holder = await holderProcess();
    expect(() => lockDataDir(dir.path)).toThrow(/already running for/);
    holder.kill("SIGKILL");
    await once(holder, "exit");
    lockDataDir(dir.path)();
  });

  it("lets exactly one of three servers started at the same instant run", async () => {
    const env = { LLMLB_DATA_DIR: dir.path, LLMLB_LOG_LEVEL: "warn", HF_ENDPOINT: "http://127.0.0.1:9" };
    const starts = [0, 1, 2].map(() => {
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          path.join(root, "src-main/cli/main.ts"),
          "serve",
          "--port",
          "0",
          "--workers",
          "none",
        ],
        { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderr = "";
      child.stderr!.on("data", (chunk) => (stderr += chunk));
      const serving = new Promise<"serving">((resolve) =>
        readline.createInterface({ input: child.stdout! }).on("line", (line) => {
          if (/^\s*Workers:/.test(line)) resolve("serving");
        }),
      );
      const exited = once(child, "exit").then(([code]) => ({ code: code as number | null, stderr }));
      return { child, outcome: Promise.race([serving, exited]) };
    });
    const outcomes = await Promise.all(starts.map((start) => start.outcome));
    try {
      expect(outcomes.filter((outcome) => outcome === "serving")).toHaveLength(1);
      for (const outcome of outcomes.filter((o) => o !== "serving")) {
        expect(outcome).toMatchObject({ code: 1, stderr: expect.stringMatching(/already running for/) });
      }
      expect((await runCli(["status"], env)).code).toBe(0);
    } finally {
      for (const { child } of starts) if (child.exitCode === null) child.kill("SIGTERM");
      await Promise.all(starts.map(({ child }) => child.exitCode === null && once(child, "exit")));
    }
  });
});

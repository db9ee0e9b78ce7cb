import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cliProcess";
import { modelListSchema } from "../../src-main/contract";
import { tokenInFragment } from "../../src-main/contract/dashboardLink";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

// `npm run demo` as a new user runs it, with a home folder of its own and its own temp folder, so
// what it touches outside its throwaway folder can be seen.
const root = path.resolve(import.meta.dirname, "../..");
let demo: ChildProcess | undefined;
let home: Awaited<ReturnType<typeof makeTempDir>>;
let tmp: Awaited<ReturnType<typeof makeTempDir>>;

afterAll(async () => {
  if (demo && demo.exitCode === null) demo.kill("SIGKILL");
  await home?.remove();
  await tmp?.remove();
});

describe("npm run demo", () => {
  it("serves the demo model from the stand-in hub: a download to watch, then a streamed reply, then nothing left", async () => {
    home = await makeTempDir("llmlb-demo-home-");
    tmp = await makeTempDir("llmlb-demo-tmp-");
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home.path, TMPDIR: tmp.path };
    for (const name of ["XDG_DATA_HOME", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE", "LLMLB_DATA_DIR"])
      delete env[name];
    // Its own process group, as in a terminal: Ctrl-C reaches the demo and the llmlb it runs.
    demo = spawn(process.execPath, ["--import", "tsx", path.join(root, "scripts/demo.ts")], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stderr = "";
    demo.stderr!.on("data", (chunk) => (stderr += chunk));
    const printed: string[] = [];
    const lines = readline.createInterface({ input: demo.stdout! });
    await new Promise<void>((resolve, reject) => {
      lines.on("line", (line) => {
        printed.push(line);
        if (line.includes("Everything lives in")) resolve();
      });
      demo!.once("exit", (code) => reject(new Error(`the demo exited (${code}): ${stderr}`)));
    });
    const text = printed.join("\n");
    expect(text).toMatch(/random weights: it answers random tokens/);
    const link = /Dashboard: +(\S+)/.exec(text)![1]!;
    const base = new URL(link).origin;
    const token = tokenInFragment(new URL(link).hash)!;
    const folder = /Everything lives in (\S+),/.exec(text)![1]!;
    expect(folder.startsWith(tmp.path)).toBe(true);

    // The download is slow enough to be seen in progress, then the model is ready.
    const states = new Set<string>();
    await waitFor(
      "the demo model ready",
      async () => {
        const response = await fetch(`${base}/v0/models`, { headers: { authorization: `Bearer ${token}` } });
        const [model] = modelListSchema.parse(await response.json()).data;
        for (const node of model?.nodes ?? []) states.add(node.state);
        return model?.ready;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(states).toContain("downloading");

    // The CLI line it prints works from another terminal.
    const cliDataDir = /CLI: +LLMLB_DATA_DIR=(\S+) npx llmlb model list/.exec(text)![1]!;
    const listed = await runCli(["model", "list"], { ...env, LLMLB_DATA_DIR: cliDataDir });
    expect(listed.stderr).toBe("");
    expect(listed.stdout).toMatch(/^llmlb-demo\/tiny-llama-GGUF .* yes /m);

    const reply = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "llmlb-demo/tiny-llama-GGUF",
        messages: [{ role: "user", content: "Hello" }],
        max_tokens: 16,
        stream: true,
      }),
    });
    expect(reply.status).toBe(200);
    const body = await reply.text();
    expect(body.match(/^data: \{/gm)?.length).toBeGreaterThan(1);
    expect(body).toContain("data: [DONE]");

    // Ctrl-C: everything stops and the folder goes; the home folder was never written to.
    const exited = once(demo, "exit");
    process.kill(-demo.pid!, "SIGINT");
    const [code] = await exited;
    expect(code).toBe(0);
    expect(fs.existsSync(folder)).toBe(false);
    expect(fs.readdirSync(home.path)).toEqual([]);
    // Only tsx's compile cache (tsx-<uid>), which the TypeScript the demo runs from needs, stays.
    expect(fs.readdirSync(tmp.path).filter((name) => !/^tsx-\d+$/.test(name))).toEqual([]);
  }, 120_000);
});

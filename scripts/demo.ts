/**
 * `npm run demo [-- --port 8080]`: llmlb offline, whole, in one command. A stand-in for huggingface.co
 * on loopback (the tests' fake hub) serves a tiny demo model, slowly enough to watch it download;
 * `llmlb serve` runs against it with its data and model cache in a throwaway folder; the demo model is
 * registered, and the dashboard link is printed. Ctrl-C stops both and removes the folder: nothing
 * outside it is touched.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { parseArgs } from "node:util";
import { startFakeHub } from "../tests/fixtures/fakeHub";
import { generateTinyGguf } from "../tests/fixtures/tinyGguf";

const root = path.resolve(import.meta.dirname, "..");
const demoModel = "llmlb-demo/tiny-llama-GGUF";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });

// The tiny model is half a megabyte; padded to 4 MB and sent at 800 KB/s, its download takes about
// five seconds: long enough to see progress, short enough to chat soon.
const gguf = Buffer.concat([
  generateTinyGguf({ seed: 1, name: "tiny-llama-Q4_K_M" }),
  Buffer.alloc(4 * 1024 * 1024 - 500_000),
]);

const folder = fs.mkdtempSync(path.join(os.tmpdir(), "llmlb-demo-"));
const dataDir = path.join(folder, "data");
const hub = await startFakeHub({
  repos: [
    {
      id: demoModel,
      files: [
        { path: "tiny-llama-Q4_K_M.gguf", content: gguf },
        {
          path: "README.md",
          content: Buffer.from(
            "# tiny-llama-GGUF\n\nRandom weights: its answers are random tokens, broken characters included.\n",
          ),
        },
      ],
    },
  ],
});
hub.setFaults({ throttleBytesPerSecond: 800_000 });

const serve = spawn(
  process.execPath,
  [path.join(root, "bin/llmlb.js"), "serve", "--port", values.port!, "--workers", "cpu"],
  {
    cwd: root,
    env: {
      ...process.env,
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: path.join(folder, "hub"),
      LLMLB_DATA_DIR: dataDir,
      LLMLB_LOG_LEVEL: process.env.LLMLB_LOG_LEVEL ?? "warn",
    },
    stdio: ["ignore", "pipe", "inherit"],
  },
);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // llmlb drains (running requests, then its workers) before it exits; a second signal is harmless.
  if (serve.exitCode === null && serve.signalCode === null) {
    const exited = once(serve, "exit");
    serve.kill("SIGTERM");
    await exited;
  }
  await hub.close();
  try {
    fs.rmSync(folder, { recursive: true, force: true, maxRetries: 5 });
  } catch (error) {
    process.stderr.write(`Could not remove ${folder}: ${(error as Error).message}\n`);
  }
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
serve.once("exit", (code) => {
  if (!stopping) {
    process.stderr.write(`llmlb serve stopped (exit code ${code}); the demo ends.\n`);
    void stop(code ?? 1);
  }
});

// llmlb prints its URL, its dashboard link and, last, its workers.
const banner: string[] = [];
const lines = readline.createInterface({ input: serve.stdout! });
await new Promise<void>((resolve) =>
  lines.on("line", (line) => {
    banner.push(line);
    if (/^\s*Workers:/.test(line)) resolve();
  }),
);
const url = /serving on (http:\/\/\S+)/.exec(banner.join("\n"))?.[1];
const dashboard = banner
  .find((line) => line.includes("Dashboard:"))
  ?.split("Dashboard:")[1]
  ?.trim();
if (!url || !dashboard) {
  process.stderr.write(`llmlb serve did not say where it listens:\n${banner.join("\n")}\n`);
  await stop(1);
}

const token = fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
const registered = await fetch(`${url}/v0/models/register`, {
  method: "POST",
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  body: JSON.stringify({ url: demoModel }),
});
if (registered.status !== 201) {
  process.stderr.write(`Registering the demo model failed: ${await registered.text()}\n`);
  await stop(1);
}

process.stdout.write(
  [
    "",
    "llmlb demo: offline, with a stand-in Hugging Face hub on this machine.",
    `  Dashboard:  ${dashboard}`,
    "              open it: the demo model downloads, then chat with it on Playground",
    `  OpenAI API: ${url}/v1   model "${demoModel}"`,
    `  CLI:        LLMLB_DATA_DIR=${dataDir} npx llmlb model list   (any llmlb command, from another terminal)`,
    "  The demo model has random weights: it answers random tokens (broken characters too), fast.",
    `  Everything lives in ${folder}, removed when you stop (Ctrl-C).`,
    "",
  ].join("\n") + "\n",
);

import { once } from "node:events";
import fs from "node:fs/promises";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchema } from "../../src-main/contract";
import { repoCacheDir } from "../../src-main/worker/download";
import { startServeProcess, type ServeProcess } from "../helpers/cliProcess";
import { longStory } from "../helpers/chat";
import { makeTempDir } from "../helpers/tempDir";
import { isAlive, workerPids } from "../helpers/processes";
import { serveTinyModel, tinyModel as model, type TinyModelServe } from "../helpers/tinyModelServe";
import { waitFor } from "../helpers/waitFor";

// Ctrl-C in the terminal that runs `llmlb serve` signals the whole process group: the control plane
// and its workers alike. The control plane drains; the workers must not stop (or be restarted) under it.
let server: TinyModelServe;
let serve: ServeProcess;

beforeAll(async () => {
  server = await serveTinyModel({ workers: 1, logLevel: "info", ownGroup: true });
  serve = server.serve;
}, 90_000);
afterAll(async () => {
  await server?.close();
});

/**
 * Reads a long stream from `serve`, with `signal(n)` called at its nth chunk (from 0); says how it
 * finished and how many chunks came, and how the serve process exited.
 */
async function streamWhileSignalled(served: ServeProcess, signal: (chunk: number) => void) {
  const client = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const stream = await longStory(client, model);
  const exited = once(served.child, "exit");
  let chunks = 0;
  let finish: string | null | undefined;
  for await (const chunk of stream) {
    signal(chunks++);
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  const [code] = await exited;
  return { finish, chunks, code };
}

describe("Ctrl-C on llmlb serve", () => {
  it("lets a running stream finish (a second signal meanwhile changes nothing), stops the workers without restarting them, and exits 0", async () => {
    const workers = workerPids(serve.child.pid!);
    expect(workers).toHaveLength(1);
    const { finish, chunks, code } = await streamWhileSignalled(serve, (chunk) => {
      // The whole group, as a terminal's Ctrl-C: the control plane and its worker.
      if (chunk === 0) process.kill(-serve.child.pid!, "SIGINT");
      // A second signal during the drain (a process manager's SIGTERM, a second Ctrl-C) changes nothing.
      if (chunk === 20) serve.child.kill("SIGTERM");
    });
    expect(finish).toBe("length");
    expect(chunks).toBeGreaterThan(10);
    expect(code).toBe(0);
    expect(serve.logs()).not.toMatch(/restarting/);
    expect(serve.logs()).toMatch(/already shutting down/);
    // The worker knew its control plane quit: the heartbeats it left unanswered are no warning.
    expect(serve.logs()).not.toMatch(/heartbeat failed|sync failed/);
    expect(workers.filter(isAlive)).toEqual([]);
  });
});

describe("a service manager's SIGTERM to llmlb serve's process group (systemctl stop)", () => {
  let grouped: TinyModelServe;
  beforeAll(async () => {
    grouped = await serveTinyModel({ workers: 1, logLevel: "info", ownGroup: true });
  }, 90_000);
  afterAll(async () => {
    await grouped?.close();
  });

  it("drains as a SIGTERM to serve alone does: the workers wait for their control plane, and a running stream finishes", async () => {
    const { serve } = grouped;
    const { finish, code } = await streamWhileSignalled(serve, (chunk) => {
      if (chunk === 0) process.kill(-serve.child.pid!, "SIGTERM");
    });
    expect(finish).toBe("length");
    expect(code).toBe(0);
    expect(serve.logs()).toMatch(/SIGTERM: the control plane stops this node when it quits/);
    expect(serve.logs()).not.toMatch(/restarting/);
  });
});

describe("Ctrl-C on llmlb serve during a download", () => {
  let downloading: TinyModelServe;
  beforeAll(async () => {
    downloading = await serveTinyModel({
      workers: 1,
      ownGroup: true,
      repos: [
        {
          id: "acme/big-GGUF",
          files: [{ path: "big-Q4_K_M.gguf", content: Buffer.alloc(64e6, 7) }],
        },
      ],
    });
  }, 90_000);
  afterAll(async () => {
    await downloading?.close();
  });

  it("lets the download let go of its file: its lock is gone and the bytes so far are kept for the next start", async () => {
    const { serve, hub, admin } = downloading;
    hub.setFaults({ throttleBytesPerSecond: 2_000_000 });
    expect((await admin("POST", "/v0/models/register", { url: "acme/big-GGUF" })).status).toBe(201);
    await waitFor("bytes of the download on disk", async () => {
      const model = modelSchema.parse(
        (await admin("GET", `/v0/models/${encodeURIComponent("acme/big-GGUF")}`)).body,
      );
      return model.nodes.some((node) => node.state === "downloading" && node.bytes_done > 0);
    });
    const exited = once(serve.child, "exit");
    process.kill(-serve.child.pid!, "SIGINT");
    const [code] = await exited;
    expect(code).toBe(0);

    const blobs = path.join(repoCacheDir(downloading.env.HF_HUB_CACHE!, "acme/big-GGUF"), "blobs");
    const left = await fs.readdir(blobs);
    expect(left.filter((name) => name.endsWith(".lock"))).toEqual([]);
    const partial = left.find((name) => name.endsWith(".incomplete"));
    expect(partial).toBeDefined();
    expect((await fs.stat(path.join(blobs, partial!))).size).toBeGreaterThan(0);
  });
});

describe("llmlb serve killed outright (kill -9) while its workers start", () => {
  it("leaves no worker behind: each notices its control plane is gone and ends", async () => {
    const dir = await makeTempDir();
    try {
      for (const built of [false, true]) {
        const started = await startServeProcess(
          ["--port", "0", "--workers", "1"],
          { ...process.env, LLMLB_DATA_DIR: dir.path, HF_HUB_CACHE: path.join(dir.path, "hub") },
          { built },
        );
        // The banner is out: its worker has just been started and is still starting up.
        const workers = await waitFor("its worker to start", () => {
          const pids = workerPids(started.child.pid!);
          return pids.length > 0 ? pids : undefined;
        });
        started.child.kill("SIGKILL");
        await once(started.child, "exit");
        await waitFor(`the worker of the killed llmlb to end (${built ? "built" : "from the sources"})`, () =>
          workers.every((pid) => !isAlive(pid)),
        );
        await fs.rm(path.join(dir.path, "server.json"), { force: true });
      }
    } finally {
      await dir.remove();
    }
  });
});

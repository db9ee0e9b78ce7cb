import { once } from "node:events";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServeProcess } from "../helpers/cliProcess";
import { longStory } from "../helpers/chat";
import { isAlive, workerPids } from "../helpers/processes";
import { serveTinyModel, tinyModel as model, type TinyModelServe } from "../helpers/tinyModelServe";

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

describe("Ctrl-C on llmlb serve", () => {
  it("lets a running stream finish (a second signal meanwhile changes nothing), stops the workers without restarting them, and exits 0", async () => {
    const workers = workerPids(serve.child.pid!);
    expect(workers).toHaveLength(1);
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const stream = await longStory(client, model);
    const exited = once(serve.child, "exit");
    let chunks = 0;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      // The whole group, as a terminal's Ctrl-C: the control plane and its worker.
      if (chunks++ === 0) process.kill(-serve.child.pid!, "SIGINT");
      // A second signal during the drain (a process manager's SIGTERM, a second Ctrl-C) changes nothing.
      if (chunks === 20) serve.child.kill("SIGTERM");
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe("length");
    expect(chunks).toBeGreaterThan(10);
    const [code] = await exited;
    expect(code).toBe(0);
    expect(serve.logs()).not.toMatch(/restarting/);
    expect(serve.logs()).toMatch(/already shutting down/);
    expect(workers.filter(isAlive)).toEqual([]);
  });
});

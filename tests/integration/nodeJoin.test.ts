import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchema, nodeListSchema } from "../../src-main/contract";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { greedyChat, longStory } from "../helpers/chat";
import { adminRequest, runCli, type ServeProcess } from "../helpers/cliProcess";
import { childPids } from "../helpers/processes";
import { serveInTempDir, type ServedInTempDir } from "../helpers/serveInTempDir";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

// A second machine, played by a second data directory and model cache: `llmlb node --join` runs its
// workers for a control plane that has none of its own.
const root = path.resolve(import.meta.dirname, "../..");
const model = "acme/joined-GGUF";
let hub: FakeHub;
let first: ServedInTempDir;
let control: ServeProcess;
/** The second machine's data directory and model cache. */
let second: { path: string; remove(): Promise<void> };
let nodeToken: string;

const admin = (method: string, url: string, body?: unknown) =>
  adminRequest(control.url, first.dataDir, method, url, body);

/** `node --join` this suite's control plane with one CPU worker named `name`-cpu0. */
const joinArgs = (name: string) => [
  "--join",
  control.url,
  "--token",
  nodeToken,
  "--workers",
  "1",
  "--name",
  name,
];

/** `llmlb node --join …` as its own process; resolves once its workers are listed. */
async function startJoin(
  args: string[],
  machine = second.path,
): Promise<{ child: ChildProcess; output: string[] }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(root, "src-main/cli/main.ts"), "node", ...args],
    {
      cwd: root,
      env: {
        ...process.env,
        LLMLB_DATA_DIR: path.join(machine, "data"),
        HF_HUB_CACHE: path.join(machine, "hub"),
        LLMLB_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output: string[] = [];
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  await new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      output.push(line);
      if (/^\s*Workers:/.test(line)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`llmlb node exited with ${code}: ${stderr}`)));
  });
  return { child, output };
}

beforeAll(async () => {
  hub = await startFakeHub({
    repos: [{ id: model, files: [{ path: "joined-Q4_K_M.gguf", content: generateTinyGguf({ seed: 4 }) }] }],
  });
  first = await serveInTempDir({ hubUrl: hub.url, args: ["--port", "0", "--workers", "none"] });
  control = first.serve;
  second = await makeTempDir();
  nodeToken = fs.readFileSync(path.join(first.dataDir, "node-token"), "utf8").trim();
}, 60_000);
afterAll(async () => {
  await first?.close();
  await hub?.close();
  await second?.remove();
});

describe("llmlb node --join", () => {
  it("refuses a wrong node token before starting any worker", async () => {
    const result = await runCli(["node", "--join", control.url, "--token", "not-the-node-token-000"], {
      LLMLB_DATA_DIR: path.join(second.path, "data"),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/refused the node token/);
    // One too short for any node token: said before asking anyone.
    const short = await runCli(["node", "--join", control.url, "--token", "short"], {
      LLMLB_DATA_DIR: path.join(second.path, "data"),
    });
    expect(short).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: --token is too short for a node token/),
    });
  });

  it("says so when the control plane cannot be reached", async () => {
    const result = await runCli(["node", "--join", "http://127.0.0.1:9", "--token", nodeToken], {
      LLMLB_DATA_DIR: path.join(second.path, "data"),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Cannot reach the control plane at http:\/\/127\.0\.0\.1:9/);
  });

  it("asks for a URL's scheme, and takes the /v1 address serve prints for the control plane's", async () => {
    const bare = control.url.replace(/^http:\/\//, "");
    const result = await runCli(["node", "--join", bare, "--token", nodeToken], {
      LLMLB_DATA_DIR: path.join(second.path, "data"),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`like http://${bare}`);
    // Through to the token check, which a /v1 address would have failed with a 404 before.
    const v1 = await runCli(["node", "--join", `${control.url}/v1`, "--token", "not-the-node-token-000"], {
      LLMLB_DATA_DIR: path.join(second.path, "data"),
    });
    expect(v1.stderr).toMatch(/refused the node token/);
    // The dashboard link serve prints, pasted: its token is the admin token, never said back.
    const admin = "llmlb_admintokenpastedbymistake00";
    const link = await runCli(["node", "--join", `${control.url}/#token=${admin}`, "--token", nodeToken], {
      LLMLB_DATA_DIR: path.join(second.path, "data"),
    });
    expect(link.code).toBe(2);
    expect(link.stderr).toBe(
      `error: --join takes the control plane's address, ${control.url}, with no #fragment: that is the dashboard's link, whose token is the admin token. A machine joins with the node token (\`llmlb node token\` on the control plane's machine).\n`,
    );
    expect(link.stderr).not.toContain(admin);
  });

  /** A port free on 127.0.0.1 whose next one is free too: both workers' ports. */
  async function twoFreePorts(): Promise<number> {
    const listen = (port: number) =>
      new Promise<net.Server | undefined>((resolve) => {
        const probe = net.createServer();
        probe.once("error", () => resolve(undefined));
        probe.listen(port, "127.0.0.1", () => resolve(probe));
      });
    const close = (server: net.Server | undefined) =>
      new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (;;) {
      const first = await listen(0);
      const port = (first!.address() as net.AddressInfo).port;
      const next = port < 65535 ? await listen(port + 1) : undefined;
      await Promise.all([close(first), close(next)]);
      if (next) return port;
    }
  }

  it("puts its workers on the ports asked for, one after another, for a firewall's rule", async () => {
    const free = await twoFreePorts();
    const joined = await startJoin([
      "--join",
      control.url,
      "--token",
      nodeToken,
      "--workers",
      "2",
      "--port",
      String(free),
      "--name",
      "ported",
    ]);
    // A second join on the same ports: refused before any worker starts, not a worker restarted forever.
    const taken = await runCli(["node", ...joinArgs("ported-too"), "--port", String(free)], {
      LLMLB_DATA_DIR: path.join(second.path, "data-too"),
    });
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(
      `error: Port ${free} on 127.0.0.1 is in use: choose other ports with --port.`,
    );
    try {
      const urls = await waitFor(
        "both workers registered",
        async () => {
          const nodes = nodeListSchema.parse((await admin("GET", "/v0/nodes")).body).data;
          const ours = nodes.filter((node) => node.name.startsWith("ported-") && node.status === "online");
          return ours.length === 2 && ours.map((node) => node.url).sort();
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      expect(urls).toEqual([`http://127.0.0.1:${free}`, `http://127.0.0.1:${free + 1}`]);
    } finally {
      joined.child.kill("SIGTERM");
      await once(joined.child, "exit");
    }
  }, 60_000);

  it("says Joined only once the control plane took its workers, and stops on a name another node online has", async () => {
    const first = await startJoin(joinArgs("twin"));
    const other = await makeTempDir();
    try {
      // The same name from another machine (another address): refused, said, and the join ends.
      const clash = await runCli(["node", ...joinArgs("twin")], {
        LLMLB_DATA_DIR: path.join(other.path, "data"),
        HF_HUB_CACHE: path.join(other.path, "hub"),
        LLMLB_LOG_LEVEL: "fatal",
      });
      expect(clash.code).toBe(1);
      expect(clash.stdout).not.toContain("Joined");
      expect(clash.stderr).toMatch(
        /Could not join the control plane at \S+: twin-cpu0: A node named twin-cpu0 is online at .* already/,
      );
    } finally {
      first.child.kill("SIGTERM");
      await once(first.child, "exit");
      await other.remove();
    }
  }, 60_000);

  it("keeps a machine out once the node token is replaced and it is removed by force, and the others in", async () => {
    const joined = await startJoin(joinArgs("kept-out"));
    const exited = once(joined.child, "exit");
    let stderr = "";
    joined.child.stderr!.on("data", (chunk) => (stderr += chunk));
    const other = await makeTempDir();
    let keptIn = await startJoin(joinArgs("kept-in"), other.path);
    const oldToken = nodeToken;
    const cli = (args: string[]) => runCli(args, { LLMLB_DATA_DIR: first.dataDir });
    const listed = async () => nodeListSchema.parse((await admin("GET", "/v0/nodes")).body).data;
    try {
      const replaced = await cli(["node", "token", "--replace"]);
      expect(replaced.code).toBe(0);
      const newToken = /^Node token: (\S+)$/m.exec(replaced.stdout)![1]!;
      expect(newToken).not.toBe(nodeToken);
      expect(replaced.stdout).toContain(
        "No other machine can join yet. This llmlb listens on 127.0.0.1 only",
      );
      nodeToken = newToken;

      // A machine kept: its worker, started again (a crash), is back with the token it was given.
      const before = (await listed()).find((node) => node.name === "kept-in-cpu0")!;
      // Another machine's, not one of the control plane's own.
      expect(before.local).toBeUndefined();
      const [worker] = childPids(keptIn.child.pid!);
      process.kill(worker!, "SIGKILL");
      await waitFor(
        "kept-in-cpu0 back",
        async () =>
          (await listed()).some(
            (node) =>
              node.name === "kept-in-cpu0" &&
              node.status === "online" &&
              Date.parse(node.registered_at) > Date.parse(before.registered_at),
          ),
        { timeoutMs: 30_000, intervalMs: 200 },
      );

      // Online: refused without --force, with the way to keep it out.
      const plain = await cli(["node", "rm", "kept-out-cpu0"]);
      expect(plain.code).toBe(1);
      expect(plain.stderr).toContain("replace the node token (llmlb node token --replace)");
      const forced = await cli(["node", "rm", "--force", "kept-out-cpu0"]);
      expect(forced.code).toBe(0);
      expect(forced.stdout).toMatch(/^Removed node kept-out-cpu0 \(http:\/\/127\.0\.0\.1:\d+\)/);
      expect(forced.stderr).toContain("note: kept-out-cpu0 was online: its token no longer works");

      // Its worker tries to join again with the old token; refused for good, the join ends.
      const [code] = await exited;
      expect(code).toBe(1);
      expect(stderr).toContain(
        `The control plane at ${control.url} no longer takes kept-out-cpu0: The token is not valid for this endpoint`,
      );
      expect(stderr).toContain("Its node token was replaced: its operator has the new one");
      const nodes = await listed();
      expect(nodes.map((node) => node.name)).not.toContain("kept-out-cpu0");
      expect(nodes.find((node) => node.name === "kept-in-cpu0")?.status).toBe("online");
      expect(keptIn.child.exitCode).toBeNull();

      // The machine kept, restarted (a reboot) with the node token it was given: its workers join
      // with their own tokens.
      keptIn.child.kill("SIGTERM");
      await once(keptIn.child, "exit");
      keptIn = await startJoin(
        ["--join", control.url, "--token", oldToken, "--workers", "1", "--name", "kept-in"],
        other.path,
      );
      expect(keptIn.output.join("\n")).toContain("Joined");
      await waitFor(
        "kept-in-cpu0 online again",
        async () => (await listed()).some((node) => node.name === "kept-in-cpu0" && node.status === "online"),
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    } finally {
      joined.child.kill("SIGTERM");
      keptIn.child.kill("SIGTERM");
      if (keptIn.child.exitCode === null) await once(keptIn.child, "exit");
      await other.remove();
    }
  }, 120_000);

  it("leaves out a worker the control plane refuses, and stops only a worker removed there, while the others serve", async () => {
    const workers = (count: number, token = nodeToken) => [
      "--join",
      control.url,
      "--token",
      token,
      "--workers",
      String(count),
      "--name",
      "grown",
    ];
    const cli = (args: string[]) => runCli(args, { LLMLB_DATA_DIR: first.dataDir });
    const listed = async () => nodeListSchema.parse((await admin("GET", "/v0/nodes")).body).data;
    const statusOf = async (name: string) => (await listed()).find((node) => node.name === name)?.status;
    let joined = await startJoin(workers(2));
    try {
      // The node token replaced, the machine gets a GPU more and starts again with the token it had:
      // its two workers join with the tokens they were given, the new one has none and is left out.
      const oldToken = nodeToken;
      const replaced = await cli(["node", "token", "--replace"]);
      nodeToken = /^Node token: (\S+)$/m.exec(replaced.stdout)![1]!;
      joined.child.kill("SIGTERM");
      await once(joined.child, "exit");
      joined = await startJoin(workers(3, oldToken));
      let stderr = "";
      joined.child.stderr!.on("data", (chunk) => (stderr += chunk));
      const output = joined.output.join("\n");
      expect(output).toContain(`Joined ${control.url}`);
      expect(output).toMatch(/Workers: +grown-cpu0 \(cpu\), grown-cpu1 \(cpu\)$/m);
      expect(output).toMatch(
        /Left out: +grown-cpu2: refused by the control plane: The token is not valid for this endpoint\b/,
      );
      expect(output).toContain("Its node token was replaced: its operator has the new one");
      expect(await statusOf("grown-cpu0")).toBe("online");
      expect(await statusOf("grown-cpu1")).toBe("online");
      expect(await statusOf("grown-cpu2")).toBeUndefined();

      // One of its workers removed there by force: that worker stops, the other goes on serving.
      expect((await cli(["node", "rm", "--force", "grown-cpu1"])).code).toBe(0);
      await waitFor(
        "grown-cpu1 stopped on its machine",
        async () => stderr.includes("no longer takes grown-cpu1"),
        {
          timeoutMs: 40_000,
          intervalMs: 200,
        },
      );
      expect(stderr).toContain(
        `warning: the control plane at ${control.url} no longer takes grown-cpu1: The token is not valid for this endpoint (it needs the admin token or the node token); it is stopped, and the other workers go on. Its node token was replaced`,
      );
      expect(joined.child.exitCode).toBeNull();
      expect(await statusOf("grown-cpu0")).toBe("online");
      expect(await statusOf("grown-cpu1")).toBeUndefined();
    } finally {
      joined.child.kill("SIGTERM");
      if (joined.child.exitCode === null) await once(joined.child, "exit");
    }
  }, 120_000);

  it("refuses --workers none, which would join with nothing, before probing any device", async () => {
    const result = await runCli(["node", "--join", control.url, "--token", nodeToken, "--workers", "none"], {
      LLMLB_DATA_DIR: path.join(second.path, "data"),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--workers none leaves nothing to join with.");
  });

  it("serves the control plane's models from this machine's cache, and goes offline when stopped", async () => {
    const joined = await startJoin(joinArgs("second-machine"));
    try {
      expect(joined.output.join("\n")).toContain("second-machine-cpu0 (cpu)");
      expect((await admin("POST", "/v0/models/register", { url: model })).status).toBe(201);
      await waitFor(
        "the model ready on the joined node",
        async () =>
          modelSchema.parse((await admin("GET", `/v0/models/${encodeURIComponent(model)}`)).body).ready,
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      // The file went into the second machine's cache, not the control plane's.
      expect(fs.existsSync(path.join(second.path, "hub", "models--acme--joined-GGUF"))).toBe(true);
      expect(fs.existsSync(path.join(first.root, "hub", "models--acme--joined-GGUF"))).toBe(false);

      const client = new OpenAI({ baseURL: `${control.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const answer = await greedyChat(client, model, 4, "Hello");
      expect(answer.usage?.completion_tokens).toBe(4);

      // Stopped mid-answer (Ctrl-C, a service manager): it says it is stopping, so nothing new goes to
      // it, finishes the answer, then goes.
      const exited = once(joined.child, "exit");
      const stream = await longStory(client, model);
      let seenStopping = false;
      let finish: string | null | undefined;
      let streaming = true;
      const watching = (async () => {
        while (streaming) {
          const nodes = nodeListSchema.parse((await admin("GET", "/v0/nodes")).body);
          seenStopping ||= nodes.data.some((node) => node.draining === true && node.status === "online");
        }
      })();
      try {
        for await (const chunk of stream) {
          if (finish === undefined) joined.child.kill("SIGTERM");
          finish = chunk.choices[0]?.finish_reason ?? finish ?? null;
        }
      } finally {
        streaming = false;
        await watching;
      }
      expect(finish).toBe("length");
      expect(seenStopping).toBe(true);
      // Its answer done, it exits by itself, not at its supervisor's SIGKILL 15 s after the SIGTERM.
      const answered = Date.now();
      await exited;
      expect(Date.now() - answered).toBeLessThan(5_000);
    } finally {
      joined.child.kill("SIGTERM");
    }
    const offline = await waitFor(
      "the joined node offline",
      async () => {
        const nodes = nodeListSchema.parse((await admin("GET", "/v0/nodes")).body);
        return nodes.data.every((node) => node.status === "offline") && nodes.data;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(offline.find((node) => node.name === "second-machine-cpu0")!.health.reason).toBe(
      "It was stopped on its machine.",
    );
  }, 120_000);
});

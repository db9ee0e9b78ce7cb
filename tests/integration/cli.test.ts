import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeList } from "../../src-main/contract";
import { migrations } from "../../src-main/core/registry/migrations";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { runCli, startServeProcess, type ServeProcess } from "../helpers/cliProcess";
import { serveInTempDir, type ServedInTempDir } from "../helpers/serveInTempDir";
import { startFakeOpenAiServer } from "../helpers/fakeOpenAiServer";
import { testRepos } from "../helpers/hubRepos";
import { commandLine, workerPids } from "../helpers/processes";
import { startCoreWithHub } from "../helpers/startCore";
import { status } from "../helpers/serverShapes";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";
import { workerInfo } from "../helpers/workerInfo";
import { olderDatabase } from "../helpers/olderDatabase";

const root = path.resolve(import.meta.dirname, "../..");
let served: ServedInTempDir;
let serve: ServeProcess;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const hub: FakeHub = await startFakeHub({ repos: testRepos() });
  served = await serveInTempDir({
    hubUrl: hub.url,
    args: ["--port", "0", "--workers", "none"],
    alsoClose: () => hub.close(),
  });
  ({ serve, env } = served);
});
afterAll(async () => {
  await served?.close();
});

describe("llmlb serve", () => {
  it("prints the API and dashboard URLs and writes where clients find it", () => {
    expect(serve.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(serve.output.join("\n")).toContain(`${serve.url}/v1`);
    expect(serve.output.join("\n")).toMatch(/Dashboard: +http:\/\/127\.0\.0\.1:\d+\/#token=llmlb_/);
    expect(JSON.parse(fs.readFileSync(path.join(served.dataDir, "server.json"), "utf8")).url).toBe(serve.url);
  });
});

describe("llmlb serve on an older llmlb's data directory", () => {
  it("says in its banner that it upgraded the database, and where the old one is kept for going back", async () => {
    const dir = await makeTempDir();
    try {
      const file = path.join(dir.path, "llmlb.db");
      const before = migrations.length - 1;
      olderDatabase(file, before).close();
      const proc = await startServeProcess(["--port", "0", "--workers", "none"], {
        ...env,
        LLMLB_DATA_DIR: dir.path,
      });
      try {
        expect(proc.output).toContain(
          `  Upgraded:    the database of an older llmlb (schema ${before} → ${migrations.length}); to go back to that llmlb, put ${file}.schema-${before}.bak in its place`,
        );
      } finally {
        await proc.stop();
      }
    } finally {
      await dir.remove();
    }
  });
});

describe("llmlb dashboard", () => {
  it("prints the running server's dashboard link, as serve printed it, and none with a token it refuses", async () => {
    const printed = serve.output
      .find((line) => line.includes("Dashboard:"))!
      .split("Dashboard:")[1]!
      .trim();
    const result = await runCli(["dashboard"], env);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout.trim()).toBe(printed);
    const wrong = await runCli(["dashboard", "--token", "llmlb_not_the_token_0000"], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toBe("");
    expect(wrong.stderr).toMatch(/--token/);
  });
});

/** Another server on a free loopback port, answering as `handle` does (not an llmlb, or an older one). */
async function otherServer(handle: http.RequestListener): Promise<{ url: string; close(): void }> {
  const server = http.createServer(handle);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

/** A Node on PATH older than the 22.12 llmlb needs (this machine's system Node), if there is one. */
function olderNode(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const file = path.join(dir, "node");
    if (dir.includes("node_modules") || !fs.existsSync(file)) continue;
    const version = execFileSync(file, ["--version"], { encoding: "utf8" }).trim();
    const [major, minor] = version.slice(1).split(".").map(Number) as [number, number];
    if (major < 22 || (major === 22 && minor < 12)) return file;
  }
  return undefined;
}
const older = olderNode();

describe("the built llmlb", () => {
  it("runs its workers from the build, not from the sources under tsx (a dev dependency)", async () => {
    const dir = await makeTempDir();
    const built = await startServeProcess(
      ["--port", "0", "--workers", "1"],
      { ...env, LLMLB_DATA_DIR: dir.path },
      { built: true },
    );
    try {
      const [worker] = await waitFor("its worker to start", () => {
        const pids = workerPids(built.child.pid!);
        return pids.length > 0 ? pids : undefined;
      });
      const command = commandLine(worker!);
      expect(command).toContain(path.join("out", "main", "worker.js"));
      expect(command).not.toContain("tsx");
    } finally {
      await built.stop();
      await dir.remove();
    }
  });
});

describe("llmlb on an older Node", () => {
  it.skipIf(!older)(
    `serves on the Node the project brings${older ? "" : " (skipped: no Node older than 22.12 on PATH)"}`,
    async () => {
      const dir = await makeTempDir();
      const old = await startServeProcess(
        ["--port", "0", "--workers", "none"],
        { ...env, LLMLB_DATA_DIR: dir.path },
        { built: true, node: older! },
      );
      try {
        expect((await fetch(`${old.url}/v0/health`)).status).toBe(200);
        const info = JSON.parse(fs.readFileSync(path.join(dir.path, "server.json"), "utf8")) as {
          pid: number;
        };
        expect(commandLine(info.pid)).toContain(path.join("node_modules", "node", "bin", "node"));
        expect(await old.stop()).toBe(0);
      } finally {
        await dir.remove();
      }
    },
  );
});

describe("llmlb model", () => {
  it("adds, lists, shows JSON, removes, and reports errors with the server's message and a non-zero exit", async () => {
    const add = await runCli(["model", "add", "https://huggingface.co/acme/tiny-GGUF"], env);
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(
      /^Registered acme\/tiny-GGUF \(acme\/tiny-GGUF@[0-9a-f]{12}, 3 GGUF files, each node picks one; [\d.]+ KB in all\)\n/,
    );

    const file = await runCli(["model", "add", "acme/tiny-GGUF", "--file", "tiny-Q8_0.gguf"], env);
    expect(file.code).toBe(0);
    expect(file.stdout).toMatch(
      /^Registered acme\/tiny-GGUF\/tiny-Q8_0\.gguf \(.*, tiny-Q8_0\.gguf, [\d.]+ KB\)\n/,
    );

    const warned = await runCli(["model", "add", "acme/weights-only"], env);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toMatch(/warning: No GGUF file/);

    const duplicate = await runCli(["model", "add", "acme/tiny-GGUF"], env);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain(
      "error: Model acme/tiny-GGUF is already registered. `llmlb model show acme/tiny-GGUF` says where it stands",
    );

    const missing = await runCli(["model", "add", "acme/nope"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/was not found on the hub/);

    // Pinned at registration to a node there is not: refused, and nothing registered.
    const pinned = await runCli(
      ["model", "add", "acme/tiny-GGUF", "--file", "tiny-Q4_K_M.gguf", "--nodes", "gpu9"],
      env,
    );
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toMatch(/error: No node is named gpu9\./);

    const list = await runCli(["model", "list"], env);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ID\s+QUANT\s+SIZE\s+READY\s+NODES$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual([
      "acme/weights-only",
      "acme/tiny-GGUF/tiny-Q8_0.gguf",
      "acme/tiny-GGUF",
    ]);
    expect(lines[2]).toMatch(/Q8_0\s+8\.2 KB\s+no\s+no node yet$/);
    // A repo registration: every file's size until a node has chosen one (the dashboard says the same).
    expect(lines[3]).toMatch(/\s\d+(\.\d)? KB all\s+no\s+no node yet$/);

    const shown = await runCli(["model", "show", "acme/tiny-GGUF/tiny-Q8_0.gguf"], env);
    expect(shown.stderr).toBe("");
    const shownLines = shown.stdout.trimEnd().split("\n");
    expect(shownLines[0]).toBe("acme/tiny-GGUF/tiny-Q8_0.gguf");
    expect(shownLines).toContainEqual(
      expect.stringMatching(/^ {2}source +acme\/tiny-GGUF at main \(commit [0-9a-f]{12}\)$/),
    );
    expect(shownLines).toContain("  files            tiny-Q8_0.gguf  Q8_0  8.2 KB");
    expect(shownLines).toContain("  ready            no");
    expect(shownLines).toContain("  nodes            none has taken it up yet");
    expect(shownLines).toContain("  context size     auto (what the model and memory allow)");
    // By the link it was added with, as `model add`, `rm` and `chat` take it.
    const byLink = await runCli(
      ["model", "show", "https://huggingface.co/acme/tiny-GGUF/blob/main/tiny-Q8_0.gguf"],
      env,
    );
    expect(byLink.stdout).toBe(shown.stdout);
    const shownJson = await runCli(["model", "show", "acme/tiny-GGUF/tiny-Q8_0.gguf", "--json"], env);
    expect(JSON.parse(shownJson.stdout)).toMatchObject({
      name: "acme/tiny-GGUF/tiny-Q8_0.gguf",
      ready: false,
    });
    const unknown = await runCli(["model", "show", "acme/nope"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("acme/nope");

    const searched = await runCli(["model", "list", "--search", "Q8", "--json"], env);
    expect(JSON.parse(searched.stdout)).toMatchObject({
      total: 1,
      data: [{ name: "acme/tiny-GGUF/tiny-Q8_0.gguf" }],
    });

    const none = await runCli(["model", "list", "--search", "zzz"], env);
    expect(none.stdout.trim()).toBe('No models match "zzz".');

    const paged = await runCli(["model", "list", "--limit", "1", "--offset", "1"], env);
    expect(paged.stdout).toContain("acme/tiny-GGUF/tiny-Q8_0.gguf");
    expect(paged.stdout).toContain("(2-2 of 3)");

    // By the link it was added with, as well as by its id.
    const rm = await runCli(
      ["model", "rm", "https://huggingface.co/acme/tiny-GGUF/blob/main/tiny-Q8_0.gguf"],
      env,
    );
    expect(rm.code).toBe(0);
    expect(rm.stdout).toBe("Removed acme/tiny-GGUF/tiny-Q8_0.gguf\n");
    const rmAgain = await runCli(["model", "rm", "acme/tiny-GGUF/tiny-Q8_0.gguf"], env);
    expect(rmAgain.code).toBe(1);
    expect(rmAgain.stderr).toContain("is not registered");
    // By the name Ollama and the hub's "Use this model" give it, as a link too.
    expect((await runCli(["model", "add", "acme/tiny-GGUF:Q8_0"], env)).code).toBe(0);
    const rmTag = await runCli(["model", "rm", "hf.co/acme/tiny-GGUF:q8_0"], env);
    expect(rmTag.stderr).toBe("");
    expect(rmTag.stdout).toBe("Removed acme/tiny-GGUF/tiny-Q8_0.gguf (acme/tiny-GGUF:Q8_0)\n");

    const status = await runCli(["status"], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`${serve.url}/v1`);
    expect(status.stdout).toMatch(/Models: +2, 0 ready/);
    expect(status.stdout).toContain(`  OpenAI API: ${serve.url}/v1\n`);
    expect(status.stdout).toMatch(/Serving: +yes/);
    expect(status.stdout).toMatch(/Loaded: +none/);
  });

  it("tells how to set a Hugging Face token in ways that reach the server, for a gated repo", async () => {
    const gated = await runCli(["model", "add", "acme/gated-GGUF"], env);
    expect(gated.code).toBe(1);
    expect(gated.stderr).toBe(
      "error: acme/gated-GGUF is gated: accept its terms on the model page, then set a Hugging Face token (in the dashboard's Settings, with `llmlb settings set --hf-token <token>`, or as HF_TOKEN where `llmlb serve` starts).\n",
    );
  });

  it("says so when an endpoint added serves a model registered here, and how to keep them apart", async () => {
    const id = "acme/tiny-GGUF/tiny-Q4_K_M.gguf";
    expect((await runCli(["model", "add", id], env)).code).toBe(0);
    const vllm = await startFakeOpenAiServer({ name: "vllm", models: [id, "qwen-7b"] });
    try {
      const added = await runCli(["endpoint", "add", "vllm-shared", vllm.url], env);
      expect(added.code).toBe(0);
      expect(added.stderr).toBe(
        `note: ${id} is registered here too: its requests are now shared between its workers and vllm-shared (\`llmlb model set ${id} --nodes <names>\` keeps them on some).\n`,
      );
      // Pinned to it, then it is removed: said, as `node rm` says it.
      expect((await runCli(["model", "set", id, "--nodes", "vllm-shared"], env)).code).toBe(0);
      const removed = await runCli(["endpoint", "rm", "vllm-shared"], env);
      expect(removed.code).toBe(0);
      expect(removed.stderr).toBe(
        `warning: the pin of ${id} still names vllm-shared: pin it anew (llmlb model set <id> --nodes <names>, or --nodes any).\n`,
      );
    } finally {
      await runCli(["endpoint", "rm", "vllm-shared"], env);
      await runCli(["model", "rm", id], env);
      await vllm.close();
    }
  });

  it("pauses and resumes serving", async () => {
    const paused = await runCli(["pause"], env);
    expect(paused.code).toBe(0);
    expect((await runCli(["status"], env)).stdout).toMatch(/Serving: +paused/);
    const refused = await fetch(`${serve.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "acme/tiny-GGUF", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(refused.status).toBe(503);
    expect((await runCli(["resume"], env)).code).toBe(0);
    expect((await runCli(["status", "--json"], env)).stdout).toContain('"paused": false');
  });

  it("lists no nodes when serve runs without workers, and says how to get some", async () => {
    const nodes = await runCli(["node", "list"], env);
    expect(nodes.code).toBe(0);
    expect(nodes.stdout).toMatch(/No nodes\. `llmlb serve` starts one per GPU/);
  });

  it("rejects bad flags before calling the server", async () => {
    const result = await runCli(["model", "list", "--limit", "ten"], env);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Must be a whole number/);
    // The line that says what is wrong, and where the usage is; not the whole usage after it.
    expect(result.stderr).toBe(
      "error: option '--limit <n>' argument 'ten' is invalid. Must be a whole number\n(add --help for usage)\n",
    );
    const huge = await runCli(["model", "set", "acme/tiny-GGUF", "--context", "99999999999"], env);
    expect(huge.code).not.toBe(0);
    expect(huge.stderr).toContain("Must be auto or a whole number from 128 to 1,048,576");
    const empty = await runCli(["model", "add", "acme/tiny-GGUF", "--revision", ""], env);
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain("Must name a branch, tag or commit");
    // A number the server would refuse later is refused here, saying the range.
    const workers = await runCli(["serve", "--workers", "65"], env);
    expect(workers.code).not.toBe(0);
    expect(workers.stderr).toContain(
      "Must be auto, cuda, vulkan, metal, cpu, none or a number of CPU workers from 1 to 64",
    );
    for (const wrong of ["notaurl", "localhost:8080", ""]) {
      const notUrl = await runCli(["--url", wrong, "status"], env);
      expect(notUrl.code).toBe(1);
      expect(notUrl.stderr).toContain(`--url ${JSON.stringify(wrong)} is not an http(s) address`);
    }
    // `npm run serve --port 8081`, the `--` forgotten: npm passes the value on alone.
    const npmRun = await runCli(["serve", "8081"], { ...env, npm_lifecycle_event: "serve" });
    expect(npmRun.code).toBe(1);
    expect(npmRun.stderr).toContain("(with npm, llmlb's flags go after `--`: npm run serve -- --port 8081)");
    // Ollama's words, which llmlb has under other names, say which.
    const ollama = await runCli(["list"], env);
    expect(ollama.code).toBe(1);
    expect(ollama.stderr).toBe(
      "error: unknown command 'list'\n(add --help for usage)\n(ollama's list is llmlb model list here)\n",
    );
  });

  it("stops quietly when whatever reads its output goes away (`llmlb model list | true`)", async () => {
    const child = spawn(process.execPath, [path.join(root, "bin/llmlb.js"), "model", "list"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    // The reader is gone before the first line is written.
    child.stdout!.destroy();
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    const [code] = await once(child, "exit");
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("says how to start a server when none runs for the data directory", async () => {
    const empty = await makeTempDir();
    try {
      const result = await runCli(["model", "list"], { ...env, LLMLB_DATA_DIR: empty.path });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/No running llmlb server .*`llmlb serve`/);
      // A server may run on another data directory: how to reach it.
      expect(result.stderr).toContain("give the same --data-dir (or LLMLB_DATA_DIR), or pass --url");
    } finally {
      await empty.remove();
    }
  });

  it("uses --url and --token when given, and refuses a wrong token", async () => {
    const token = fs.readFileSync(path.join(served.dataDir, "admin-token"), "utf8").trim();
    const other = await makeTempDir();
    try {
      const ok = await runCli(["--url", serve.url, "--token", token, "model", "list", "--json"], {
        ...env,
        LLMLB_DATA_DIR: other.path,
      });
      expect(ok.code).toBe(0);
      const bad = await runCli(["--url", serve.url, "--token", "wrong-token-0000", "model", "list"], {
        ...env,
        LLMLB_DATA_DIR: other.path,
      });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/token is not valid for this endpoint \(it needs the admin token\)/);
      expect(bad.stderr).toContain("(the CLI sent --token.)");
      // The server's own data directory, and its URL as it prints it for OpenAI clients (ending in /v1).
      const own = await runCli(["--url", `${serve.url}/v1`, "status"], env);
      expect(own.stderr).toBe("");
      expect(own.code).toBe(0);
      const fromOther = await runCli(["--url", serve.url, "model", "list"], {
        ...env,
        LLMLB_DATA_DIR: other.path,
      });
      expect(fromOther.code).toBe(1);
      expect(fromOther.stderr).toContain(
        `(the CLI sent no token: the admin token of data directory ${other.path} goes only to the server it lists; give ${serve.url}'s with --token.)`,
      );
    } finally {
      await other.remove();
    }
  });

  it("against a server started with LLMLB_ADMIN_TOKEN, says where that token goes, and takes it from the environment", async () => {
    const dir = await makeTempDir();
    const adminToken = "llmlb_admin_from_the_environment";
    const proc = await startServeProcess(["--port", "0", "--workers", "none"], {
      ...env,
      LLMLB_DATA_DIR: dir.path,
      LLMLB_ADMIN_TOKEN: adminToken,
    });
    try {
      const without = await runCli(["status"], { ...env, LLMLB_DATA_DIR: dir.path });
      expect(without.code).toBe(1);
      expect(without.stderr).toContain(
        `(the CLI sent no token: data directory ${dir.path} has none; a server started with LLMLB_ADMIN_TOKEN takes that token, given here with --token or LLMLB_ADMIN_TOKEN.)`,
      );
      const withIt = await runCli(["status"], {
        ...env,
        LLMLB_DATA_DIR: dir.path,
        LLMLB_ADMIN_TOKEN: adminToken,
      });
      expect(withIt.code).toBe(0);
    } finally {
      await proc.stop();
      await dir.remove();
    }
  });

  it("gives up on a server that does not answer, after --timeout, saying so", async () => {
    // Accepts the connection and never answers, as a stopped (SIGSTOP) or wedged server does.
    const silent = net.createServer(() => {});
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const result = await runCli(["--url", url, "--timeout", "1", "status"], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `error: The llmlb server at ${url} did not answer within 1 s: it may be stopped or overloaded (--timeout sets how long to wait).\n`,
      );
    } finally {
      silent.close();
    }
  });

  it("sends the data directory's admin token only to the server it lists, not to another --url", async () => {
    const seen: (string | undefined)[] = [];
    const { url, close } = await otherServer((request, response) => {
      seen.push(request.headers.authorization);
      response.writeHead(401, { "content-type": "application/json" });
      const error = {
        message: "Unauthorized.",
        type: "authentication_error",
        code: "auth.missing_token",
        param: null,
      };
      response.end(JSON.stringify({ error }));
    });
    try {
      const refused = await runCli(["--url", url, "model", "list"], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        `goes only to the server it lists (${serve.url}); give ${url}'s with --token`,
      );
      await runCli(["--url", url, "--token", "its-own-token", "model", "list"], env);
      expect(seen).toEqual([undefined, "Bearer its-own-token"]);
      // Its own server, named by --url as the banner prints it, or by another loopback name, gets it still.
      expect((await runCli(["--url", `${serve.url}/v1`, "model", "list"], env)).code).toBe(0);
      const byName = serve.url.replace("127.0.0.1", "LOCALHOST");
      expect((await runCli(["--url", byName, "model", "list"], env)).code).toBe(0);
    } finally {
      close();
    }
  });

  it("says when the server at --url is not an llmlb server", async () => {
    const { url, close } = await otherServer((_request, response) =>
      response.writeHead(404).end("no such page"),
    );
    try {
      const result = await runCli(["--url", url, "model", "list"], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `error: The server at ${url} answered 404 to GET /v0/models: is it an llmlb server?\n`,
      );
    } finally {
      close();
    }
  });
});

describe("llmlb requests", () => {
  it("lists the latest requests as the access log has them, a failure with its reason, filtered as asked", async () => {
    const asked = await fetch(`${serve.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "acme/typo-GGUF", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(asked.status).toBe(404);
    const told = ((await asked.json()) as { error: { message: string; code: string } }).error;
    const id = asked.headers.get("x-request-id")!;

    const listed = await runCli(["requests"], env);
    expect(listed.code).toBe(0);
    const [header, ...rows] = listed.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^TIME +STATUS +MODEL +ROUTE +NODE +DURATION +TOKENS +WHY$/);
    const row = rows.find((line) => line.includes("acme/typo-GGUF"))!;
    expect(row).toMatch(
      /^\d\d:\d\d:\d\d +404 +acme\/typo-GGUF \(not served here\) +\/v1\/chat\/completions +- +\d+ ms +- +/,
    );
    expect(row).toContain(`${told.code}: ${told.message} (${id})`);

    const json = await runCli(["requests", "--json"], env);
    const records = (JSON.parse(json.stdout) as { data: { id: string }[] }).data;
    expect(records.map((record) => record.id)).toContain(id);

    expect((await runCli(["requests", "--failures", "--model", "typo"], env)).stdout).toContain(id);
    const none = await runCli(["requests", "--model", "nothing-like-it"], env);
    expect(none).toMatchObject({ code: 0, stdout: "No request matches.\n" });
  });
});

describe("the CLI against an older llmlb server", () => {
  it("says --before needs a server that pages its requests, rather than listing the newest again", async () => {
    const { url, close } = await otherServer((_request, response) =>
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: [] })),
    );
    try {
      const result = await runCli(["requests", "--before", "req_1", "--url", url, "--token", "t"], {});
      expect(result).toMatchObject({
        code: 1,
        stderr: `error: The server at ${url} is an llmlb older than paging: it lists its latest requests only (leave out --before).\n`,
      });
    } finally {
      close();
    }
  });

  it("says an answer it cannot read comes from another llmlb, rather than fail on a missing field", async () => {
    // An llmlb whose status lacks what this CLI shows (or something else listening on the port).
    const { url, close } = await otherServer((_request, response) =>
      response.writeHead(200, { "content-type": "application/json" }).end('{"version":"0.0.1"}'),
    );
    try {
      const result = await runCli(["status", "--url", url, "--token", "t"], {});
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `^error: The server at ${url} answered GET /v0/status in a shape this CLI \\(llmlb \\d+\\.\\d+\\.\\d+[^)]*\\) does not read \\(\\w+ is required\\): it is likely another llmlb version\\. Restart it with this llmlb`,
        ),
      );
      expect(result.stderr).not.toMatch(/TypeError|\n\s+at /);
    } finally {
      close();
    }
  });

  it("shows what a newer server says, a state it does not know and fields it does not read included, and --json as sent", async () => {
    const node = {
      ...workerInfo("gpu-0"),
      health: { state: "rebalancing", reason: "a state of a later llmlb", since: null },
      added_later: { by: "a newer llmlb" },
    };
    const { url, close } = await otherServer((request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      if (request.url === "/v0/nodes") return void response.end(JSON.stringify({ data: [node] }));
      if (request.url === "/v0/health")
        return void response.end(
          JSON.stringify({ status: "ok", version: "9.0.0", uptime_seconds: 1, models: 0 }),
        );
      response.end(JSON.stringify({ ...status(), added_later: true }));
    });
    try {
      const listed = await runCli(["node", "list", "--url", url, "--token", "t"], {});
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^gpu-0 /m);
      const json = await runCli(["node", "list", "--json", "--url", url, "--token", "t"], {});
      expect(JSON.parse(json.stdout)).toEqual({ data: [node] });
      const shown = await runCli(["status", "--url", url, "--token", "t"], {});
      expect(shown.code).toBe(0);
      const statusJson = JSON.parse(
        (await runCli(["status", "--json", "--url", url, "--token", "t"], {})).stdout,
      );
      expect(statusJson).toMatchObject({ added_later: true, nodes: [node] });
    } finally {
      close();
    }
  });

  it("says a command the server lacks needs a newer server, whichever way its 404 is worded", async () => {
    const bodies = [
      // An llmlb with its own not-found answer…
      {
        error: {
          message: "Route GET:/v0/requests not found.",
          type: "invalid_request_error",
          code: "request.not_found",
          param: null,
        },
      },
      // …and one older than that, with Fastify's.
      { message: "Route GET:/v0/requests not found", error: "Not Found", statusCode: 404 },
    ];
    for (const body of bodies) {
      const { url, close } = await otherServer((_request, response) =>
        response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify(body)),
      );
      try {
        const result = await runCli(["requests", "--url", url, "--token", "t"], {});
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(
          new RegExp(
            `^error: The server at ${url} has no GET /v0/requests: it is likely an llmlb older than this CLI \\(\\d+\\.\\d+\\.\\d+[^)]*\\)\\. Restart it with this llmlb`,
          ),
        );
      } finally {
        close();
      }
    }
  });
});

describe("llmlb node rm", () => {
  it("removes an offline worker, saying what it removed, and refuses an online one with the server's message", async () => {
    // Its own control plane, whose nodes go offline after 1.5 s of silence instead of 6 s (time enough
    // for a node beating every 0.1 s to stay online while CLI processes start on a busy machine).
    const server = await startCoreWithHub({
      core: { nodeTimings: { heartbeatIntervalMs: 100, syncIntervalMs: 1000, offlineAfterMs: 1500 } },
    });
    const cliEnv = { LLMLB_DATA_DIR: server.dataDir };
    const memory = { total_bytes: 8e9, free_bytes: 4e9 };
    const register = async (name: string) => {
      const body = { name, url: "http://127.0.0.1:1", backend: "cpu", devices: [], memory };
      const registered = await server.request("POST", "/v0/nodes/register", { body });
      expect(registered.status).toBe(201);
      return registered.body as { node_id: string; node_token: string };
    };
    let beating: NodeJS.Timeout | undefined;
    try {
      // It had a model ready when it was last heard from.
      expect(
        (await server.request("POST", "/v0/models/register", { body: { url: "acme/tiny-GGUF" } })).status,
      ).toBe(201);
      const retired = await register("gpu-box-retired");
      const ready = { model: "acme/tiny-GGUF", artifact: "tiny-Q4_K_M.gguf", state: "ready" };
      const beat = await server.request("POST", `/v0/nodes/${retired.node_id}/heartbeat`, {
        body: { memory, models: [ready] },
        headers: { authorization: `Bearer ${retired.node_token}` },
      });
      expect(beat.status).toBe(200);
      // Offline, it has nothing ready, whatever it last said (1 model ready).
      await waitFor("gpu-box-retired to go offline", async () =>
        /^gpu-box-retired .* offline +0\/1 /m.test((await runCli(["node", "list"], cliEnv)).stdout),
      );
      // A node that keeps beating, as a running worker does.
      const running = await register("gpu-box-running");
      beating = setInterval(() => {
        void server
          .request("POST", `/v0/nodes/${running.node_id}/heartbeat`, {
            body: { memory, models: [] },
            headers: { authorization: `Bearer ${running.node_token}` },
          })
          .catch(() => undefined);
      }, 100);

      // A model pinned to it keeps the name in its pin: said, to pin it anew.
      const pin = await server.request("PATCH", "/v0/models/acme%2Ftiny-GGUF", {
        body: { settings: { nodes: ["gpu-box-retired", "gpu-box-running"] } },
      });
      expect(pin.status).toBe(200);
      const removed = await runCli(["node", "rm", "gpu-box-retired"], cliEnv);
      expect(removed.stderr).toBe(
        "warning: the pin of acme/tiny-GGUF still names gpu-box-retired: pin it anew (llmlb model set <id> --nodes <names>, or --nodes any).\n",
      );
      expect(removed.code).toBe(0);
      expect(removed.stdout).toBe(
        "Removed node gpu-box-retired (http://127.0.0.1:1) and the states it reported for 1 model(s): acme/tiny-GGUF\n",
      );
      const list = await runCli(["node", "list"], cliEnv);
      expect(list.stdout).not.toContain("gpu-box-retired");
      expect(list.stdout).toContain("gpu-box-running");

      // Out of rotation for maintenance, and back.
      const drained = await runCli(["node", "drain", "gpu-box-running"], cliEnv);
      expect(drained.code).toBe(0);
      expect(drained.stdout).toBe(
        "Drained gpu-box-running: nothing new goes to it. `llmlb node undrain gpu-box-running` puts it back.\n",
      );
      const drainedOf = async () => {
        const listed = (JSON.parse((await runCli(["node", "list", "--json"], cliEnv)).stdout) as NodeList)
          .data;
        const { draining, drained } = listed.find((entry) => entry.name === "gpu-box-running")!;
        return draining && drained;
      };
      expect(await drainedOf()).toBe(true);
      expect((await runCli(["status"], cliEnv)).stdout).toContain(
        "  Drained:    gpu-box-running (no new requests; `llmlb node undrain <name>` puts one back)\n",
      );
      const undrained = await runCli(["node", "undrain", "gpu-box-running"], cliEnv);
      expect(undrained.stdout).toBe("gpu-box-running is back in rotation.\n");
      expect(await drainedOf()).toBeUndefined();

      const online = await runCli(["node", "rm", "gpu-box-running"], cliEnv);
      expect(online.code).toBe(1);
      expect(online.stdout).toBe("");
      expect(online.stderr).toBe(
        "error: Node gpu-box-running is online: it would register again at its next heartbeat. Stop it first (its `llmlb serve` or `llmlb node --join`), then remove it once it shows offline; or, to keep its machine out, replace the node token (llmlb node token --replace), then remove it with --force.\n",
      );
      const unknown = await runCli(["node", "rm", "gpu-box-retired"], cliEnv);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toBe("error: There is no node named or with id gpu-box-retired.\n");
    } finally {
      clearInterval(beating);
      await server.close();
    }
  });
});

describe("LLMLB_MAX_LOADED_MODELS", () => {
  it("out of range, stops serve with what fits, rather than every worker it would start", async () => {
    const dir = await makeTempDir();
    try {
      const result = await runCli(["serve", "--port", "0", "--workers", "none"], {
        ...env,
        LLMLB_DATA_DIR: dir.path,
        LLMLB_MAX_LOADED_MODELS: "0",
      });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/LLMLB_MAX_LOADED_MODELS.*a whole number from 1 to 64/);
    } finally {
      await dir.remove();
    }
  });
});

describe("LLMLB_NODE_TOKEN", () => {
  it("mistyped in a node machine's environment, does not stop the client commands", async () => {
    const status = await runCli(["status"], { ...env, LLMLB_NODE_TOKEN: "short" });
    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
  });
});

describe("LLMLB_ADMIN_TOKEN", () => {
  it("is used instead of a generated token, none is written to disk, and client commands use it too", async () => {
    const dir = await makeTempDir();
    const token = "llmlb_configured_admin_token_0001";
    const proc = await startServeProcess(["--port", "0", "--workers", "none"], {
      ...env,
      LLMLB_DATA_DIR: dir.path,
      LLMLB_ADMIN_TOKEN: token,
    });
    try {
      expect(proc.output.join("\n")).toContain(`#token=${token}`);
      expect(fs.existsSync(path.join(dir.path, "admin-token"))).toBe(false);
      const list = await runCli(["model", "list", "--json"], {
        ...env,
        LLMLB_DATA_DIR: dir.path,
        LLMLB_ADMIN_TOKEN: token,
      });
      expect(list.code).toBe(0);
      expect(JSON.parse(list.stdout).total).toBe(0);
    } finally {
      await proc.stop();
      await dir.remove();
    }
  });
});

describe("a second serve", () => {
  it("on the same data directory is refused, naming the running one, which keeps working", async () => {
    const second = await runCli(["serve", "--port", "0", "--workers", "none"], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`llmlb is already running for ${served.dataDir}`);
    expect(second.stderr).toContain(serve.url);
    expect((await runCli(["model", "list"], env)).code).toBe(0);
  });

  it("on a port in use says so and exits, leaving nothing behind", async () => {
    const other = await makeTempDir();
    try {
      const port = new URL(serve.url).port;
      const result = await runCli(["serve", "--port", port, "--workers", "none"], {
        ...env,
        LLMLB_DATA_DIR: other.path,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`error: Port ${port} on 127\\.0\\.0\\.1 is in use.*--port`));
      expect(fs.existsSync(path.join(other.path, "server.json"))).toBe(false);
      // The directory is free again for a server that can listen.
      const next = await startServeProcess(["--port", "0", "--workers", "none"], {
        ...env,
        LLMLB_DATA_DIR: other.path,
      });
      await next.stop();
    } finally {
      await other.remove();
    }
  });

  it("with a data directory it cannot write refuses to start, saying why and how to choose another", async () => {
    const other = await makeTempDir();
    try {
      fs.writeFileSync(path.join(other.path, "a-file"), "x");
      const dataDir = path.join(other.path, "a-file", "data");
      const result = await runCli(["serve", "--port", "0", "--workers", "none"], {
        ...env,
        LLMLB_DATA_DIR: dataDir,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `error: The data directory ${dataDir} cannot be used: ${path.join(other.path, "a-file")} is a file, not a folder. Choose another with --data-dir or LLMLB_DATA_DIR.\n`,
      );
    } finally {
      await other.remove();
    }
  });

  it("with a model cache it cannot write refuses to start, saying why and where to point it", async () => {
    const other = await makeTempDir();
    try {
      // A cache folder under a file: every download would fail on it.
      fs.writeFileSync(path.join(other.path, "not-a-folder"), "x");
      const cache = path.join(other.path, "not-a-folder", "hub");
      const result = await runCli(["serve", "--port", "0", "--workers", "none"], {
        ...env,
        LLMLB_DATA_DIR: other.path,
        HF_HUB_CACHE: cache,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `error: The model cache folder ${cache} cannot be used: ${path.join(other.path, "not-a-folder")} is a file, not a folder. Point HF_HUB_CACHE (or HF_HOME) at a folder this user can write.\n`,
      );
      expect(fs.existsSync(path.join(other.path, "server.json"))).toBe(false);
    } finally {
      await other.remove();
    }
  });
});

describe("API keys", () => {
  it("refuses to listen beyond loopback without one, and says how to set one", async () => {
    const result = await runCli(["serve", "--host", "0.0.0.0", "--port", "0", "--workers", "none"], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error: Listening on 0\.0\.0\.0 .*--api-key/);
  });

  it("beyond loopback, the banner gives this machine's addresses and where the node token is", async () => {
    const dir = await makeTempDir();
    const proc = await startServeProcess(
      ["--host", "0.0.0.0", "--port", "0", "--workers", "none", "--api-key", "sk-network-1"],
      { ...env, LLMLB_DATA_DIR: dir.path },
    );
    try {
      const port = new URL(proc.url).port;
      const addresses = Object.values(os.networkInterfaces())
        .flat()
        .filter((entry) => entry !== undefined && !entry.internal && entry.family === "IPv4")
        .map((entry) => entry!.address);
      for (const address of addresses)
        expect(proc.output).toContain(`  Network:     http://${address}:${port}/v1 (with an API key)`);
      expect(proc.output).toContain(
        "  Join:        `llmlb node token` prints the command that joins another machine",
      );
      // sk-network-1 is 12 characters: a guess away, beyond this machine.
      expect(proc.output).toContainEqual(
        expect.stringMatching(/^ {2}Warning: {5}an API key is shorter than 16 characters/),
      );
      // The command for each of this machine's addresses, with the node token.
      const token = fs.readFileSync(path.join(dir.path, "node-token"), "utf8").trim();
      const join = await runCli(["node", "token"], { LLMLB_DATA_DIR: dir.path });
      expect(join.code).toBe(0);
      for (const address of addresses)
        expect(join.stdout).toContain(
          `  LLMLB_NODE_TOKEN=${token} llmlb node --join http://${address}:${port} --host 0.0.0.0\n`,
        );
    } finally {
      await proc.stop();
      await dir.remove();
    }
  });

  it("from --api-key and LLMLB_API_KEY are what /v1 accepts", async () => {
    const dir = await makeTempDir();
    const proc = await startServeProcess(
      ["--port", "0", "--workers", "none", "--api-key", "sk-flag-1", "--api-key", "sk-flag-2"],
      { ...env, LLMLB_DATA_DIR: dir.path, LLMLB_API_KEY: "sk-env-1,sk-env-2" },
    );
    try {
      const modelsWith = (key?: string) =>
        fetch(`${proc.url}/v1/models`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
      // Flags win over the environment, as for every setting.
      expect((await modelsWith("sk-flag-1")).status).toBe(200);
      expect((await modelsWith("sk-flag-2")).status).toBe(200);
      expect((await modelsWith("sk-env-1")).status).toBe(401);
      expect((await modelsWith()).status).toBe(401);
      const status = await runCli(["status"], { ...env, LLMLB_DATA_DIR: dir.path });
      expect(status.stdout).toContain(`  OpenAI API: ${proc.url}/v1 (needs an API key)\n`);
    } finally {
      await proc.stop();
      await dir.remove();
    }
  });
});

describe("shutdown", () => {
  it("stops on SIGTERM with exit code 0 and removes server.json", async () => {
    const second = await makeTempDir();
    const proc = await startServeProcess(["--port", "0", "--workers", "none"], {
      ...env,
      LLMLB_DATA_DIR: second.path,
    });
    expect(fs.existsSync(path.join(second.path, "server.json"))).toBe(true);
    expect(await proc.stop()).toBe(0);
    expect(fs.existsSync(path.join(second.path, "server.json"))).toBe(false);
    await second.remove();
  });
});

describe("configuration errors", () => {
  it("name the variable, flag or config.json key the value came from, and what a good one looks like", async () => {
    const serveWith = (args: string[], extra: NodeJS.ProcessEnv) =>
      runCli(["serve", "--workers", "none", ...args], { ...env, ...extra });
    const port = await serveWith([], { LLMLB_PORT: "abc" });
    expect(port.code).toBe(2);
    expect(port.stderr).toBe(
      'error: LLMLB_PORT is "abc", which is not a port: give a whole number from 0 to 65535 (0 picks a free one).\n',
    );
    const workers = await runCli(["serve", "--port", "0"], { ...env, LLMLB_WORKERS: "banana" });
    expect(workers.stderr).toBe(
      'error: LLMLB_WORKERS is "banana", which is not a workers mode: give auto, cuda, vulkan, metal, cpu, none, or a number of CPU workers from 1 to 64.\n',
    );
    expect((await serveWith(["--port", "0"], { HF_ENDPOINT: "notaurl" })).stderr).toMatch(
      /^error: HF_ENDPOINT is "notaurl", which is not a hub URL: give an http\(s\) address without a user name or password, https:\/\/huggingface\.co/,
    );
    expect((await serveWith(["--port", "0", "--cors-origin", "notaurl"], {})).stderr).toMatch(
      /^error: --cors-origin is "notaurl", which is not a web origin: give scheme:\/\/host\[:port\] with no path, like http:\/\/localhost:3000, or \* for any\.\n$/,
    );
    expect((await serveWith(["--port", "0", "--api-key", ""], {})).stderr).toBe(
      "error: --api-key is not a usable API key: give the text /v1 clients must send as a bearer token (not empty).\n",
    );

    const dir = await makeTempDir();
    try {
      const file = path.join(dir.path, "config.json");
      fs.writeFileSync(file, JSON.stringify({ port: "abc" }));
      const fromFile = await runCli(["serve", "--workers", "none"], { ...env, LLMLB_DATA_DIR: dir.path });
      expect(fromFile.code).toBe(2);
      expect(fromFile.stderr).toBe(
        `error: "port" in ${file} is "abc", which is not a port: give a whole number from 0 to 65535 (0 picks a free one).\n`,
      );
    } finally {
      await dir.remove();
    }
  });
});

describe("llmlb settings and llmlb quit", () => {
  it("a port set by --port or LLMLB_PORT at start is shown so and cannot be changed here", async () => {
    const shown = await runCli(["settings"], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(
      /^ {2}Port: +0 \(any free port\), set by --port or LLMLB_PORT at this start/m,
    );
    const refused = await runCli(["settings", "set", "--port", "9000"], env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toBe(
      "error: The port comes from --port or LLMLB_PORT, given when llmlb started; change it there.\n",
    );
  });

  it("shows and changes the settings, warns of keys config.json has that llmlb does not read, and quits", async () => {
    const dir = await makeTempDir();
    const dataDir = path.join(dir.path, "data");
    const configFile = path.join(dataDir, "config.json");
    fs.mkdirSync(dataDir);
    // The port saved, not given at start: Settings may change it. "prot" is a typo.
    fs.writeFileSync(configFile, JSON.stringify({ port: 0, prot: 18760 }));
    // The cache where XDG_CACHE_HOME puts it: HF_HUB_CACHE would set it for this start, read-only.
    const own = {
      ...env,
      LLMLB_DATA_DIR: dataDir,
      HF_HUB_CACHE: undefined,
      XDG_CACHE_HOME: path.join(dir.path, "xdg"),
    };
    const proc = await startServeProcess(["--workers", "none"], own);
    const exited = once(proc.child, "exit");
    try {
      await waitFor("the warning about prot", () =>
        proc
          .logs()
          .includes(
            `warning: ${configFile}: "prot" is not a setting llmlb reads, so it is ignored (did you mean "port"?).\n`,
          ),
      );
      const cacheDir = path.join(dir.path, "xdg", "huggingface", "hub");
      const shown = await runCli(["settings"], own);
      expect(shown.stderr).toContain('"prot" is not a setting llmlb reads');
      expect(shown.code).toBe(0);
      expect(shown.stdout).toBe(
        [
          `llmlb at ${proc.url} (data directory ${dataDir})`,
          "  Hugging Face token: not set: gated and private repos need one (`llmlb settings set --hf-token <token>`)",
          `  Model cache:        ${cacheDir}`,
          "  Port:               0 (any free port)",
          "The port and the model cache apply when llmlb starts; the token, at once.",
          "",
        ].join("\n"),
      );

      const secret = "hf_cli_secret_token_0001";
      const newCache = path.join(dir.path, "models");
      const set = await runCli(
        ["settings", "set", "--hf-token", secret, "--port", "18999", "--cache-dir", newCache],
        own,
      );
      expect(set.code).toBe(0);
      expect(set.stdout + set.stderr).not.toContain(secret);
      expect(set.stdout).toBe(
        [
          `Hugging Face token: saved, in a file only your user can read (0600) in ${dataDir}; used from now on`,
          `Model cache: ${cacheDir} → ${newCache} (applies at the next start)`,
          "Port: 0 → 18999 (applies at the next start)",
          "Restart llmlb to apply them: `llmlb quit`, then start it again.",
          "",
        ].join("\n"),
      );
      // From standard input, out of the shell's history and the process list.
      const piped = await runCli(["settings", "set", "--hf-token", "-"], own, "hf_piped_secret_token_0002\n");
      expect(piped.code).toBe(0);
      expect(piped.stdout).toBe(
        `Hugging Face token: replaced, in a file only your user can read (0600) in ${dataDir}; used from now on\n`,
      );
      const empty = await runCli(["settings", "set", "--hf-token", "-"], own, "\n");
      expect(empty.code).toBe(2);
      expect(empty.stderr).toContain("--hf-token -: standard input held no token");
      const after = await runCli(["settings"], own);
      expect(after.stdout).not.toContain(secret);
      expect(after.stdout).toContain(
        `  Hugging Face token: set, in a file only your user can read (0600) in ${dataDir}\n`,
      );
      expect(after.stdout).toContain(`  Model cache:        ${newCache}\n`);
      expect(after.stdout).toContain("  Port:               18999\n");
      expect(after.stdout).toContain(
        "Saved changes to the port or the model cache wait for a restart: `llmlb quit`, then start llmlb again.",
      );
      const forgotten = await runCli(["settings", "set", "--no-hf-token"], own);
      expect(forgotten.stdout).toBe(
        "Hugging Face token: forgotten; the hub is asked without one from now on\n",
      );

      const relative = await runCli(["settings", "set", "--cache-dir", "models"], own);
      expect(relative.code).toBe(1);
      // Every command on this data directory warns of "prot", then says what went wrong.
      expect(relative.stderr).toMatch(
        /^warning: .*"prot".*\nerror: The cache folder must be an absolute path\.\n$/,
      );
      const nothing = await runCli(["settings", "set"], own);
      expect(nothing.code).toBe(2);
      expect(nothing.stderr).toMatch(/error: Nothing to change: give --hf-token <token>, --no-hf-token/);

      const quit = await runCli(["quit"], own);
      expect(quit.stderr).toContain('"prot" is not a setting llmlb reads');
      expect(quit.code).toBe(0);
      expect(quit.stdout).toBe(
        `Quitting llmlb at ${proc.url}: running requests finish, then its workers stop.\n` +
          `llmlb at ${proc.url} has stopped.\n`,
      );
      expect(fs.existsSync(path.join(dataDir, "server.json"))).toBe(false);
      expect((await exited)[0]).toBe(0);
      const again = await runCli(["quit"], own);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/No running llmlb server found/);
    } finally {
      await proc.stop();
      await dir.remove();
    }
  });
});

describe("a model cache folder that is gone", () => {
  it("is created again at start with a warning, when models are registered, that they download again", async () => {
    const dir = await makeTempDir();
    const own = {
      ...env,
      LLMLB_DATA_DIR: path.join(dir.path, "data"),
      HF_HUB_CACHE: path.join(dir.path, "hub"),
    };
    try {
      const first = await startServeProcess(["--port", "0", "--workers", "none"], own);
      try {
        expect((await runCli(["model", "add", "acme/tiny-GGUF"], own)).code).toBe(0);
      } finally {
        await first.stop();
      }
      expect(first.logs()).not.toMatch(/did not exist/);
      // The disk it was on is not mounted, the home folder moved: the folder is not there.
      fs.rmSync(own.HF_HUB_CACHE, { recursive: true, force: true });
      const again = await startServeProcess(["--port", "0", "--workers", "none"], own);
      await again.stop();
      expect(again.logs()).toMatch(
        /the model cache folder did not exist and was created empty: the registered models download again into it/,
      );
    } finally {
      await dir.remove();
    }
  });
});

/**
 * `npm run bench -- proxy`: what the balancer adds on the way to a node, against the node itself and
 * against nginx `proxy_pass` in front of the same node. Two fake nodes (an instant chat answer, and a
 * stream of SSE chunks with a fixed gap) run in a worker thread, so they do not share an event loop with
 * the control plane; the load comes from wrk (its own process, microsecond latencies); the chunk gaps are
 * timed by a client in another worker thread. nginx-light and wrk are installed with apt-get when missing.
 * Traffic stays on 127.0.0.1.
 */
import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Agent, request } from "undici";
import { startFakeHub } from "../tests/fixtures/fakeHub";
import { chatAnswer, startFakeNode, type FakeNode, type FakeNodeHandler } from "../tests/helpers/fakeNode";
import { fakeBytes } from "../tests/helpers/hubRepos";
import { startCore, type TestServer } from "../tests/helpers/startCore";
import { makeTempDir } from "../tests/helpers/tempDir";
import { waitFor } from "../tests/helpers/waitFor";
import { percentile } from "./stats";

const INSTANT_MODEL = "bench/instant-GGUF";
const STREAM_MODEL = "bench/stream-GGUF";
const STREAM_CHUNKS = 20;
const STREAM_GAP_MS = 5;
const CONCURRENCIES = [1, 32] as const;
const RUN_SECONDS = 3;
const WARMUP_SECONDS = 1;
/**
 * Runs per path and concurrency. The paths take turns (the order rotating every round), so a
 * burst of noise on the shared cores lands on all of them; medians, and ratios of runs of the same
 * round, keep one lucky or unlucky run from deciding the verdict.
 */
const ROUNDS = 5;
/** Streaming requests timed chunk by chunk, per path and concurrency. */
const GAP_REQUESTS = { 1: 40, 32: 128 } as const;
const NGINX = "/usr/sbin/nginx";
const WRK = "/usr/bin/wrk";
const NODES_ROLE = "llmlb-proxy-bench-nodes";
const CLIENT_ROLE = "llmlb-proxy-bench-client";

type Role = { role: typeof NODES_ROLE; coreUrl: string; nodeToken: string } | { role: typeof CLIENT_ROLE };
interface NodesReady {
  instant: string;
  stream: string;
}
interface GapCall {
  id: number;
  url: string;
  concurrency: number;
  requests: number;
}
interface GapResult {
  id: number;
  /** Milliseconds between consecutive SSE events of one answer (events read together count 0). */
  gaps: number[];
  /** Answers that did not have STREAM_CHUNKS events and [DONE]. */
  malformed: number;
}

const chatBody = (model: string, stream: boolean) =>
  JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 16, stream });

// ---------------------------------------------------------------------------------------------------------
// Worker threads: the fake nodes, and the streaming client
// ---------------------------------------------------------------------------------------------------------

/** Registers both fake nodes with the core through the real node protocol and serves until told to close. */
async function serveNodes(coreUrl: string, nodeToken: string): Promise<void> {
  const port = parentPort!;
  const dispatcher = new Agent({ connections: 4 });
  // startFakeNode needs only these two of a TestServer: the node token and a way to call the core.
  const server: Pick<TestServer, "nodeToken" | "request"> = {
    nodeToken,
    async request(method, url, options = {}) {
      const response = await request(coreUrl + url, {
        method: method as "POST",
        headers: { "content-type": "application/json", ...options.headers },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        dispatcher,
      });
      const text = await response.body.text();
      return {
        status: response.statusCode,
        headers: response.headers,
        body: text ? JSON.parse(text) : text,
        text,
      };
    },
  };
  const nodes: FakeNode[] = [];
  // The fake node remembers every request; keep that memory (and the GC work it brings) small.
  const forgetting =
    (handler: FakeNodeHandler): FakeNodeHandler =>
    (req, res, body) => {
      for (const node of nodes) if (node.received.length > 1000) node.received.length = 0;
      handler(req, res, body);
    };
  const answer = JSON.stringify(chatAnswer("instant"));
  const instant: FakeNodeHandler = (_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) });
    res.end(answer);
  };
  const streaming: FakeNodeHandler = (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    let sent = 0;
    const send = () => {
      if (res.destroyed) return clearInterval(timer);
      const chunk = {
        id: "chatcmpl-stream",
        object: "chat.completion.chunk",
        created: 0,
        model: STREAM_MODEL,
        choices: [{ index: 0, delta: { content: `token-${sent} ` }, finish_reason: null }],
      };
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      if (++sent === STREAM_CHUNKS) {
        clearInterval(timer);
        res.end("data: [DONE]\n\n");
      }
    };
    // The first token right away (as after a prefill), then one every STREAM_GAP_MS.
    const timer = setInterval(send, STREAM_GAP_MS);
    send();
  };
  const asServer = server as TestServer;
  nodes.push(
    await startFakeNode(asServer, {
      name: "bench-instant",
      ready: [INSTANT_MODEL],
      handler: forgetting(instant),
    }),
  );
  nodes.push(
    await startFakeNode(asServer, {
      name: "bench-stream",
      ready: [STREAM_MODEL],
      handler: forgetting(streaming),
    }),
  );
  port.once("message", () => {
    void Promise.all(nodes.map((node) => node.close())).then(async () => {
      await dispatcher.close();
      port.postMessage("closed");
      port.close();
    });
  });
  const ready: NodesReady = { instant: nodes[0]!.url, stream: nodes[1]!.url };
  port.postMessage(ready);
}

/** Times the SSE events of streaming answers, `concurrency` at a time. */
async function streamGaps(call: GapCall): Promise<GapResult> {
  const dispatcher = new Agent({ connections: call.concurrency, keepAliveTimeout: 4000 });
  const body = chatBody(STREAM_MODEL, true);
  const gaps: number[] = [];
  let malformed = 0;
  let next = 0;
  const one = async () => {
    const response = await request(call.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body,
      dispatcher,
    });
    let pending = "";
    let events = 0;
    let done = false;
    let last: number | undefined;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      const now = performance.now();
      pending += chunk.toString("utf8");
      const parts = pending.split("\n\n");
      pending = parts.pop()!;
      for (const part of parts) {
        if (part === "data: [DONE]") {
          done = true;
          continue;
        }
        events++;
        if (last !== undefined) gaps.push(now - last);
        last = now;
      }
    }
    if (response.statusCode !== 200 || events !== STREAM_CHUNKS || !done) malformed++;
  };
  await Promise.all(
    Array.from({ length: call.concurrency }, async () => {
      while (next++ < call.requests) await one();
    }),
  );
  await dispatcher.close();
  return { id: call.id, gaps, malformed };
}

function serveClient(): void {
  const port = parentPort!;
  port.on("message", (call: GapCall | "close") => {
    if (call === "close") return port.close();
    void streamGaps(call).then((result) => port.postMessage(result));
  });
}

const role = isMainThread ? undefined : (workerData as Role | null);
if (role?.role === NODES_ROLE) await serveNodes(role.coreUrl, role.nodeToken);
else if (role?.role === CLIENT_ROLE) serveClient();

function startWorker(data: Role): Worker {
  // Loader hooks do not reach worker threads on Node 20: the worker registers tsx itself, then loads us.
  const bootstrap = `import { register } from "tsx/esm/api"; register(); await import(${JSON.stringify(import.meta.url)});`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

function nextMessage<T>(worker: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (message: T) => (worker.off("error", reject), resolve(message));
    worker.once("message", onMessage);
    worker.once("error", reject);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Tools: nginx and wrk from Debian, run as child processes
// ---------------------------------------------------------------------------------------------------------

function ensureTools(): void {
  const missing = [...(fsExists(NGINX) ? [] : ["nginx-light"]), ...(fsExists(WRK) ? [] : ["wrk"])];
  if (missing.length === 0) return;
  console.log(`  installing ${missing.join(", ")} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", ...missing]]) {
    const result = spawnSync("apt-get", args, { env, stdio: ["ignore", "ignore", "inherit"] });
    if (result.status !== 0)
      throw new Error(`apt-get ${args.join(" ")} failed (${result.status ?? result.error})`);
  }
}

function fsExists(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number): Promise<void> {
  await waitFor(
    `something listening on 127.0.0.1:${port}`,
    () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.once("connect", () => (socket.destroy(), resolve(true)));
        socket.once("error", () => resolve(false));
      }),
    { timeoutMs: 10_000, intervalMs: 50 },
  );
}

/** nginx (one worker process, as the balancer has one event loop) in front of both nodes. */
async function startNginx(dir: string, nodes: NodesReady) {
  const ports = { instant: await freePort(), stream: await freePort() };
  const hostPort = (url: string) => new URL(url).host;
  const upstream = (name: string, url: string) => `
    upstream ${name} {
      server ${hostPort(url)};
      keepalive 64;
      keepalive_requests 1000000;
      # Below Node's 5 s keep-alive, so nginx never reuses a socket the node is closing.
      keepalive_timeout 4s;
    }`;
  const server = (name: string, port: number, buffering: "on" | "off") => `
    server {
      listen 127.0.0.1:${port};
      keepalive_requests 1000000;
      location / {
        proxy_pass http://${name};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering ${buffering};
      }
    }`;
  const conf = `
worker_processes 1;
daemon off;
${process.getuid?.() === 0 ? "user root root;" : ""}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${upstream("instant", nodes.instant)}
  ${upstream("stream", nodes.stream)}
  ${server("instant", ports.instant, "on")}
  ${server("stream", ports.stream, "off")}
}
`;
  const confFile = path.join(dir, "nginx.conf");
  await fs.writeFile(confFile, conf);
  const child = spawn(NGINX, ["-p", dir, "-c", confFile, "-e", path.join(dir, "error.log")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await Promise.race([
      Promise.all([waitForPort(ports.instant), waitForPort(ports.stream)]),
      exited.then(() => Promise.reject(new Error(`nginx exited: ${stderr}`))),
    ]);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  const version = spawnSync(NGINX, ["-v"], { encoding: "utf8" }).stderr.trim().replace("nginx version: ", "");
  return {
    version,
    instant: `http://127.0.0.1:${ports.instant}`,
    stream: `http://127.0.0.1:${ports.stream}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGQUIT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  errors: number;
}

/**
 * A wrk script: POSTs `body` for the whole run, prints its numbers as JSON. (No early stop: wrk
 * divides by the full run time even when a thread stops early, which would cap every rate.)
 */
function wrkScript(body: string): string {
  return `
wrk.method = "POST"
wrk.body = ${JSON.stringify(body)}
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%d,"duration_us":%d,"p50_us":%f,"p99_us":%f,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
`;
}

async function runWrk(script: string, url: string, concurrency: number, seconds: number): Promise<WrkResult> {
  const args = ["-t1", `-c${concurrency}`, `-d${seconds}s`, "--timeout", "10s", "-s", script, url];
  const child = spawn(WRK, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  const line = /^BENCH (.*)$/m.exec(output);
  if (code !== 0 || !line) throw new Error(`wrk ${args.join(" ")} exited with ${code}: ${output}`);
  const parsed = JSON.parse(line[1]!) as {
    requests: number;
    duration_us: number;
    p50_us: number;
    p99_us: number;
    errors: number;
  };
  return {
    requestsPerSecond: parsed.requests / (parsed.duration_us / 1e6),
    requests: parsed.requests,
    p50: parsed.p50_us / 1000,
    p99: parsed.p99_us / 1000,
    errors: parsed.errors,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------------------

type PathName = "direct" | "llmlb" | "nginx";
const PATHS: PathName[] = ["direct", "llmlb", "nginx"];

const lat = (value: number) => `${value.toFixed(3)} ms`;
const signed = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(3)} ms`;
const verdict = (ok: boolean) => (ok ? "met" : "MISSED");

export async function benchProxy(): Promise<void> {
  if (!isMainThread) return;
  console.log(`proxy benchmark (${new Date().toISOString()})`);
  ensureTools();
  const temp = await makeTempDir("llmlb-bench-proxy-");
  const hub = await startFakeHub({
    repos: [INSTANT_MODEL, STREAM_MODEL].map((id) => ({
      id,
      files: [{ path: `${id.split("/")[1]}-Q4_K_M.gguf`, content: fakeBytes(id, 1024) }],
    })),
  });
  let server: TestServer | undefined;
  let nodesWorker: Worker | undefined;
  let clientWorker: Worker | undefined;
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  try {
    await fs.mkdir(path.join(temp.path, "core"));
    server = await startCore({
      hubEndpoint: hub.url,
      dataDir: path.join(temp.path, "core"),
      // Admission must not be what is measured: room for every connection wrk opens.
      core: { balancer: { slotsPerNode: 1024, admission: { queueSize: 4096 } } },
    });
    for (const url of [INSTANT_MODEL, STREAM_MODEL]) {
      const registered = await server.request("POST", "/v0/models/register", { body: { url } });
      if (registered.status !== 201) throw new Error(`registering ${url} answered ${registered.status}`);
    }
    nodesWorker = startWorker({ role: NODES_ROLE, coreUrl: server.url, nodeToken: server.nodeToken });
    const nodes = await nextMessage<NodesReady>(nodesWorker);
    const core = server.core;
    await waitFor("both nodes routable", () =>
      [INSTANT_MODEL, STREAM_MODEL].every((model) => core.nodes.routesFor(model).length > 0),
    );
    nginx = await startNginx(temp.path, nodes);
    clientWorker = startWorker({ role: CLIENT_ROLE });

    const scripts = {
      instant: path.join(temp.path, "instant.lua"),
      stream: path.join(temp.path, "stream.lua"),
    };
    await fs.writeFile(scripts.instant, wrkScript(chatBody(INSTANT_MODEL, false)));
    await fs.writeFile(scripts.stream, wrkScript(chatBody(STREAM_MODEL, true)));
    const endpoint = "/v1/chat/completions";
    const urls = {
      instant: {
        direct: nodes.instant + endpoint,
        llmlb: server.url + endpoint,
        nginx: nginx.instant + endpoint,
      },
      stream: {
        direct: nodes.stream + endpoint,
        llmlb: server.url + endpoint,
        nginx: nginx.stream + endpoint,
      },
    };

    console.log(
      `  wrk -t1, ${WARMUP_SECONDS} s warm-up then ${ROUNDS} rounds of ${RUN_SECONDS} s per path, the paths taking turns; ` +
        `medians of the rounds; ${nginx.version}, 1 worker process; ` +
        `${os.availableParallelism()} cores shared by wrk, the node thread and the proxy`,
    );
    for (const kind of ["instant", "stream"] as const) {
      console.log(
        kind === "instant"
          ? "  instant node (a small chat JSON, answered at once):"
          : `  streaming node (${STREAM_CHUNKS} SSE chunks, ${STREAM_GAP_MS} ms apart; latency = the whole answer):`,
      );
      for (const concurrency of CONCURRENCIES) {
        const runs: Record<PathName, WrkResult[]> = { direct: [], llmlb: [], nginx: [] };
        for (const name of PATHS) await runWrk(scripts[kind], urls[kind][name], concurrency, WARMUP_SECONDS);
        for (let round = 0; round < ROUNDS; round++) {
          const turn = round % PATHS.length;
          for (const name of [...PATHS.slice(turn), ...PATHS.slice(0, turn)]) {
            runs[name].push(await runWrk(scripts[kind], urls[kind][name], concurrency, RUN_SECONDS));
          }
        }
        const typical = (name: PathName): WrkResult => {
          const of = (field: keyof WrkResult) =>
            percentile(
              runs[name].map((run) => run[field]),
              50,
            );
          return {
            requestsPerSecond: of("requestsPerSecond"),
            requests: of("requests"),
            p50: of("p50"),
            p99: of("p99"),
            errors: runs[name].reduce((sum, run) => sum + run.errors, 0),
          };
        };
        const direct = typical("direct");
        const llmlb = typical("llmlb");
        const proxy = typical("nginx");
        for (const name of PATHS) {
          const r = typical(name);
          const label = name === "direct" ? `c=${concurrency}`.padEnd(5) : "".padEnd(5);
          const added =
            name === "direct"
              ? ""
              : `   added p50 ${signed(r.p50 - direct.p50)}  p99 ${signed(r.p99 - direct.p99)}`;
          const errors = r.errors > 0 ? `   ${r.errors} ERRORS` : "";
          console.log(
            `    ${label} ${name.padEnd(6)} ${r.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${lat(r.p50)}  p99 ${lat(r.p99)}${added}${errors}`,
          );
        }
        // Each llmlb run against the nginx run of the same round, a few seconds apart.
        const ratios = runs.llmlb.map((run, i) => run.requestsPerSecond / runs.nginx[i]!.requestsPerSecond);
        const ratio = percentile(ratios, 50);
        const addedP50 = llmlb.p50 - direct.p50;
        console.log(
          `          llmlb/nginx req/s ${ratio.toFixed(2)} (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` +
            `  target >= 0.5: ${verdict(ratio >= 0.5)}` +
            ` (nginx/direct ${(proxy.requestsPerSecond / direct.requestsPerSecond).toFixed(2)})` +
            (concurrency === 1
              ? `;  llmlb added p50 ${signed(addedP50)}  target <= 0.3 ms: ${verdict(addedP50 <= 0.3)}`
              : ""),
        );
      }
    }

    let nextId = 1;
    const gapsOf = async (url: string, concurrency: 1 | 32) => {
      const call: GapCall = { id: nextId++, url, concurrency, requests: GAP_REQUESTS[concurrency] };
      const reply = nextMessage<GapResult>(clientWorker!);
      clientWorker!.postMessage(call);
      return reply;
    };
    console.log(
      `  chunk inter-arrival at the client, streaming node (${STREAM_GAP_MS} ms apart at the node; ` +
        `"unchanged" = p50 within 0.5 ms and p99 within 1 ms of direct):`,
    );
    for (const concurrency of CONCURRENCIES) {
      const results: Partial<Record<PathName, GapResult>> = {};
      for (const name of PATHS) await gapsOf(urls.stream[name], concurrency); // warm-up
      for (const name of PATHS) results[name] = await gapsOf(urls.stream[name], concurrency);
      const direct = results.direct!;
      for (const name of PATHS) {
        const r = results[name]!;
        const p50 = percentile(r.gaps, 50);
        const p99 = percentile(r.gaps, 99);
        const together = r.gaps.filter((gap) => gap < 1).length / r.gaps.length;
        const label = name === "direct" ? `c=${concurrency}`.padEnd(5) : "".padEnd(5);
        let judged = "";
        if (name === "llmlb") {
          const dp50 = p50 - percentile(direct.gaps, 50);
          const dp99 = p99 - percentile(direct.gaps, 99);
          judged = `   vs direct p50 ${signed(dp50)}  p99 ${signed(dp99)}  target unchanged: ${verdict(Math.abs(dp50) <= 0.5 && Math.abs(dp99) <= 1)}`;
        }
        const malformed = r.malformed > 0 ? `   ${r.malformed} MALFORMED answers` : "";
        console.log(
          `    ${label} ${name.padEnd(6)} ${r.gaps.length} gaps  p50 ${lat(p50)}  p99 ${lat(p99)}  < 1 ms (read together) ${(together * 100).toFixed(1)}%${judged}${malformed}`,
        );
      }
    }
  } finally {
    await nginx?.stop();
    if (clientWorker) {
      clientWorker.postMessage("close");
      await clientWorker.terminate();
    }
    if (nodesWorker) {
      const closed = nextMessage<string>(nodesWorker);
      nodesWorker.postMessage("close");
      await closed;
      await nodesWorker.terminate();
    }
    await server?.close();
    await hub.close();
    await temp.remove();
  }
}

/**
 * `npm run bench -- download`: the worker's downloader against curl on a 1 GiB file from the fake hub,
 * then 1 against 4 segments from a hub throttled per response. The hub runs in a worker thread, so it
 * does not share an event loop with the downloader (curl, a separate process, would otherwise win on that
 * alone). Traffic stays on 127.0.0.1.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { pino } from "pino";
import { downloadToHfCache, type DownloadOptions, type DownloadRequest } from "../src-main/worker/download";
import { startFakeHub, type FakeHubFaults } from "../tests/fixtures/fakeHub";
import { seededBytes } from "../tests/helpers/seededBytes";
import { makeTempDir } from "../tests/helpers/tempDir";
import { percentile } from "./stats";

const MiB = 1024 * 1024;
const BIG_BYTES = 1024 * MiB;
const THROTTLED_BYTES = 100 * MiB;
const THROTTLE_BYTES_PER_SECOND = 20e6;
const ROUNDS = 3;
const REPO = "bench/download-GGUF";
const COMMIT = "b".repeat(40);
const HUB_ROLE = "llmlb-download-bench-hub";

interface HubFile {
  path: string;
  size: number;
  sha256: string;
}
interface HubReady {
  url: string;
  files: HubFile[];
}
type HubCall = { op: "faults"; faults: FakeHubFaults } | { op: "close" };

/** Deterministic and cheap: one pseudo-random MiB, repeated, each copy stamped with its index. */
function benchContent(size: number, seed: string): Buffer {
  const block = seededBytes(MiB, seed);
  const out = Buffer.allocUnsafe(size);
  for (let offset = 0, index = 0; offset < size; offset += MiB, index++) {
    block.copy(out, offset, 0, Math.min(MiB, size - offset));
    if (size - offset >= 4) out.writeUInt32LE(index, offset);
  }
  return out;
}

/** The worker thread: serves the bench repo and obeys fault/close calls from the main thread. */
async function serveHub(): Promise<void> {
  const port = parentPort!;
  const specs = [
    { path: "big-Q4_K_M.gguf", content: benchContent(BIG_BYTES, "big") },
    { path: "throttled-Q4_K_M.gguf", content: benchContent(THROTTLED_BYTES, "throttled") },
  ];
  const files = specs.map((spec) => ({
    ...spec,
    sha256: createHash("sha256").update(spec.content).digest("hex"),
  }));
  const hub = await startFakeHub({ repos: [{ id: REPO, sha: COMMIT, files }] });
  port.on("message", (call: HubCall & { id: number }) => {
    if (call.op === "faults") {
      hub.setFaults(call.faults);
      port.postMessage({ id: call.id });
    } else {
      void hub.close().then(() => {
        port.postMessage({ id: call.id });
        port.close();
      });
    }
  });
  const ready: HubReady = {
    url: hub.url,
    files: files.map((f) => ({ path: f.path, size: f.content.length, sha256: f.sha256 })),
  };
  port.postMessage(ready);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === HUB_ROLE) await serveHub();

async function startHubWorker() {
  // Loader hooks do not reach worker threads on Node 20: the worker registers tsx itself, then loads us.
  const bootstrap = `import { register } from "tsx/esm/api"; register(); await import(${JSON.stringify(import.meta.url)});`;
  const worker = new Worker(bootstrap, { eval: true, workerData: { role: HUB_ROLE } });
  const ready = await new Promise<HubReady>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  let nextId = 1;
  const call = (message: HubCall) =>
    new Promise<void>((resolve) => {
      const id = nextId++;
      const onReply = (reply: { id?: number }) => {
        if (reply.id !== id) return;
        worker.off("message", onReply);
        resolve();
      };
      worker.on("message", onReply);
      worker.postMessage({ ...message, id });
    });
  return {
    ...ready,
    setFaults: (faults: FakeHubFaults) => call({ op: "faults", faults }),
    close: async () => {
      await call({ op: "close" });
      await worker.terminate();
    },
  };
}

function requestFor(url: string, file: HubFile): DownloadRequest {
  return {
    repo: REPO,
    revision: "main",
    commit: COMMIT,
    filename: file.path,
    url: `${url}/${REPO}/resolve/${COMMIT}/${file.path}`,
    size: file.size,
    sha256: file.sha256,
  };
}

/** Seconds for one fresh download into an empty cache, which is then deleted. */
async function timeOurs(dir: string, request: DownloadRequest, extra: Partial<DownloadOptions> = {}) {
  const cacheDir = await fs.mkdtemp(path.join(dir, "cache-"));
  try {
    const started = performance.now();
    const result = await downloadToHfCache(request, { cacheDir, log: pino({ level: "silent" }), ...extra });
    const seconds = (performance.now() - started) / 1000;
    if (result.fetchedBytes !== request.size) throw new Error(`fetched ${result.fetchedBytes} bytes`);
    return seconds;
  } finally {
    await fs.rm(cacheDir, { recursive: true, force: true });
  }
}

/** Seconds for curl to fetch the file, and with `verify` also for sha256sum to check it (our full job). */
async function timeCurl(dir: string, request: DownloadRequest, verify = false): Promise<number> {
  const out = path.join(dir, "curl.bin");
  try {
    const started = performance.now();
    await run("curl", ["-sS", "-L", "-o", out, request.url]);
    if (verify) {
      const printed = await run("sha256sum", [out]);
      if (!printed.startsWith(request.sha256)) throw new Error(`sha256sum disagrees: ${printed}`);
    }
    const seconds = (performance.now() - started) / 1000;
    const { size } = await fs.stat(out);
    if (size !== request.size) throw new Error(`curl got ${size} bytes, expected ${request.size}`);
    return seconds;
  } finally {
    await fs.rm(out, { force: true });
  }
}

async function run(command: string, args: string[]): Promise<string> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  if (code !== 0) throw new Error(`${command} exited with ${code}`);
  return output;
}

const mbps = (bytes: number, seconds: number) => bytes / 1e6 / seconds;
const fmt = (value: number) => `${value.toFixed(0).padStart(5)} MB/s`;

export async function benchDownload(): Promise<void> {
  if (!isMainThread) return;
  const temp = await makeTempDir("llmlb-bench-download-");
  let hub: Awaited<ReturnType<typeof startHubWorker>> | undefined;
  try {
    hub = await startHubWorker();
    const [big, throttled] = hub.files as [HubFile, HubFile];
    const bigRequest = requestFor(hub.url, big);
    console.log(`download benchmark (${new Date().toISOString()})`);

    // An untimed run each first (JIT, first touch of the page cache), then alternating rounds so neither
    // side profits from the other's leftovers; a shared 2-core VM is noisy, hence best and median.
    await timeOurs(temp.path, bigRequest);
    await timeCurl(temp.path, bigRequest);
    const ours: number[] = [];
    const curl: number[] = [];
    const curlVerified: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      ours.push(await timeOurs(temp.path, bigRequest));
      curl.push(await timeCurl(temp.path, bigRequest));
      curlVerified.push(await timeCurl(temp.path, bigRequest, true));
    }
    const best = (runs: number[]) => mbps(big.size, Math.min(...runs));
    const median = (runs: number[]) => mbps(big.size, percentile(runs, 50));
    const ratio = best(ours) / best(curl);
    console.log(`  1 GiB from the fake hub on loopback, ${ROUNDS} rounds (best / median):`);
    console.log(`    llmlb, 4 segments, sha256-verified  ${fmt(best(ours))} / ${fmt(median(ours))}`);
    console.log(`    curl -sS -L                         ${fmt(best(curl))} / ${fmt(median(curl))}`);
    console.log(
      `    curl, then sha256sum (same work)    ${fmt(best(curlVerified))} / ${fmt(median(curlVerified))}`,
    );
    console.log(
      `    ratio to curl ${ratio.toFixed(2)} (median ${(median(ours) / median(curl)).toFixed(2)})  target >= 0.9: ${ratio >= 0.9 ? "met" : "MISSED"}; ` +
        `to curl + sha256sum ${(best(ours) / best(curlVerified)).toFixed(2)}`,
    );

    await hub.setFaults({ throttleBytesPerSecond: THROTTLE_BYTES_PER_SECOND });
    const throttledRequest = requestFor(hub.url, throttled);
    const one = await timeOurs(temp.path, throttledRequest, { segments: 1 });
    const four = await timeOurs(temp.path, throttledRequest, { segments: 4, minSegmentBytes: 8 * MiB });
    console.log(`  100 MiB, hub throttled to ${THROTTLE_BYTES_PER_SECOND / 1e6} MB/s per response:`);
    console.log(`    1 segment   ${fmt(mbps(throttled.size, one))}`);
    console.log(`    4 segments  ${fmt(mbps(throttled.size, four))}   gain ${(one / four).toFixed(2)}x`);
  } finally {
    await hub?.close();
    await temp.remove();
  }
}

/**
 * `npm run bench -- inference`: generation speed of the tiny GGUF through llmlb's /v1/chat/completions
 * against node-llama-cpp in this process with the worker's own settings (threads, sequences, context,
 * chat wrapper, greedy sampling, max_tokens), then llmlb's aggregate tokens/s at 1, 4 and 8 concurrent
 * requests. Twice: as shipped (`llmlb serve --workers 1`: one CPU worker with the threads llmlb plans
 * for it), and with two CPU workers (`--workers 2`), where the balancer spreads concurrent requests;
 * the model fetched from the fake hub both times. Last, in this process, on a model wide enough that
 * its weights outgrow the caches: 8 generations arriving apart, node-llama-cpp's batching as it is
 * against the worker's decode gathering, tokens/s and sequences per batch side by side.
 * Traffic stays on 127.0.0.1.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  getLlama,
  LlamaChat,
  LlamaLogLevel,
  resolveChatWrapper,
  type ChatHistoryItem,
  type Llama,
  type LlamaContextSequence,
  type LlamaModel,
} from "node-llama-cpp";
import { Agent, request } from "undici";
import { nodeListSchema } from "../src-main/contract";
import { noDevices, planWorkers } from "../src-main/core/supervisor/workerPlan";
import { countedBatching, type DecodeStats } from "../src-main/worker/inference/decodeStats";
import { gatherDecodes } from "../src-main/worker/inference/decodeGate";
import { startFakeHub } from "../tests/fixtures/fakeHub";
import { generateTinyGguf } from "../tests/fixtures/tinyGguf";
import { startServeProcess, type ServeProcess } from "../tests/helpers/cliProcess";
import { makeTempDir } from "../tests/helpers/tempDir";
import { waitFor } from "../tests/helpers/waitFor";
import { percentile } from "./stats";

const MODEL = "bench/tiny-llama-GGUF";
const PROMPT = "Tell me a long story about a lighthouse keeper.";
const MAX_TOKENS = 256;
/** The engine's defaults (createInferenceEngine): up to 8 sequences (all fit here), contexts up to 4096 tokens. */
const SEQUENCES = 8;
const MAX_CONTEXT = 4096;
/** Each measurement runs new requests for this long (finishing those started), at least 2 per client at 1. */
const RUN_SECONDS = 5;
const ROUNDS = 3;

interface Run {
  tokens: number;
  seconds: number;
  /** Completion tokens of each answer. */
  perAnswer: number[];
}
type Generate = () => Promise<number>;

const tps = (run: Run) => run.tokens / run.seconds;
const fmt = (value: number) => `${value.toFixed(0).padStart(6)} tokens/s`;
const verdict = (ok: boolean) => (ok ? "met" : "MISSED");

/**
 * `clients` loops at once, each starting generations until `seconds` are up; tokens over wall time.
 * With `apartMs`, the clients start that far apart and pause up to that long between generations, as
 * requests from independent users arrive.
 */
async function timed(clients: number, generate: Generate, seconds = RUN_SECONDS, apartMs = 0): Promise<Run> {
  const perAnswer: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const least = clients === 1 ? 2 : 1;
  const pause = (ms: number) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : undefined);
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      await pause(client * apartMs);
      for (let i = 0; i < least || performance.now() < deadline; i++) {
        perAnswer.push(await generate());
        await pause(((client * 7 + i * 3) % 5) * (apartMs / 4));
      }
    }),
  );
  return {
    tokens: perAnswer.reduce((a, b) => a + b, 0),
    seconds: (performance.now() - started) / 1000,
    perAnswer,
  };
}

/**
 * A context set up as the worker sets one up (loadedModel.ts), generating as generation.ts does;
 * with `gather`, its decodes gathered into full batches as the worker gathers them.
 */
async function inProcess(
  model: LlamaModel,
  threads: number,
  { gather = false, maxTokens = MAX_TOKENS } = {},
) {
  const decode: DecodeStats = { batches: 0, sequences: 0 };
  const context = await model.createContext({
    threads,
    sequences: SEQUENCES,
    contextSize: { max: MAX_CONTEXT },
    batching: await countedBatching(decode),
  });
  const chatWrapper = resolveChatWrapper(model);
  const free: LlamaContextSequence[] = Array.from({ length: SEQUENCES }, () => context.getSequence());
  if (gather) gatherDecodes(context, () => SEQUENCES - free.length);
  // What chatHistoryFrom makes of one user message.
  const history: ChatHistoryItem[] = [
    { type: "user", text: PROMPT },
    { type: "model", response: [] },
  ];
  return {
    decode: () => ({ ...decode }),
    async generate(): Promise<number> {
      const sequence = free.pop();
      if (!sequence) throw new Error("more concurrent generations than sequences");
      const chat = new LlamaChat({ contextSequence: sequence, chatWrapper });
      const before = sequence.tokenMeter.getState();
      try {
        // The sampling a request with temperature 0 maps to (requestMapping.ts samplingFrom).
        await chat.generateResponse(history, {
          maxTokens,
          temperature: 0,
          topP: 1,
          topK: 0,
          minP: 0,
          seed: 1,
          repeatPenalty: false,
        });
        return sequence.tokenMeter.diff(before).usedOutputTokens;
      } finally {
        chat.dispose({ disposeSequence: false });
        free.push(sequence);
      }
    },
    dispose: () => context.dispose(),
  };
}

/** Chat completions through llmlb over HTTP: completion tokens from `usage`. */
function overHttp(baseUrl: string) {
  const dispatcher = new Agent({ connections: 16, headersTimeout: 0, bodyTimeout: 0 });
  const body = (stream: boolean) =>
    JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: PROMPT }],
      max_tokens: MAX_TOKENS,
      temperature: 0,
      seed: 1,
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    });
  const plain = body(false);
  const streamed = body(true);
  const post = async (payload: string) => {
    const response = await request(`${baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: payload,
      dispatcher,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`llmlb answered ${response.statusCode}: ${text}`);
    return text;
  };
  return {
    async generate(): Promise<number> {
      const answer = JSON.parse(await post(plain)) as { usage?: { completion_tokens?: number } };
      return answer.usage?.completion_tokens ?? 0;
    },
    /** The same request streamed (SSE), its usage read from the last chunk. */
    async generateStreamed(): Promise<number> {
      const usage = /"completion_tokens":(\d+)/.exec(await post(streamed));
      return usage ? Number(usage[1]) : 0;
    },
    close: () => dispatcher.close(),
  };
}

interface Llmlb {
  url: string;
  threads: number;
  /** Decode batches and the sequences they held, summed over the workers, as of a heartbeat after `since`. */
  decode(since: number): Promise<DecodeStats>;
  stop(): Promise<void>;
}

/** Sequences per decode batch between two readings. */
const perBatch = (before: DecodeStats, after: DecodeStats) =>
  (after.sequences - before.sequences) / Math.max(1, after.batches - before.batches);

/**
 * `llmlb serve --workers <n>` from the sources with its data in `dir`: n CPU workers with the threads
 * llmlb plans for them on this machine, the model registered and ready on every one.
 */
async function startLlmlb(dir: string, hubUrl: string, hubCache: string, workers: number): Promise<Llmlb> {
  const dataDir = path.join(dir, "data");
  const serve: ServeProcess = await startServeProcess(["--port", "0", "--workers", String(workers)], {
    HF_ENDPOINT: hubUrl,
    HF_HUB_CACHE: hubCache,
    LLMLB_DATA_DIR: dataDir,
    LLMLB_LOG_LEVEL: "warn",
  });
  const stop = () => serve.stop().then(() => undefined);
  try {
    const token = fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
    const admin = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const registered = await request(`${serve.url}/v0/models/register`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ url: MODEL }),
    });
    await registered.body.dump();
    if (registered.statusCode !== 201) throw new Error(`registering answered ${registered.statusCode}`);
    await waitFor(
      "the model ready on every worker",
      async () => {
        const response = await request(`${serve.url}/v0/models/${encodeURIComponent(MODEL)}`, {
          headers: admin,
        });
        const model = (await response.body.json()) as { nodes?: { state: string }[] };
        return (model.nodes ?? []).filter((node) => node.state === "ready").length >= workers;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const planned = planWorkers(workers, noDevices, os.availableParallelism(), os.hostname())[0]!.threads;
  const token = fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
  const decode = async (since: number): Promise<DecodeStats> => {
    // Workers report their counts by heartbeat: wait for one from each after `since`.
    const nodes = await waitFor(
      "a heartbeat from every worker",
      async () => {
        const response = await request(`${serve.url}/v0/nodes`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const list = nodeListSchema.parse(await response.body.json()).data;
        return list.every((node) => Date.parse(node.last_seen_at) > since) ? list : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    const entries = nodes.flatMap((node) => node.loaded.filter((entry) => entry.model === MODEL));
    return {
      batches: entries.reduce((sum, entry) => sum + (entry.decode_batches ?? 0), 0),
      sequences: entries.reduce((sum, entry) => sum + (entry.batched_sequences ?? 0), 0),
    };
  };
  return { url: serve.url, threads: planned, decode, stop };
}

/** One comparison: in-process against llmlb at 1 request, then llmlb at 1, 4 and 8. */
async function compare(
  local: { generate: Generate; decode(): DecodeStats },
  http: ReturnType<typeof overHttp>,
  llmlb: Llmlb,
) {
  // Warm-up: the worker loads the model on its first request; both sides get JIT and caches warm.
  await timed(1, local.generate, 0);
  await timed(1, http.generate, 0);
  await timed(SEQUENCES, local.generate, 0);
  await timed(SEQUENCES, http.generate, 0);
  const localRuns: Run[] = [];
  const httpRuns: Run[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    localRuns.push(await timed(1, local.generate));
    httpRuns.push(await timed(1, http.generate));
  }
  const streamed = await timed(1, http.generateStreamed);
  const localBefore = local.decode();
  const local4 = await timed(SEQUENCES, local.generate);
  const localPerBatch = perBatch(localBefore, local.decode());
  const http4 = await timed(4, http.generate);
  const httpBefore = await llmlb.decode(Date.now());
  const http8 = await timed(8, http.generate);
  const httpPerBatch = perBatch(httpBefore, await llmlb.decode(Date.now()));
  return {
    localRuns,
    httpRuns,
    streamed,
    local4,
    localPerBatch,
    http4,
    http8,
    httpPerBatch,
    http1: await timed(1, http.generate),
  };
}

function report(
  title: string,
  threads: number,
  workers: number,
  r: Awaited<ReturnType<typeof compare>>,
): void {
  const best = (runs: Run[]) => Math.max(...runs.map(tps));
  const median = (runs: Run[]) => percentile(runs.map(tps), 50);
  const answers = [...r.localRuns, ...r.httpRuns].flatMap((run) => run.perAnswer);
  const count = (runs: Run[]) => runs.reduce((n, run) => n + run.perAnswer.length, 0);
  const ratio = best(r.httpRuns) / best(r.localRuns);
  const scale = (run: Run) => tps(run) / tps(r.http1);
  console.log(`  ${title}`);
  console.log(
    `    one request at a time, ${ROUNDS} rounds (${count(r.localRuns)} / ${count(r.httpRuns)} answers of ` +
      `${Math.min(...answers)}–${Math.max(...answers)} tokens), best / median:`,
  );
  console.log(
    `      node-llama-cpp in-process, ${threads} thread(s)  ${fmt(best(r.localRuns))} / ${fmt(median(r.localRuns))}`,
  );
  console.log(
    `      llmlb /v1/chat/completions          ${fmt(best(r.httpRuns))} / ${fmt(median(r.httpRuns))}`,
  );
  console.log(
    `      ratio ${ratio.toFixed(2)} (median ${(median(r.httpRuns) / median(r.localRuns)).toFixed(2)})  target >= 0.9: ${verdict(ratio >= 0.9)}`,
  );
  console.log(`      llmlb, streamed (SSE)               ${fmt(tps(r.streamed))}`);
  console.log(`    aggregate through llmlb (1 measured again after the others):`);
  console.log(`      concurrency 1  ${fmt(tps(r.http1))}`);
  console.log(`      concurrency 4  ${fmt(tps(r.http4))}   ${scale(r.http4).toFixed(2)}x of 1`);
  console.log(
    `      concurrency 8  ${fmt(tps(r.http8))}   ${scale(r.http8).toFixed(2)}x of 1  target >= 2.5x: ${verdict(scale(r.http8) >= 2.5)}`,
  );
  console.log(
    `      (node-llama-cpp in-process, ${SEQUENCES} at once: ${fmt(tps(r.local4))}, ${(tps(r.local4) / best(r.localRuns)).toFixed(2)}x of its 1)`,
  );
  // 8 requests over `workers` workers: each worker's batches can hold 8 / workers of them.
  const most = 8 / workers;
  console.log(`    mean sequences per decode batch at 8 concurrent requests (${most} at most per worker):`);
  console.log(
    `      llmlb ${r.httpPerBatch.toFixed(2)}  target >= ${(most * 0.75).toFixed(1)}: ${verdict(r.httpPerBatch >= most * 0.75)}   ` +
      `(node-llama-cpp in-process, ${SEQUENCES} at once: ${r.localPerBatch.toFixed(2)})`,
  );
}

/** Wide enough that its weights (F32, about 130 MB) outgrow the CPU's caches, as a real model's do. */
const WIDE_SHAPE = { embedding: 512, blocks: 8, feedForward: 2048 };
const WIDE_MAX_TOKENS = 64;
const APART_MS = 20;

/**
 * Decode gathering side by side, in this process: 8 generations arriving apart on the wide model,
 * node-llama-cpp's batching as it is against the worker's gathering (decodeGate.ts).
 */
async function compareGathering(llama: Llama, dir: string, threads: number): Promise<void> {
  const gguf = generateTinyGguf({ seed: 1, shape: WIDE_SHAPE });
  const modelPath = path.join(dir, "wide.gguf");
  fs.writeFileSync(modelPath, gguf);
  const model = await llama.loadModel({ modelPath });
  try {
    const measure = async (gather: boolean) => {
      const local = await inProcess(model, threads, { gather, maxTokens: WIDE_MAX_TOKENS });
      try {
        await timed(SEQUENCES, local.generate, 0);
        const before = local.decode();
        const run = await timed(SEQUENCES, local.generate, RUN_SECONDS, APART_MS);
        return { tps: tps(run), perBatch: perBatch(before, local.decode()) };
      } finally {
        await local.dispose();
      }
    };
    const one = await inProcess(model, threads, { maxTokens: WIDE_MAX_TOKENS });
    await timed(1, one.generate, 0);
    const single = tps(await timed(1, one.generate));
    await one.dispose();
    const asIs = await measure(false);
    const gathered = await measure(true);
    console.log(
      `  decode gathering, in-process: a ${(gguf.length / 1e6).toFixed(0)} MB model (its weights outgrow the caches), ` +
        `${SEQUENCES} clients ${APART_MS} ms apart, max_tokens ${WIDE_MAX_TOKENS}, ${threads} thread(s):`,
    );
    console.log(`      one request at a time              ${fmt(single)}`);
    console.log(
      `      node-llama-cpp's batching as is    ${fmt(asIs.tps)}   ${asIs.perBatch.toFixed(2)} per batch   ${(asIs.tps / single).toFixed(2)}x of 1`,
    );
    console.log(
      `      with the worker's gathering        ${fmt(gathered.tps)}   ${gathered.perBatch.toFixed(2)} per batch   ${(gathered.tps / single).toFixed(2)}x of 1, ` +
        `${(gathered.tps / asIs.tps).toFixed(2)}x of as is`,
    );
  } finally {
    await model.dispose();
  }
}

export async function benchInference(): Promise<void> {
  const temp = await makeTempDir("llmlb-bench-inference-");
  const gguf = generateTinyGguf({ seed: 1 });
  const modelPath = path.join(temp.path, "tiny.gguf");
  fs.writeFileSync(modelPath, gguf);
  const hubCache = path.join(temp.path, "hub");
  const hub = await startFakeHub({
    repos: [{ id: MODEL, files: [{ path: "tiny-llama-Q4_K_M.gguf", content: gguf }] }],
  });
  const llama = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });
  let llmlb: Llmlb | undefined;
  let http: ReturnType<typeof overHttp> | undefined;
  try {
    const model = await llama.loadModel({ modelPath });
    console.log(`inference benchmark (${new Date().toISOString()})`);
    console.log(
      `  tiny GGUF (${(gguf.length / 1e6).toFixed(2)} MB), ${SEQUENCES} sequences, max_tokens ${MAX_TOKENS}, ` +
        `temperature 0, ${os.availableParallelism()} cores; each run >= ${RUN_SECONDS} s`,
    );
    for (const workers of [1, 2]) {
      llmlb = await startLlmlb(path.join(temp.path, `llmlb-${workers}`), hub.url, hubCache, workers);
      http = overHttp(llmlb.url);
      const workerThreads = llmlb.threads;
      const local = await inProcess(model, workerThreads);
      const results = await compare(local, http, llmlb);
      await local.dispose();
      await http.close();
      http = undefined;
      await llmlb.stop();
      llmlb = undefined;
      report(
        workers === 1
          ? `as shipped: llmlb serve --workers 1 (its worker gets ${workerThreads} thread(s) here):`
          : `llmlb serve --workers ${workers} (${workers} CPU workers of ${workerThreads} thread(s); the balancer spreads requests):`,
        workerThreads,
        workers,
        results,
      );
    }
    const threads = planWorkers(1, noDevices, os.availableParallelism(), os.hostname())[0]!.threads;
    await compareGathering(llama, temp.path, threads);
  } finally {
    await http?.close();
    await llmlb?.stop();
    await llama.dispose();
    await hub.close();
    await temp.remove();
  }
}

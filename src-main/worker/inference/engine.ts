import os from "node:os";
import path from "node:path";
import { getLlama, InsufficientMemoryError, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { defaultIdleTtlSeconds, type Backend, type LlamaCppBuild } from "../../contract";
import { AppError, isAppError } from "../../shared/errors";
import type { Logger } from "../../shared/logger";
import { runEmbeddings } from "./embeddings";
import { runRerank } from "./ranking";
import { runChat, runCompletion } from "./generation";
import { forcedToolCall } from "./forcedToolCall";
import { createGrammarCache, type GrammarCache } from "./grammars";
import type {
  ChatJob,
  CompletionJob,
  EmbeddingJob,
  EmbeddingResult,
  RerankJob,
  RerankResult,
  GenerationHooks,
  GenerationResult,
  ModelTarget,
} from "./jobs";
import { loadLlamaModel, type LoadedModel } from "./loadedModel";
import type { DecodeStats } from "./decodeStats";
import { createModelPool, ModelPoolDisposedError } from "./modelPool";
import { nestedTooDeep } from "../../shared/httpErrors";

export interface InferenceEngineOptions {
  log: Logger;
  backend: Backend;
  /** CPU threads for every context (never node-llama-cpp's default, which collapses small machines). */
  threads: number;
  /** How long a model stays loaded with no request; a request's `ttl` overrides. Default: 10 minutes. */
  idleTtlMs?: number;
  /** Models loaded at once; node-llama-cpp's memory estimate may allow fewer. Default: 3. */
  maxLoadedModels?: number;
  /**
   * Most parallel requests per model (sequences of its context), fewer when memory is short; more
   * wait for a free one. Default: 8.
   */
  sequences?: number;
  /** A model left memory (idle, asked to, or for another): the node reports its memory now. */
  onUnloaded?(): void;
  /** A model began to load, or its load ended: the node reports what it holds now (a control plane routes by it). */
  onLoadChange?(): void;
}

export interface LoadedModelInfo {
  /** The id the model was last requested by. */
  model: string;
  /** Every id it was requested by: models registered twice for one file share one load. */
  models: string[];
  path: string;
  state: "loading" | "ready";
  /** When its load began. */
  loadStartedAt: number;
  activeRequests: number;
  /** Requests it runs at once (its context's sequences). */
  sequences: number;
  lastUsedAt: number;
  idleTtlMs: number;
  /** Asked to unload while requests run on it: it goes when they end, unless another comes first. */
  unloadPending: boolean;
  /** node-llama-cpp's chat wrapper for the GGUF's template (e.g. "ChatML"), once loaded. */
  chatWrapper?: string;
  contextSize?: number;
  /** Its decode batches and the sequences they held, once loaded. */
  decode?: DecodeStats;
}

/** Loads GGUF models on demand and runs chat, completion, embedding and rerank jobs on them. */
export interface InferenceEngine {
  chat(job: ChatJob, hooks: GenerationHooks): Promise<GenerationResult>;
  /** The prompt tokens `job` would take, counted with the model's tokenizer and chat template. */
  countChatTokens(job: ChatJob, signal: AbortSignal): Promise<number>;
  complete(job: CompletionJob, hooks: GenerationHooks): Promise<GenerationResult>;
  embed(job: EmbeddingJob, signal: AbortSignal): Promise<EmbeddingResult>;
  rerank(job: RerankJob, signal: AbortSignal): Promise<RerankResult>;
  /**
   * Loads `model` now, as its first request would, and keeps it for its idle time: resolves once it
   * is loaded (at once if it was).
   */
  load(model: ModelTarget, signal: AbortSignal): Promise<void>;
  loaded(): LoadedModelInfo[];
  /** The most models it holds at once: loading one more unloads the least recently used first. */
  readonly maxLoadedModels: number;
  /** The llama.cpp it runs: known once llama.cpp is loaded (with the first model). */
  llamaCpp(): LlamaCppBuild | undefined;
  /**
   * Unloads what is loaded from `path`, in every setting: now where idle, else once its running
   * requests end. Says whether nothing of it is left now.
   */
  unload(path: string): Promise<boolean>;
  /**
   * Unloads the loads model `id` was requested in (a load another id shares goes too: they are one
   * in memory): now where idle, else once their running requests end, unless another comes first.
   */
  unloadModel(id: string): Promise<"now" | "when_idle" | "not_loaded">;
  /**
   * Model `id` is gone here (deleted, pinned elsewhere) or its load setting changed: the loads only it
   * was requested in are unloaded (now where idle, else once their requests end); one another id
   * shares stays, as that one's.
   */
  release(id: string): Promise<void>;
  /** Model `id`'s idle time changed (undefined: the default): its loads keep to it from now on. */
  keepIdleFor(id: string, idleTtlMs: number | undefined): void;
  /** Aborts every job and unloads every model. */
  dispose(): Promise<void>;
}

const defaultMaxLoadedModels = 3;
const DEFAULT_IDLE_TTL_MS = defaultIdleTtlSeconds * 1000;

/** Aborts (the client left, or shutdown) pass through untouched; anything unexpected becomes an AppError. */
function asAppError(error: unknown, signal: AbortSignal, model: ModelTarget): unknown {
  if (isAppError(error) || signal.aborted) return error;
  if (error instanceof ModelPoolDisposedError)
    return new AppError("inference.unavailable", error.message, { cause: error });
  if (error instanceof InsufficientMemoryError) {
    return new AppError("inference.unavailable", `Not enough memory to load the model "${model.id}".`, {
      cause: error,
    });
  }
  const deep = nestedTooDeep(error);
  if (deep) return deep;
  const detail = error instanceof Error ? error.message : String(error);
  return new AppError("inference.failed", `The model "${model.id}" failed: ${detail}`, { cause: error });
}

/** What one load is: a file in one setting. Models that agree on all of it share the load. */
interface LoadSpec {
  path: string;
  contextSize?: number;
  sequences?: number;
}

/** The pool's key for a load: its path alone in the default setting. */
function keyOf(spec: LoadSpec): string {
  if (spec.contextSize === undefined && spec.sequences === undefined) return spec.path;
  return `${spec.path}\u0000ctx=${spec.contextSize ?? "auto"},seq=${spec.sequences ?? "default"}`;
}

export function createInferenceEngine(options: InferenceEngineOptions): InferenceEngine {
  const log = options.log.child({ module: "inference" });
  const shutdown = new AbortController();
  const loadedByKey = new Map<string, LoadedModel>();
  const specByKey = new Map<string, LoadSpec>();
  /** The ids each load was requested by, the latest last. */
  const idsByKey = new Map<string, string[]>();
  let runtime: Promise<{ llama: Llama; grammars: GrammarCache }> | undefined;
  let build: LlamaCppBuild | undefined;

  /** llama.cpp is loaded on the first request, so a node with no traffic pays nothing for it. */
  const getRuntime = () =>
    (runtime ??= getLlama({
      build: "never",
      gpu: options.backend === "cpu" ? false : options.backend,
      logLevel: LlamaLogLevel.error,
      logger: (level, message) => log.warn({ llamaLevel: level }, message.trim()),
    }).then((llama) => {
      build = {
        build: llama.buildType === "localBuild" ? "local" : "prebuilt",
        release: llama.llamaCppRelease.release,
      };
      return { llama, grammars: createGrammarCache(llama) };
    }));

  const pool = createModelPool<LoadedModel>({
    log,
    ...(options.onUnloaded ? { onUnloaded: options.onUnloaded } : {}),
    ...(options.onLoadChange ? { onLoadChange: options.onLoadChange } : {}),
    idleTtlMs: options.idleTtlMs ?? DEFAULT_IDLE_TTL_MS,
    maxLoaded: options.maxLoadedModels ?? defaultMaxLoadedModels,
    isOutOfMemory: (error) => error instanceof InsufficientMemoryError,
    async load(key) {
      const { llama } = await getRuntime();
      const spec = specByKey.get(key)!;
      const loaded = await loadLlamaModel(llama, spec.path, {
        threads: options.threads,
        sequences: spec.sequences ?? options.sequences ?? 8,
        contextSize: spec.contextSize ?? "auto",
        // On a GPU, llama.cpp's flash attention where the model and backend support it: measured on
        // an H200, one request went from 348 to 431 tokens/s. On the CPU it is left as llama.cpp has it.
        flashAttention: options.backend === "cpu" ? false : "auto",
        async deviceMemory() {
          if (options.backend === "cpu") return { total: os.totalmem(), free: os.freemem() };
          const vram = await llama.getVramState();
          return { total: vram.total, free: vram.free };
        },
      }).catch((error: unknown) => {
        if (error instanceof InsufficientMemoryError || isAppError(error)) throw error;
        // This node's llama.cpp build, GPU or driver could not take it: another node may.
        const detail = error instanceof Error ? error.message : String(error);
        throw new AppError(
          "inference.unavailable",
          `This node could not load ${path.basename(spec.path)}: ${detail}`,
          {
            cause: error,
          },
        );
      });
      loadedByKey.set(key, loaded);
      return loaded;
    },
    async unload(loaded, key) {
      loadedByKey.delete(key);
      idsByKey.delete(key);
      await loaded.dispose();
    },
  });

  /** The loads held (or loading) that `id` was requested in. */
  const keysOf = (id: string) =>
    pool
      .entries()
      .map((entry) => entry.key)
      .filter((key) => idsByKey.get(key)?.includes(id));

  /** Notes that `id` asked for the load at `key`. */
  function requestedBy(key: string, id: string): void {
    const ids = (idsByKey.get(key) ?? []).filter((other) => other !== id);
    ids.push(id);
    idsByKey.set(key, ids);
  }

  /** Runs `work` with the job's model loaded, under a signal that also aborts on shutdown. */
  async function withModel<R>(
    job: { model: ModelTarget; idleTtlMs?: number },
    requestSignal: AbortSignal,
    work: (loaded: LoadedModel, signal: AbortSignal, modelWaitMs: number) => Promise<R>,
  ): Promise<R> {
    const asked = performance.now();
    const signal = AbortSignal.any([requestSignal, shutdown.signal]);
    const spec: LoadSpec = { path: job.model.path };
    if (job.model.contextSize !== undefined) spec.contextSize = job.model.contextSize;
    if (job.model.sequences !== undefined) spec.sequences = job.model.sequences;
    const key = keyOf(spec);
    specByKey.set(key, spec);
    requestedBy(key, job.model.id);
    try {
      return await pool.use(
        key,
        { signal, ...(job.idleTtlMs !== undefined ? { idleTtlMs: job.idleTtlMs } : {}) },
        (loaded) => work(loaded, signal, Math.round(performance.now() - asked)),
      );
    } catch (error) {
      throw asAppError(error, signal, job.model);
    }
  }

  return {
    chat(job, hooks) {
      return withModel(job, hooks.signal, async (loaded, signal, modelWaitMs) => {
        const { grammars } = await getRuntime();
        const forced = job.forceToolCall && job.functions ? forcedToolCall(job.functions) : undefined;
        const grammar = await grammars.grammarFor(
          forced ? { type: "json_schema", schema: forced.schema } : job.format,
        );
        return { ...(await runChat(loaded, job, grammar, { ...hooks, signal }, forced)), modelWaitMs };
      });
    },
    countChatTokens(job, signal) {
      return withModel(job, signal, (loaded, combined) =>
        loaded.countChatPromptTokens(job.history, job.functions, combined),
      );
    },
    complete(job, hooks) {
      return withModel(job, hooks.signal, async (loaded, signal, modelWaitMs) => ({
        ...(await runCompletion(loaded, job, { ...hooks, signal })),
        modelWaitMs,
      }));
    },
    embed(job, signal) {
      return withModel(job, signal, (loaded, combined) => runEmbeddings(loaded, job, combined));
    },
    rerank(job, signal) {
      return withModel(job, signal, (loaded, combined) => runRerank(loaded, job, combined));
    },
    load(model, signal) {
      const idleTtl = model.idleTtlMs !== undefined ? { idleTtlMs: model.idleTtlMs } : {};
      return withModel({ model, ...idleTtl }, signal, async () => undefined);
    },
    llamaCpp: () => build,
    maxLoadedModels: options.maxLoadedModels ?? defaultMaxLoadedModels,
    loaded() {
      return pool.entries().map((entry) => {
        const loaded = loadedByKey.get(entry.key);
        const ids = idsByKey.get(entry.key) ?? [];
        return {
          model: ids.at(-1) ?? entry.key,
          models: [...ids],
          path: specByKey.get(entry.key)?.path ?? entry.key,
          state: entry.state,
          loadStartedAt: entry.loadStartedAt,
          activeRequests: entry.activeUses,
          sequences: loaded?.sequences.size ?? options.sequences ?? 4,
          lastUsedAt: entry.lastUsedAt,
          idleTtlMs: entry.idleTtlMs,
          unloadPending: entry.unloadPending,
          ...(loaded
            ? {
                chatWrapper: loaded.chatWrapper.wrapperName,
                contextSize: loaded.contextSize,
                decode: { ...loaded.decode },
              }
            : {}),
        };
      });
    },
    async unload(path) {
      const keys = pool
        .entries()
        .map((entry) => entry.key)
        .filter((key) => specByKey.get(key)?.path === path);
      const unloaded = await Promise.all(keys.map((key) => pool.unload(key)));
      return unloaded.every(Boolean);
    },
    async unloadModel(id) {
      const keys = keysOf(id);
      if (keys.length === 0) return "not_loaded";
      const unloaded = await Promise.all(keys.map((key) => pool.unload(key)));
      return unloaded.every(Boolean) ? "now" : "when_idle";
    },
    keepIdleFor(id, idleTtlMs) {
      for (const key of keysOf(id)) pool.keepIdleFor(key, idleTtlMs);
    },
    async release(id) {
      await Promise.all(
        keysOf(id).map(async (key) => {
          const others = idsByKey.get(key)!.filter((other) => other !== id);
          if (others.length > 0) idsByKey.set(key, others);
          else await pool.unload(key);
        }),
      );
    },
    async dispose() {
      shutdown.abort(new AppError("inference.unavailable", "The node is shutting down."));
      await pool.dispose();
      const started = await runtime?.catch(() => undefined);
      await started?.llama.dispose();
    },
  };
}

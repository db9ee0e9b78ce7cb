import type { LlamaCppBuild, LoadedModel, Model, ModelSettings, NodeModelState } from "../contract";
import fs from "node:fs";
import { AppError } from "../shared/errors";
import type { Logger } from "../shared/logger";
import { checkGgufHeader } from "./checkGguf";
import { chooseArtifact } from "./chooseArtifact";
import { ControlPlaneError, type ControlPlaneClient } from "./controlPlaneClient";
import { cachedSnapshotPath, DownloadError, downloadToHfCache } from "./download";
import type { DownloadLedger } from "./downloadLedger";
import type { MemoryProbe } from "./memory";
import type { WorkerConfig } from "./workerConfig";
import { backoffMs } from "../shared/backoff";

export interface NodeAgentOptions {
  config: WorkerConfig;
  log: Logger;
  client: ControlPlaneClient;
  memory: MemoryProbe;
  ledger: DownloadLedger;
  /** Where the control plane reaches this node. */
  nodeUrl: string;
  /** Models held in memory now, reported by heartbeat. Default: none. */
  loaded?: () => LoadedModel[];
  /** The llama.cpp it runs, once known, reported by heartbeat. Default: not said. */
  llamaCpp?: () => LlamaCppBuild | undefined;
  /**
   * A ready model was deleted from the registry, pinned to other nodes, or its settings changed:
   * unload it (before its files go). Default: nothing.
   */
  onModelDropped?: (path: string) => Promise<unknown>;
  /**
   * A model that had crashed this node's worker was retried or deleted: its supervisor starts its
   * count over. Default: nothing.
   */
  onCrashCleared?: (model: string) => void;
}

export interface NodeAgent {
  /** Registers (retrying until the control plane answers), then heartbeats and syncs until disposed. */
  start(): Promise<void>;
  /** Syncs with the registry as soon as possible (the control plane said it changed). */
  syncNow(): void;
  /** The node token the control plane gave; it calls the node with it. */
  nodeToken(): string | undefined;
  states(): NodeModelState[];
  /**
   * Downloads use this Hugging Face token from now on (undefined: none); models that failed are tried
   * again at once, since a missing or wrong token is the usual reason.
   */
  setHfToken(token: string | undefined): void;
  /**
   * A model this node has ready, for inference: its local GGUF and its settings; undefined for any
   * other. Its files are looked for first: should another program have deleted them from the cache,
   * the model is reported not ready (before this resolves) and downloaded again, and this throws a
   * 503 that says so.
   */
  readyModel(modelId: string): Promise<{ path: string; settings: ModelSettings } | undefined>;
  /**
   * Tries a failed model again now: one that crashed this worker is loaded again, one whose download
   * failed is fetched again without waiting out its backoff. False when the model is not failed here.
   */
  retry(modelId: string): boolean;
  /** Stops timers and aborts the download in progress; its partial file stays for next time. */
  dispose(): Promise<void>;
}

interface Tracked {
  model: Model;
  state: NodeModelState;
  /** Its local files once ready: the one to load first (a split set's parts in order). */
  files?: string[];
  failures: number;
  retryAt: number;
}

/** Whether a model must be loaded again for new settings (its context or sequences differ). */
function loadChanged(before: ModelSettings, after: ModelSettings): boolean {
  return before.context_size !== after.context_size || before.parallel !== after.parallel;
}

/** After a failure, wait 15 s, doubling up to 10 min, before trying a model again. */
export function retryDelayMs(failures: number): number {
  return backoffMs(failures, 15_000, 10 * 60_000);
}

function errorMessage(error: unknown): string {
  if (error instanceof DownloadError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * The node's side of the protocol: keeps one state per registered model, downloads one model at a
 * time into the Hugging Face cache, reports by heartbeat, and drops what was deleted.
 */
export function createNodeAgent(options: NodeAgentOptions): NodeAgent {
  const { config, client, memory, ledger } = options;
  let hfToken = config.hfToken;
  const log = options.log.child({ module: "agent" });
  const stopped = new AbortController();
  const tracked = new Map<string, Tracked>();
  /** Models that crashed this node's earlier processes: reported as such, never loaded, until retried. */
  const crashed = new Map(config.crashedModels.map((entry) => [entry.model, entry.message]));
  let nodeId: string | undefined;
  let token: string | undefined;
  let heartbeatMs = 2000;
  let syncMs = 5000;
  let seenVersion: number | undefined;
  let syncing: Promise<void> | undefined;
  let syncAgain = false;
  let working = false;
  /** The model being prepared (downloaded, verified); `done` settles when its work has stopped. */
  let current: { modelId: string; controller: AbortController; done: Promise<void> } | undefined;
  const timers = new Set<NodeJS.Timeout>();

  function every(ms: () => number, task: () => Promise<void>): void {
    const tick = () => {
      if (stopped.signal.aborted) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        void task().finally(tick);
      }, ms());
      timers.add(timer);
    };
    tick();
  }

  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      stopped.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
  }

  async function register(): Promise<void> {
    for (let attempt = 0; !stopped.signal.aborted; attempt++) {
      try {
        const answer = await client.register({
          name: config.name,
          url: options.nodeUrl,
          backend: config.backend,
          devices: await memory.devices(),
          memory: await memory.memory(),
          backends_left_out: config.backendsLeftOut,
        });
        nodeId = answer.node_id;
        token = answer.node_token;
        heartbeatMs = answer.heartbeat_interval_ms;
        syncMs = answer.sync_interval_ms;
        log.info({ node: nodeId }, "registered with the control plane");
        return;
      } catch (error) {
        log.warn({ err: errorMessage(error), attempt }, "cannot register with the control plane yet");
        await wait(backoffMs(attempt + 1, 500, 10_000));
      }
    }
  }

  function setState(entry: Tracked, state: NodeModelState): void {
    entry.state = state;
  }

  async function heartbeat(): Promise<void> {
    if (!nodeId) return;
    try {
      const answer = await client.heartbeat(nodeId, {
        memory: await memory.memory(),
        models: agent.states(),
        loaded: options.loaded?.() ?? [],
        llama_cpp: options.llamaCpp?.(),
      });
      if (answer.registry_version !== seenVersion) {
        seenVersion = answer.registry_version;
        agent.syncNow();
      }
    } catch (error) {
      if (error instanceof ControlPlaneError && (error.status === 404 || error.status === 401)) {
        log.warn("the control plane does not know this node any more; registering again");
        await register();
        return;
      }
      log.warn({ err: errorMessage(error) }, "heartbeat failed");
    }
  }

  /** Whether this node serves `model`: every node does, unless it is pinned to others. */
  const servesHere = (model: Model) =>
    model.settings.nodes.length === 0 || model.settings.nodes.includes(config.name);

  async function sync(): Promise<void> {
    if (!nodeId) return;
    const models = await client.listModels();
    const registered = new Map(models.filter(servesHere).map((model) => [model.name, model]));
    for (const [id, entry] of tracked) {
      if (registered.has(id)) continue;
      tracked.delete(id);
      // Registered again later, it is a new model: its crashes here are forgotten.
      if (crashed.delete(id)) options.onCrashCleared?.(id);
      if (current?.modelId === id) {
        // Its partial file is pruned below: the download must have let go of it first.
        current.controller.abort();
        await current.done;
      }
      if (entry.files) await options.onModelDropped?.(entry.files[0]!);
      // A model pinned elsewhere keeps its files here (they are pruned only once it is deleted).
      log.info(
        { model: id },
        models.some((model) => model.name === id)
          ? "model pinned to other nodes"
          : "model deleted from the registry",
      );
    }
    for (const model of registered.values()) {
      const entry = tracked.get(model.name);
      if (!entry) {
        const crash = crashed.get(model.name);
        tracked.set(model.name, {
          model,
          state: crash
            ? { model: model.name, artifact: null, state: "error", message: crash, crashed: true }
            : { model: model.name, artifact: null, state: "pending" },
          failures: 0,
          retryAt: crash ? Infinity : 0,
        });
        continue;
      }
      if (entry.files && loadChanged(entry.model.settings, model.settings)) {
        // Loaded in the old setting: unloaded once idle, and loaded in the new one at the next request.
        await options.onModelDropped?.(entry.files[0]!);
      }
      entry.model = model;
      if (entry.state.state === "ready" && !(await filesPresent(entry))) await filesGone(entry);
      if (entry.state.state === "error" && entry.retryAt <= Date.now()) {
        setState(entry, { model: model.name, artifact: entry.state.artifact, state: "pending" });
      }
    }
    const inUse = new Set(
      models.flatMap((model) => model.artifacts.map((a) => a.sha256)).filter((sha) => sha !== null),
    );
    await ledger.prune(inUse);
    void work();
  }

  /** Whether a ready model's files are all still in the cache. */
  async function filesPresent(entry: Tracked): Promise<boolean> {
    const present = await Promise.all(
      (entry.files ?? []).map((file) =>
        fs.promises.access(file).then(
          () => true,
          () => false,
        ),
      ),
    );
    return present.every(Boolean);
  }

  /**
   * A ready model's files were deleted from the cache by another program (`huggingface-cli delete-cache`,
   * `delete_revisions`): it is unloaded, reported not ready at once, and downloaded again.
   */
  async function filesGone(entry: Tracked): Promise<void> {
    const modelId = entry.model.name;
    const files = entry.files ?? [];
    log.warn({ model: modelId, files }, "model files gone from the cache; downloading them again");
    entry.files = undefined;
    setState(entry, { model: modelId, artifact: entry.state.artifact, state: "pending" });
    if (files[0]) await options.onModelDropped?.(files[0]);
    await heartbeat();
    void work();
  }

  async function prepare(entry: Tracked, controller: AbortController): Promise<void> {
    const modelId = entry.model.name;
    try {
      const manifest = await client.manifest(modelId);
      const choice = chooseArtifact(manifest, (await memory.memory()).total_bytes);
      if (choice.type === "unsupported") {
        setState(entry, { model: modelId, artifact: null, state: "unsupported", reason: choice.reason });
        return;
      }
      const artifact = choice.files[0]!.filename;
      let doneBefore = 0;
      const paths: string[] = [];
      for (const file of choice.files) {
        if (!file.sha256) {
          throw new Error(`${file.filename} has no sha256 on the hub, so it cannot be verified`);
        }
        const cacheEntry = {
          repo: manifest.repo,
          commit: manifest.commit,
          filename: file.filename,
          sha256: file.sha256,
        };
        // Recorded before the download starts, so a file this node fetches is never left untracked,
        // even if the node is killed between finishing it and writing the ledger.
        if (!(await cachedSnapshotPath(config.hubCacheDir, { ...cacheEntry, size: file.size_bytes }))) {
          await ledger.record(cacheEntry);
        }
        const result = await downloadToHfCache(
          {
            repo: manifest.repo,
            revision: manifest.revision,
            commit: manifest.commit,
            filename: file.filename,
            url: file.url,
            size: file.size_bytes,
            sha256: file.sha256,
          },
          {
            cacheDir: config.hubCacheDir,
            log,
            token: hfToken,
            signal: AbortSignal.any([controller.signal, stopped.signal]),
            onProgress: (progress) =>
              setState(entry, {
                model: modelId,
                artifact,
                state: "downloading",
                bytes_done: doneBefore + progress.bytesDone,
                bytes_total: choice.sizeBytes,
                bytes_per_second: progress.bytesPerSecond,
              }),
          },
        );
        doneBefore += file.size_bytes;
        paths.push(result.snapshotPath);
      }
      setState(entry, { model: modelId, artifact, state: "verifying" });
      await checkGgufHeader(paths[0]!);
      entry.failures = 0;
      entry.files = paths;
      setState(entry, { model: modelId, artifact, state: "ready" });
      log.info({ model: modelId, artifact }, "model ready");
    } catch (error) {
      if (controller.signal.aborted || stopped.signal.aborted) return;
      entry.failures++;
      entry.retryAt = Date.now() + retryDelayMs(entry.failures);
      const message = errorMessage(error);
      setState(entry, { model: modelId, artifact: entry.state.artifact, state: "error", message });
      log.warn({ model: modelId, err: message, retryInMs: entry.retryAt - Date.now() }, "model failed");
    }
  }

  /** One model at a time: downloads share the link better in sequence than all at once. */
  async function work(): Promise<void> {
    if (working) return;
    working = true;
    try {
      for (;;) {
        if (stopped.signal.aborted) return;
        const next = [...tracked.values()].find((entry) => entry.state.state === "pending");
        if (!next) return;
        const controller = new AbortController();
        current = { modelId: next.model.name, controller, done: prepare(next, controller) };
        try {
          await current.done;
        } finally {
          current = undefined;
        }
      }
    } finally {
      working = false;
    }
  }

  const agent: NodeAgent = {
    async start() {
      await register();
      every(() => heartbeatMs, heartbeat);
      every(
        () => syncMs,
        async () => agent.syncNow(),
      );
      agent.syncNow();
    },
    syncNow() {
      if (syncing) {
        syncAgain = true;
        return;
      }
      syncing = sync()
        .catch((error: unknown) => log.warn({ err: errorMessage(error) }, "sync failed"))
        .finally(() => {
          syncing = undefined;
          if (syncAgain) {
            syncAgain = false;
            agent.syncNow();
          }
        });
    },
    nodeToken: () => token,
    setHfToken(next) {
      hfToken = next;
      for (const entry of tracked.values()) {
        if (entry.state.state !== "error" || entry.state.crashed) continue;
        entry.failures = 0;
        setState(entry, { model: entry.model.name, artifact: entry.state.artifact, state: "pending" });
      }
      void work();
    },
    states: () => [...tracked.values()].map((entry) => entry.state),
    async readyModel(modelId) {
      const entry = tracked.get(modelId);
      if (entry?.state.state !== "ready" || !entry.files) return undefined;
      if (await filesPresent(entry)) return { path: entry.files[0]!, settings: entry.model.settings };
      if (entry.state.state === "ready") await filesGone(entry);
      throw new AppError(
        "model.not_ready",
        `The files of model ${modelId} were deleted from this node's Hugging Face cache; it is downloading them again.`,
        { retryAfter: 5 },
      );
    },
    retry(modelId) {
      const entry = tracked.get(modelId);
      if (crashed.delete(modelId)) options.onCrashCleared?.(modelId);
      if (entry?.state.state !== "error") return false;
      log.info({ model: modelId }, "model retried");
      entry.failures = 0;
      entry.retryAt = 0;
      setState(entry, { model: modelId, artifact: entry.state.artifact, state: "pending" });
      void work();
      return true;
    },
    async dispose() {
      stopped.abort();
      for (const timer of timers) clearTimeout(timer);
      await syncing;
    },
  };
  return agent;
}

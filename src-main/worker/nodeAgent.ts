import type { LlamaCppBuild, LoadedModel, ModelSettings, NodeModelState } from "../contract";
import { systemClock, type Clock } from "../shared/clock";
import type { Logger } from "../shared/logger";
import { createNodeSession } from "./agent/nodeSession";
import { createPrepareQueue } from "./agent/prepareQueue";
import { errorMessage } from "./agent/errorMessage";
import type { ControlPlaneClient } from "./controlPlaneClient";
import type { DownloadLedger } from "./downloadLedger";
import type { MemoryProbe } from "./memory";
import type { WorkerConfig } from "./workerConfig";

export interface NodeAgentOptions {
  config: WorkerConfig;
  log: Logger;
  client: ControlPlaneClient;
  memory: MemoryProbe;
  ledger: DownloadLedger;
  /** Where the control plane reaches this node. */
  nodeUrl: string;
  /** Time, for when a failed model is due again. Default: the system's. */
  clock?: Clock;
  /** Models held in memory now, reported by heartbeat. Default: none. */
  loaded?: () => LoadedModel[];
  /** The most models it holds at once, reported by heartbeat. Default: not said. */
  maxLoadedModels?: number;
  /** The llama.cpp it runs, once known, reported by heartbeat. Default: not said. */
  llamaCpp?: () => LlamaCppBuild | undefined;
  /** A ready model's files are gone from the cache: unload whatever holds them. Default: nothing. */
  onModelDropped?: (path: string) => Promise<unknown>;
  /**
   * A ready model was deleted from the registry, pinned to other nodes, or its load settings changed:
   * unload the loads it alone was requested in (before its files go). Default: nothing.
   */
  onModelReleased?: (id: string) => Promise<unknown>;
  /** A model's idle time setting changed (undefined: the default): its loads keep to it now. Default: nothing. */
  onIdleTtlChanged?: (id: string, idleTtlMs: number | undefined) => void;
  /**
   * A model that had crashed this node's worker was retried or deleted: its supervisor starts its
   * count over. Default: nothing.
   */
  onCrashCleared?: (model: string) => void;
  /** Registered, or refused for a reason that lasts (see NodeSessionOptions). Default: nothing. */
  onRegistration?: (refused: string | undefined) => void;
}

export interface NodeAgent {
  /** Registers (retrying until the control plane answers), then heartbeats and syncs until disposed. */
  start(): Promise<void>;
  /** Syncs with the registry as soon as possible (the control plane said it changed). */
  syncNow(): void;
  /**
   * Reports to the control plane now rather than at the next heartbeat (what it holds in memory
   * changed on the control plane's word: a load or unload it asked for, whose answer it then shows).
   */
  reportNow(): Promise<void>;
  /** The control plane said it quits: its silence from now on is expected (logged at debug only). */
  controlPlaneQuitting(): void;
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
  /**
   * Tries a failed model again; resolves once the control plane heard it is on its way (a client
   * waiting for it does not read the failure it had).
   */
  retry(modelId: string): Promise<boolean>;
  /**
   * The node is stopping: tells the control plane now, and at every heartbeat after, so it sends no
   * new requests while those running finish.
   */
  drain(): Promise<void>;
  /** Stops timers and aborts the download in progress; its partial file stays for next time. */
  dispose(): Promise<void>;
}

/**
 * The node's side of the protocol, in three parts: its session with the control plane (register,
 * heartbeat), the sync loop here (the registry's models, on a timer and when told), and the queue
 * that prepares the models one at a time into the Hugging Face cache.
 */
export function createNodeAgent(options: NodeAgentOptions): NodeAgent {
  const { client, ledger } = options;
  const log = options.log.child({ module: "agent" });
  const stopped = new AbortController();
  const timers = new Set<NodeJS.Timeout>();
  let seenVersion: number | undefined;
  let syncing: Promise<void> | undefined;
  let syncAgain = false;
  let draining = false;
  let syncFailing = false;
  /** Its control plane said it quits. */
  let quitting = false;

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

  const session = createNodeSession({ ...options, log, wait, stopped: stopped.signal });
  const queue = createPrepareQueue({
    ...options,
    log,
    clock: options.clock ?? systemClock,
    stopped: stopped.signal,
    reportNow: () => heartbeat(),
  });

  /** The beat on its way, and the one asked for meanwhile (which waits for it). */
  let beating: Promise<void> | undefined;
  let beatNext: Promise<void> | undefined;
  /**
   * Reports now, one beat at a time: two on their way at once could arrive out of order, the older
   * report last (a model ready again after the newer said it was not).
   */
  function heartbeat(): Promise<void> {
    if (beatNext) return beatNext;
    if (beating) {
      beatNext = beating
        .catch(() => undefined)
        .then(() => {
          beatNext = undefined;
          return heartbeat();
        });
      return beatNext;
    }
    beating = beatOnce().finally(() => (beating = undefined));
    return beating;
  }

  async function beatOnce(): Promise<void> {
    const version = await session.heartbeat({
      models: queue.states(),
      loaded: options.loaded?.() ?? [],
      llama_cpp: options.llamaCpp?.(),
      ...(draining ? { draining: true } : {}),
      ...(options.maxLoadedModels !== undefined ? { max_loaded_models: options.maxLoadedModels } : {}),
    });
    if (version !== undefined && version !== seenVersion) {
      seenVersion = version;
      agent.syncNow();
    }
  }

  async function sync(): Promise<void> {
    if (!session.nodeId()) return;
    const models = await client.listModels();
    syncFailing = false;
    await queue.reconcile(models);
    const inUse = new Set(
      models.flatMap((model) => model.artifacts.map((a) => a.sha256)).filter((sha) => sha !== null),
    );
    queue.prepareNext();
    // Only what the registry says was removed: a file it does not list may be one a new or reset
    // registry (or another control plane) never knew, and is not this node's to delete for that.
    const removed = await client.removedFiles();
    if (removed) await ledger.prune(inUse, removed);
  }

  const agent: NodeAgent = {
    reportNow: () => heartbeat().catch((error: unknown) => log.warn({ err: error }, "report not delivered")),
    async start() {
      await session.register();
      every(session.heartbeatMs, heartbeat);
      every(session.syncMs, async () => agent.syncNow());
      agent.syncNow();
    },
    syncNow() {
      if (syncing) {
        syncAgain = true;
        return;
      }
      syncing = sync()
        .catch((error: unknown) => {
          // Said once while it keeps failing (the control plane down): not every few seconds.
          // Its control plane quits: its silence is expected.
          if (syncFailing || quitting) log.debug({ err: errorMessage(error) }, "sync failed");
          else
            log.warn({ err: errorMessage(error) }, "sync failed; trying on, quietly, until one gets through");
          syncFailing = true;
        })
        .finally(() => {
          syncing = undefined;
          if (syncAgain) {
            syncAgain = false;
            agent.syncNow();
          }
        });
    },
    nodeToken: session.token,
    controlPlaneQuitting() {
      quitting = true;
      session.controlPlaneQuitting();
    },
    setHfToken: queue.setHfToken,
    states: queue.states,
    readyModel: queue.readyModel,
    async retry(modelId) {
      const retried = queue.retry(modelId);
      if (!retried) return false;
      log.info({ model: modelId }, "model retried");
      await heartbeat().catch((error: unknown) => log.warn({ err: error }, "report not delivered"));
      return true;
    },
    async drain() {
      draining = true;
      await heartbeat();
    },
    async dispose() {
      stopped.abort();
      for (const timer of timers) clearTimeout(timer);
      await syncing;
      // A download under way lets go of its file (its lock, its progress saved) before the node exits.
      await queue.settled();
    },
  };
  return agent;
}

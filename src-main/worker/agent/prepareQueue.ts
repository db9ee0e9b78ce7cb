import fs from "node:fs";
import type { Model, ModelSettings, NodeModelState } from "../../contract";
import { backoffMs } from "../../shared/backoff";
import type { Clock } from "../../shared/clock";
import { AppError } from "../../shared/errors";
import type { Logger } from "../../shared/logger";
import { checkGgufHeader } from "../checkGguf";
import { chooseArtifact } from "../chooseArtifact";
import type { ControlPlaneClient } from "../controlPlaneClient";
import { cachedSnapshotPath, cachePaths, DownloadError, downloadToHfCache, sha256OfFile } from "../download";
import type { DownloadLedger } from "../downloadLedger";
import type { MemoryProbe } from "../memory";
import type { WorkerConfig } from "../workerConfig";
import { errorMessage } from "./errorMessage";

export interface PrepareQueueOptions {
  config: WorkerConfig;
  client: ControlPlaneClient;
  memory: MemoryProbe;
  ledger: DownloadLedger;
  log: Logger;
  clock: Clock;
  stopped: AbortSignal;
  /** A ready model's files are gone from the cache: unload whatever holds them. */
  onModelDropped?: (path: string) => Promise<unknown>;
  /**
   * A ready model was deleted here, or its load setting changed: the loads it alone was requested in
   * go (one another model of the same file shares stays, for that one).
   */
  onModelReleased?: (id: string) => Promise<unknown>;
  /** A model's idle time setting changed (undefined: the default): what holds it keeps to it now. */
  onIdleTtlChanged?: (id: string, idleTtlMs: number | undefined) => void;
  /** A model that had crashed this node's worker was retried or deleted. */
  onCrashCleared?: (model: string) => void;
  /** Tell the control plane now how the models stand (a ready one is not any more). */
  reportNow(): Promise<void>;
}

/** The models this node serves, each with its state, prepared (downloaded, verified) one at a time. */
export interface PrepareQueue {
  /**
   * Brings the models in line with the registry: new ones pending, deleted ones (or pinned to other
   * nodes) dropped, a changed load unloaded, ready ones whose files went missing downloaded again,
   * failed ones due for a retry pending again.
   */
  reconcile(models: readonly Model[]): Promise<void>;
  /** Prepares what is pending, one model at a time, unless it is at it already. */
  prepareNext(): void;
  states(): NodeModelState[];
  readyModel(modelId: string): Promise<{ path: string; settings: ModelSettings } | undefined>;
  retry(modelId: string): boolean;
  setHfToken(token: string | undefined): void;
  /** Settles once the work under way (a download, a look into the cache) has stopped: after `stopped`. */
  settled(): Promise<void>;
}

interface Tracked {
  model: Model;
  state: NodeModelState;
  /** Its local files once ready: the one to load first (a split set's parts in order). */
  files?: string[];
  failures: number;
  retryAt: number;
  /** Found to need a download since it last became pending: the download lane's, not the cache check's. */
  needsDownload?: boolean;
  /** Downloads in a row that failed verification. */
  checksumFailures?: number;
}

/** Whether a model must be loaded again for new settings (its context or sequences differ). */
function loadChanged(before: ModelSettings, after: ModelSettings): boolean {
  return before.context_size !== after.context_size || before.parallel !== after.parallel;
}

/** After a failure, wait 15 s, doubling up to 10 min, before trying a model again. */
function retryDelayMs(failures: number): number {
  return backoffMs(failures, 15_000, 10 * 60_000);
}

export function createPrepareQueue(options: PrepareQueueOptions): PrepareQueue {
  const { config, client, memory, ledger, log, clock, stopped } = options;
  let hfToken = config.hfToken;
  const tracked = new Map<string, Tracked>();
  /** Models that crashed this node's earlier processes: reported as such, never loaded, until retried. */
  const crashed = new Map(config.crashedModels.map((entry) => [entry.model, entry.message]));
  let working = false;
  /** The model being prepared; `done` settles when its work has stopped. */
  let current: { modelId: string; controller: AbortController; done: Promise<void> } | undefined;

  /** Models being looked up in the cache, beside the download lane; `done` settles when that stops. */
  const checking = new Map<string, { controller: AbortController; done: Promise<unknown> }>();

  const pending = (entry: Tracked) => {
    entry.needsDownload = false;
    entry.state = { model: entry.model.name, artifact: entry.state.artifact, state: "pending" };
  };

  /** Its state as reported: a model that waits for another's download says for which. */
  function stateOf(entry: Tracked): NodeModelState {
    const { state } = entry;
    const ahead = current?.modelId;
    if (
      state.state !== "pending" ||
      !entry.needsDownload ||
      ahead === undefined ||
      ahead === entry.model.name
    )
      return state;
    return { ...state, queued_behind: ahead };
  }

  /**
   * Whether this node serves `model`: every node does, unless it is pinned to others, or only
   * endpoints serve it (it has no files).
   */
  const servesHere = (model: Model) =>
    model.source !== "endpoint" &&
    (model.settings.nodes.length === 0 || model.settings.nodes.includes(config.name));

  async function drop(id: string, entry: Tracked, why: string): Promise<void> {
    tracked.delete(id);
    // Registered again later, it is a new model: its crashes here are forgotten.
    if (crashed.delete(id)) options.onCrashCleared?.(id);
    // Its partial file is pruned after this: its download must have let go of it first, and a look
    // into the cache must not link its files again.
    for (const under of [current?.modelId === id ? current : undefined, checking.get(id)]) {
      if (!under) continue;
      under.controller.abort();
      await under.done;
    }
    if (entry.files) await options.onModelReleased?.(id);
    // A model pinned elsewhere keeps its files here (they are pruned only once it is deleted).
    log.info({ model: id }, why);
  }

  /**
   * Whether a model ready here is served by the same bytes at `moved`'s commit: the file it chose (its
   * split set's parts) there under the same names and sha256.
   */
  function sameFilesAt(entry: Tracked, moved: Model): boolean {
    const chosen = entry.state.state === "ready" ? entry.state.artifact : null;
    const artifact = entry.model.artifacts.find((candidate) => candidate.filename === chosen);
    if (!artifact) return false;
    const parts = entry.model.artifacts.filter((candidate) =>
      artifact.split_group ? candidate.split_group === artifact.split_group : candidate === artifact,
    );
    return parts.every(
      (part) =>
        part.sha256 !== null &&
        moved.artifacts.some((there) => there.filename === part.filename && there.sha256 === part.sha256),
    );
  }

  function track(model: Model): void {
    const crash = crashed.get(model.name);
    tracked.set(model.name, {
      model,
      state: crash
        ? { model: model.name, artifact: null, state: "error", message: crash, crashed: true }
        : { model: model.name, artifact: null, state: "pending" },
      failures: 0,
      retryAt: crash ? Infinity : 0,
    });
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
    const files = entry.files ?? [];
    log.warn({ model: entry.model.name, files }, "model files gone from the cache; downloading them again");
    entry.files = undefined;
    pending(entry);
    if (files[0]) await options.onModelDropped?.(files[0]);
    await options.reportNow();
    void work();
  }

  /**
   * Downloads (unless `cachedOnly`) and verifies a model's files. With `cachedOnly`, a model whose
   * files are not all in the cache is left pending, marked as needing a download (`download`); with
   * `hashLater` too, one whose files another tool put there, not hashed yet, is left pending
   * (`hash later`). Otherwise `done`: ready, or failed.
   */
  async function prepare(
    entry: Tracked,
    controller: AbortController,
    cachedOnly?: { hashLater: boolean },
  ): Promise<"done" | "download" | "hash later"> {
    const modelId = entry.model.name;
    try {
      const manifest = await client.manifest(modelId);
      const choice = chooseArtifact(manifest, (await memory.memory()).total_bytes);
      if (choice.type === "unsupported") {
        entry.state = { model: modelId, artifact: null, state: "unsupported", reason: choice.reason };
        return "done";
      }
      /** Whether the file is complete in the cache already (whoever put it there). */
      const inCache = async (file: (typeof choice.files)[number]) =>
        file.sha256 !== null &&
        (await cachedSnapshotPath(config.hubCacheDir, {
          repo: manifest.repo,
          commit: manifest.commit,
          filename: file.filename,
          sha256: file.sha256,
          size: file.size_bytes,
        })) !== undefined;
      if (cachedOnly) {
        for (const file of choice.files) {
          if (await inCache(file)) continue;
          entry.needsDownload = true;
          return "download";
        }
        if (cachedOnly.hashLater && (await someUnhashed(manifest, choice.files))) return "hash later";
      }
      const artifact = choice.files[0]!.filename;
      /** Files another tool put in the cache, found there: their bytes are checked before use. */
      const adopted: AdoptedFile[] = [];
      /** Files this node downloaded before, found in the cache: hashed again where they changed since. */
      const ownFound: OwnFile[] = [];
      /** Each file of the choice into the cache (or found there): their snapshot paths. */
      const fetchAll = async (): Promise<string[]> => {
        adopted.length = 0;
        ownFound.length = 0;
        let doneBefore = 0;
        const paths: string[] = [];
        for (const file of choice.files) {
          if (!file.sha256) {
            throw new Error(`${file.filename} has no sha256 on the hub, so it cannot be verified`);
          }
          // Recorded before the download starts, so a file this node fetches is never left untracked,
          // even if the node is killed between finishing it and writing the ledger.
          const record = {
            repo: manifest.repo,
            commit: manifest.commit,
            filename: file.filename,
            sha256: file.sha256,
          };
          const recorded = !(await inCache(file));
          // Its bytes this node's own download already (the model moved to a commit with the same file):
          // its link at this commit is this node's too, removed with it.
          const ownedBefore = ledger.owns(file.sha256);
          // Recorded by this call: a record from before is a download of this node's, interrupted.
          const recordedNow = recorded && (await ledger.record(record));
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
              by: `llmlb worker ${config.name}`,
              log,
              // Read at each request: a token set meanwhile goes with the download's next one.
              token: () => hfToken,
              signal: AbortSignal.any([controller.signal, stopped]),
              onWaiting: (why) =>
                (entry.state = { model: modelId, artifact, state: "pending", waiting_for: why }),
              onProgress: (progress) =>
                (entry.state = {
                  model: modelId,
                  artifact,
                  state: "downloading",
                  bytes_done: doneBefore + progress.bytesDone,
                  bytes_total: choice.sizeBytes,
                  bytes_per_second: progress.bytesPerSecond,
                  ...(progress.interrupted !== undefined && { interrupted: progress.interrupted }),
                  ...(progress.restarted !== undefined && { restarted: progress.restarted }),
                }),
            },
          );
          // Another process downloaded it while this one waited for its lock, or the cache held it
          // (another tool's, at another commit): removing it is not this node's call.
          if ((recorded && result.fetchedByAnother) || (recordedNow && result.alreadyCached && !ownedBefore))
            await ledger.forget(record);
          if (!result.alreadyCached) await ledger.rememberChecked(result.blobPath, file.sha256);
          else if (!result.fetchedByAnother && ledger.owns(file.sha256))
            ownFound.push({
              filename: file.filename,
              sha256: file.sha256,
              blob: result.blobPath,
              snapshot: result.snapshotPath,
            });
          else if (!result.fetchedByAnother && !ledger.owns(file.sha256))
            adopted.push({
              file: { filename: file.filename, sha256: file.sha256 },
              blob: result.blobPath,
              ...(recorded ? { linkedHere: result.snapshotPath } : {}),
            });
          doneBefore += file.size_bytes;
          paths.push(result.snapshotPath);
        }
        return paths;
      };
      let paths = await fetchAll();
      entry.state = { model: modelId, artifact, state: "verifying" };
      // A file of its own changed on disk since it was hashed (its size or modification time): its
      // bytes may not be those downloaded (an edit, a tool's write, a restore gone wrong).
      if (await changedOwnFiles(ownFound, controller.signal)) {
        paths = await fetchAll();
        entry.state = { model: modelId, artifact, state: "verifying" };
      }
      await checkAdopted(adopted, controller.signal);
      try {
        await checkGgufHeader(paths[0]!);
      } catch (error) {
        // A file of the right size that does not read may have been damaged on disk since it was
        // downloaded (a crash mid-write, a bad sector): its sha256 says. A damaged one is fetched again.
        if (!(await removeDamaged(choice.files, paths, log, controller.signal))) throw error;
        paths = await fetchAll();
        entry.state = { model: modelId, artifact, state: "verifying" };
        await checkGgufHeader(paths[0]!);
      }
      entry.failures = 0;
      entry.files = paths;
      // Another llmlb on this cache that downloaded them leaves them while this one serves them.
      await ledger
        .use(choice.files.flatMap((file) => (file.sha256 ? [file.sha256] : [])))
        .catch((error: unknown) =>
          log.warn({ err: error, model: modelId }, "cannot mark this model's files in use in the cache"),
        );
      entry.state = { model: modelId, artifact, state: "ready" };
      log.info({ model: modelId, artifact }, "model ready");
      return "done";
    } catch (error) {
      if (controller.signal.aborted || stopped.aborted) return "done";
      entry.failures++;
      // Bad bytes once may be a mirror's hiccup; twice, the hub's file is not what it says: fetching
      // gigabytes again every few minutes would not change that. It waits for a retry by hand.
      const checksum = error instanceof DownloadError && error.code === "checksum";
      entry.checksumFailures = checksum ? (entry.checksumFailures ?? 0) + 1 : 0;
      // Another tool's damaged file stays as it is until someone removes it: trying again would only
      // hash it again.
      const givenUp = entry.checksumFailures >= 2 || error instanceof AdoptedFileMismatch;
      const retryInMs = givenUp ? Infinity : retryDelayMs(entry.failures);
      entry.retryAt = clock.now() + retryInMs;
      const message =
        error instanceof AdoptedFileMismatch
          ? `${error.message} It waits for that retry (llmlb model retry ${modelId}, or Retry on the Models page).`
          : givenUp
            ? `${errorMessage(error)} It failed verification ${entry.checksumFailures} times, so this node stops downloading it: once the hub's file is fixed, retry it (llmlb model retry ${modelId}, or Retry on the Models page).`
            : errorMessage(error);
      entry.state = {
        model: modelId,
        artifact: entry.state.artifact,
        state: "error",
        message,
        ...(givenUp && { waits_for_retry: true }),
      };
      log.warn({ model: modelId, err: message, retryInMs }, "model failed");
      return "done";
    }
  }

  /**
   * Hashes the files another tool put in the cache (once each: the ledger remembers), so a file of
   * the right size but other bytes (damaged, or another file under its name) is not served. Only what
   * this node downloaded itself it checked as it came.
   */
  /** Whether a file of these, in the cache, was put there by another tool and is not hashed yet. */
  async function someUnhashed(
    manifest: { repo: string; commit: string },
    files: { filename: string; sha256: string | null }[],
  ): Promise<boolean> {
    for (const { filename, sha256 } of files) {
      if (sha256 === null || ledger.owns(sha256)) continue;
      const { blob } = cachePaths(config.hubCacheDir, { ...manifest, filename, sha256 });
      if (!(await ledger.checked(blob, sha256))) return true;
    }
    return false;
  }

  /**
   * Hashes again each file of this node's whose size or modification time changed since it was
   * hashed; one whose bytes are no longer its sha256 is removed, to be downloaded again. Whether any was.
   */
  async function changedOwnFiles(files: readonly OwnFile[], signal: AbortSignal): Promise<boolean> {
    const changed: OwnFile[] = [];
    for (const file of files)
      if (await ledger.changedSinceChecked(file.blob, file.sha256)) {
        log.info(
          { file: file.filename, blob: file.blob },
          "a downloaded file changed on disk since it was checked; checking it again",
        );
        changed.push(file);
      }
    if (changed.length === 0) return false;
    const removed = await removeDamaged(
      changed,
      changed.map((file) => file.snapshot),
      log,
      signal,
    );
    // Those whose bytes are still theirs: as they are now, hashed.
    for (const file of changed)
      if (fs.existsSync(file.blob)) await ledger.rememberChecked(file.blob, file.sha256);
    return removed;
  }

  async function checkAdopted(adopted: AdoptedFile[], signal: AbortSignal): Promise<void> {
    for (const { file, blob, linkedHere } of adopted) {
      if (await ledger.checked(blob, file.sha256)) continue;
      log.info({ file: file.filename, blob }, "checking a file another tool put in the cache");
      const actual = await sha256OfFile(blob, signal);
      if (actual !== file.sha256) {
        // The link this look made to the wrong bytes would offer them to every tool on the cache.
        if (linkedHere) await fs.promises.rm(linkedHere, { force: true });
        throw new AdoptedFileMismatch(file, blob, actual);
      }
      await ledger.rememberChecked(blob, file.sha256);
    }
  }

  /**
   * Makes ready, beside the download lane, the pending models whose files are all in the cache: after a
   * restart, those serve at once instead of waiting behind another model's download of gigabytes.
   */
  async function readyCached(): Promise<void> {
    let leftForDownload = false;
    /**
     * Those whose files another tool put in the cache: hashed once the others are ready, and held
     * for it meanwhile (the download lane would hash them before the downloads behind them).
     */
    const toHash: Tracked[] = [];
    for (const entry of [...tracked.values()]) {
      const modelId = entry.model.name;
      if (entry.state.state !== "pending" || entry.needsDownload) continue;
      if (checking.has(modelId) || current?.modelId === modelId) continue;
      const controller = new AbortController();
      const done = prepare(entry, controller, { hashLater: true });
      checking.set(modelId, { controller, done });
      const outcome = await done;
      if (outcome === "hash later") {
        toHash.push(entry);
        continue;
      }
      checking.delete(modelId);
      if (outcome === "download") leftForDownload = true;
    }
    for (const entry of toHash) {
      const modelId = entry.model.name;
      // Dropped meanwhile (its hold was let go of then), or stopping.
      if (tracked.get(modelId) !== entry || entry.state.state !== "pending" || stopped.aborted) {
        checking.delete(modelId);
        continue;
      }
      const controller = new AbortController();
      const done = prepare(entry, controller, { hashLater: false });
      checking.set(modelId, { controller, done });
      try {
        if ((await done) === "download") leftForDownload = true;
      } finally {
        checking.delete(modelId);
      }
    }
    // The download lane passed over those being looked up: it has them now.
    if (leftForDownload && !stopped.aborted) void work();
  }

  /** One model at a time: downloads share the link better in sequence than all at once. */
  async function work(): Promise<void> {
    void readyCached();
    if (working) return;
    working = true;
    try {
      for (;;) {
        if (stopped.aborted) return;
        const next = [...tracked.values()].find(
          (entry) => entry.state.state === "pending" && !checking.has(entry.model.name),
        );
        if (!next) return;
        const controller = new AbortController();
        const done = prepare(next, controller).then(() => undefined);
        current = { modelId: next.model.name, controller, done };
        try {
          await done;
        } finally {
          current = undefined;
        }
      }
    } finally {
      working = false;
    }
  }

  return {
    async reconcile(models) {
      const registered = new Map(models.filter(servesHere).map((model) => [model.name, model]));
      for (const [id, entry] of tracked) {
        if (!registered.has(id))
          await drop(
            id,
            entry,
            models.some((model) => model.name === id)
              ? "model pinned to other nodes"
              : "model deleted from the registry",
          );
      }
      for (const model of registered.values()) {
        let entry = tracked.get(model.name);
        // Moved to a new commit (`llmlb model update`): prepared anew, its files there fetched where
        // they differ; its old ones go once the registry says no model uses them.
        if (entry && entry.model.commit !== model.commit) {
          // Its files the same there (a README changed): served on as they are, nothing fetched.
          if (sameFilesAt(entry, model))
            log.info({ model: model.name }, "model moved to a new commit; its files are the same");
          else {
            await drop(model.name, entry, "model moved to a new commit; preparing it there");
            entry = undefined;
          }
        }
        if (!entry) {
          track(model);
          continue;
        }
        if (entry.files && loadChanged(entry.model.settings, model.settings)) {
          // Loaded in the old setting: unloaded once idle (unless another model of the file shares that
          // load), and loaded in the new one at the next request.
          await options.onModelReleased?.(entry.model.name);
        } else if (entry.model.settings.idle_ttl_seconds !== model.settings.idle_ttl_seconds) {
          const seconds = model.settings.idle_ttl_seconds;
          options.onIdleTtlChanged?.(model.name, seconds === null ? undefined : seconds * 1000);
        }
        entry.model = model;
        if (entry.state.state === "ready" && !(await filesPresent(entry))) await filesGone(entry);
        if (entry.state.state === "error" && entry.retryAt <= clock.now()) pending(entry);
      }
    },
    prepareNext: () => void work(),
    states: () => [...tracked.values()].map(stateOf),
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
      entry.failures = 0;
      entry.checksumFailures = 0;
      entry.retryAt = 0;
      pending(entry);
      void work();
      return true;
    },
    async settled() {
      await Promise.all([current?.done, ...[...checking.values()].map((under) => under.done)]);
    },
    setHfToken(next) {
      hfToken = next;
      // A missing or wrong token is the usual reason a download failed: those are tried again at once.
      for (const entry of tracked.values()) {
        if (entry.state.state !== "error" || entry.state.crashed) continue;
        entry.failures = 0;
        entry.checksumFailures = 0;
        pending(entry);
      }
      void work();
    },
  };
}

/**
 * Removes the files of a choice whose bytes no longer hash to their sha256 (the blob and the snapshot
 * entry naming it), so they are downloaded again; whether there was one.
 */
async function removeDamaged(
  files: readonly { filename: string; sha256: string | null }[],
  paths: readonly string[],
  log: Logger,
  signal?: AbortSignal,
): Promise<boolean> {
  let removed = false;
  for (const [index, file] of files.entries()) {
    const snapshot = paths[index];
    if (!snapshot || !file.sha256 || (await sha256OfFile(snapshot, signal)) === file.sha256) continue;
    const blob = await fs.promises.realpath(snapshot);
    log.warn(
      { file: file.filename, blob },
      "a cached file no longer matches its sha256; downloading it again",
    );
    await fs.promises.rm(blob, { force: true });
    await fs.promises.rm(snapshot, { force: true });
    removed = true;
  }
  return removed;
}

/** A file this node downloaded before, found in the cache: its blob, and the snapshot link to it. */
interface OwnFile {
  filename: string;
  sha256: string;
  blob: string;
  snapshot: string;
}

/** A file another tool put in the cache, found there by this node. */
interface AdoptedFile {
  file: { filename: string; sha256: string };
  blob: string;
  /** Its snapshot link, where this look made it (gone again should the file be wrong). */
  linkedHere?: string;
}

/** A file another tool put in the cache whose bytes are not what its name (its sha256) says. */
class AdoptedFileMismatch extends Error {
  constructor(file: { filename: string; sha256: string }, blob: string, actual: string) {
    super(
      `${file.filename} in the model cache (${blob}) is not the file the hub lists: its sha256 is ${actual}, not ${file.sha256}. Another tool put it there, damaged or under another file's name; llmlb leaves it alone. Delete it, then retry the model, and llmlb downloads it.`,
    );
  }
}

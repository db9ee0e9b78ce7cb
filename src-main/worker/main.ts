/**
 * The node process (one per GPU), started by the control plane's supervisor. It registers with the
 * control plane, syncs the registry, downloads each model's file into the Hugging Face cache,
 * reports by heartbeat, and serves inference for the models it has ready.
 */
import path from "node:path";
import { createLogger, type Logger } from "../shared/logger";
import {
  probeBackendsFrom,
  probeDevicesFlag,
  workerMessageSchema,
  type WorkerMessage,
  type WorkerReport,
} from "../contract/workerMessages";
import { inUseFileOf } from "../shared/stateFiles";
import { createControlPlaneClient } from "./controlPlaneClient";
import { keptNodeToken } from "./keptNodeToken";
import { openDownloadLedger } from "./downloadLedger";
import { createMemoryProbe } from "./memory";
import { createNodeAgent, type NodeAgent } from "./nodeAgent";
import { createInferenceEngine } from "./inference/engine";
import { modelTargetOf } from "./inference/modelTarget";
import { registerInferenceRoutes } from "./server/inferenceRoutes";
import { createInUseFile } from "./inUseFile";
import { createNodeServer } from "./server/nodeServer";
import { probeDevices } from "./probeDevices";
import { workerConfigFromEnv } from "./workerConfig";

// When llama.cpp aborts, it first forks this process to attach a debugger for a backtrace; with no
// debugger installed the forked copy of a multi-threaded Node can hang, and this process with it,
// waiting on it. A worker that aborts must die, so its supervisor sees it and counts the crash.
process.env.GGML_NO_BACKTRACE ??= "1";

/**
 * Started by a supervisor, a worker must not outlive it: it exits when the channel to its parent
 * closes, and, should that notice be missed (the parent died while this process was starting), when
 * it finds itself adopted by another parent.
 */
function onParentGone(stop: (reason: string) => void): void {
  if (!supervised()) return;
  const parent = process.ppid;
  if ((process.send && !process.connected) || parent === 1) return stop("control plane gone");
  if (process.send) process.once("disconnect", () => stop("control plane gone"));
  // Under Electron, the only sign: a dead parent's children are adopted by another process.
  setInterval(() => process.ppid !== parent && stop("control plane gone"), 1000).unref();
}

/**
 * Where a supervised node logs: standard error, a pipe its supervisor reads. As a stream, not the
 * logger's own synchronous writer, which retries a write that failed forever (every 100 ms, the
 * thread asleep between): a supervisor gone, its pipe broken, would hold the node there for good,
 * before it could notice. The stream says EPIPE instead, and a node whose supervisor is gone ends.
 */
function supervisedLogDestination(): NodeJS.WritableStream | undefined {
  if (!supervised()) return undefined;
  process.stderr.on("error", () => process.exit(0));
  return process.stderr;
}

interface ParentPort {
  on(event: "message", listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

/** Started by a supervisor: a child process's IPC under Node, a utility process's parent port under Electron. */
function supervised(): boolean {
  return Boolean(process.send) || parentPortOf(process) !== undefined;
}

/** Electron's `process.parentPort` in a utility process; undefined under plain Node. */
function parentPortOf(current: NodeJS.Process): ParentPort | undefined {
  return (current as NodeJS.Process & { parentPort?: ParentPort }).parentPort;
}

/** Messages from the supervisor: a child process's IPC under Node, the parent port under Electron. */
function onSupervisorMessage(handle: (message: WorkerMessage) => void, log: Logger): void {
  const receive = (data: unknown) => {
    const parsed = workerMessageSchema.safeParse(data);
    if (parsed.success) handle(parsed.data);
    else log.warn({ data }, "unknown message from the supervisor; ignored");
  };
  const parentPort = parentPortOf(process);
  if (parentPort) parentPort.on("message", (event) => receive(event.data));
  else if (process.send) process.on("message", receive);
}

/** Tells the supervisor something; false when there is no parent channel (started by hand). */
function tellParent(report: WorkerReport): boolean {
  const parentPort = parentPortOf(process);
  if (parentPort) parentPort.postMessage(report);
  else if (process.send && process.connected) process.send(report);
  else return false;
  return true;
}

/**
 * The device probe: answers over the parent channel, then waits for the supervisor to end it (a
 * process that exits right after posting may exit before the message is read). Started by hand, it
 * prints the answer instead.
 */
async function runProbe(): Promise<void> {
  // Ctrl-C in a terminal reaches the probe too: its supervisor ends it (a probe killed early would
  // read as "no GPU" and start a CPU worker while the app quits).
  if (supervised()) process.on("SIGINT", () => undefined);
  const { devices, leftOut } = await probeDevices({
    backends: probeBackendsFrom(process.env),
    beforeSelfTest: (backend, next, ifItDies) =>
      void tellParent({ type: "self-test", backend, next, if_it_dies: ifItDies }),
  });
  const report: WorkerReport = { type: "devices", devices, left_out: leftOut };
  if (!tellParent(report)) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  }
  process.once("disconnect", () => process.exit(0));
  // Should the supervisor never end it, it ends itself.
  setTimeout(() => process.exit(0), 30_000);
}

async function runNode(): Promise<void> {
  const config = workerConfigFromEnv(process.env);
  // Watched from the first moment: a parent gone while this node starts ends it at once, as nothing
  // is held yet; once it runs, `stop` lets go of what it holds.
  const running: { stop?: (reason: string) => void } = {};
  onParentGone((reason) => (running.stop ? running.stop(reason) : process.exit(0)));
  const log = createLogger({ level: config.logLevel, destination: supervisedLogDestination() }).child({
    node: config.name,
  });
  // The agent, once there is one: the server comes first (the agent registers its URL).
  const started: { agent?: NodeAgent } = {};
  // From the first moment too: a stop asked while this node starts ends it at once.
  onSupervisorMessage((message) => {
    if (message.type === "stop")
      return running.stop ? running.stop("stopped by the control plane") : process.exit(0);
    if (message.type === "quitting") return started.agent?.controlPlaneQuitting();
    log.info({ set: message.token !== null }, "Hugging Face token changed");
    started.agent?.setHfToken(message.token ?? undefined);
  }, log);
  const memory = await createMemoryProbe(config.backend);
  const ledger = await openDownloadLedger(
    path.join(config.stateDir, config.name, "downloads.json"),
    config.hubCacheDir,
    log,
    // Shared by this llmlb's workers: a file one of them downloaded and checked, the others trust.
    path.join(config.stateDir, "checked"),
  );
  let inUseUnwritten = false;
  const inUse = createInUseFile(inUseFileOf(config.stateDir, config.name), (error) => {
    // Once: every request would say it again while the disk stays full.
    if (!inUseUnwritten)
      log.warn({ err: error.message }, "could not note which models run (a full disk?); requests go on");
    inUseUnwritten = true;
  });
  const engine = createInferenceEngine({
    log,
    backend: config.backend,
    threads: config.threads,
    maxLoadedModels: config.maxLoadedModels,
    onUnloaded: () => void started.agent?.reportNow(),
    onLoadChange: () => void started.agent?.reportNow(),
  });
  const advertised = config.advertiseHost ?? config.host;
  const server = await createNodeServer({
    log,
    allowedHosts: [advertised],
    nodeToken: () => started.agent?.nodeToken(),
    onSync: () => started.agent?.syncNow(),
    onRetry: async (model) => (await started.agent?.retry(model)) ?? false,
    registerRoutes: (app) =>
      registerInferenceRoutes(app, {
        engine,
        onModelInUse: (modelId) => inUse.enter(modelId),
        onMemoryChanged: async () => started.agent?.reportNow(),
        resolveModel: async (modelId) => {
          const ready = await started.agent?.readyModel(modelId);
          return ready && modelTargetOf(ready.path, ready.settings);
        },
      }),
  });
  await server.listen({ host: config.host, port: config.port });
  const address = server.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const agent = createNodeAgent({
    config,
    log,
    client: createControlPlaneClient(
      config.controlUrl,
      config.nodeToken,
      keptNodeToken(path.join(config.stateDir, config.name, "node-token"), (error) =>
        log.warn(
          { err: error },
          "cannot keep this worker's token: started again after the control plane's node token is replaced, it needs the new one",
        ),
      ),
    ),
    memory,
    ledger,
    nodeUrl: `http://${advertised.includes(":") ? `[${advertised}]` : advertised}:${port}`,
    // One entry per model: models registered twice for one file share one load.
    loaded: () =>
      engine.loaded().flatMap((entry) => {
        // The others name the first of them (by name: the same from one report to the next).
        const first = [...entry.models].sort()[0];
        return entry.models.map((model) => ({
          model,
          ...(model !== first && first !== undefined ? { shares_load_with: first } : {}),
          sequences: entry.sequences,
          busy: Math.min(entry.activeRequests, entry.sequences),
          ...(entry.contextSize !== undefined ? { context_size: entry.contextSize } : {}),
          ...(entry.state === "loading"
            ? { loading_since: new Date(entry.loadStartedAt).toISOString() }
            : {}),
          ...(entry.unloadPending ? { unloading: true as const } : {}),
          ...(entry.state === "ready" && entry.activeRequests === 0 && !entry.unloadPending
            ? { idle_until: new Date(entry.lastUsedAt + entry.idleTtlMs).toISOString() }
            : {}),
          ...(entry.decode && entry.decode.batches > 0
            ? { decode_batches: entry.decode.batches, batched_sequences: entry.decode.sequences }
            : {}),
        }));
      }),
    llamaCpp: () => engine.llamaCpp(),
    maxLoadedModels: engine.maxLoadedModels,
    onModelDropped: (modelPath) => engine.unload(modelPath),
    onModelReleased: (id) => engine.release(id),
    onIdleTtlChanged: (id, idleTtlMs) => engine.keepIdleFor(id, idleTtlMs),
    onCrashCleared: (model) => void tellParent({ type: "crash-cleared", model }),
    onRegistration: (refused) =>
      void tellParent({ type: "registration", ...(refused !== undefined ? { refused } : {}) }),
  });
  started.agent = agent;

  const { drainMs } = config;
  let closed: Promise<void> | undefined;
  const closeServer = () => (closed ??= server.close());
  /** Says it is stopping, then lets what runs finish, up to `drainMs`; the server is closing after. */
  async function drain(): Promise<void> {
    const within = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
    // A control plane that does not answer does not hold the stop up.
    await Promise.race([agent.drain().catch(() => undefined), within(2_000)]);
    await Promise.race([closeServer(), within(drainMs)]);
  }
  let stopping: Promise<void> | undefined;
  const stop = (reason: string) => {
    stopping ??= (async () => {
      log.info({ reason }, "node stopping");
      // Whatever hangs below, the node does not outlive its control plane by more than this.
      setTimeout(() => process.exit(1), drainMs + 12_000).unref();
      // The control plane sends nothing new; what runs here finishes, for a while (a request that
      // came just before is answered 503 and goes to another node). Under `llmlb serve`, which drains
      // first, nothing runs by now.
      if (drainMs > 0) await drain();
      const closing = closeServer();
      await agent.dispose();
      // Ends what still streams or waits, so the server closes.
      await engine.dispose();
      await closing;
      await memory.dispose();
      inUse.remove();
      process.exit(0);
    })();
  };
  // Ctrl-C in a terminal, and a service manager's SIGTERM (systemd stops a service's whole process
  // group), reach the workers too. A supervised node leaves its stopping to the control plane, which
  // first lets running requests finish, then tells it (a "stop" message); started by hand, it stops.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    if (supervised())
      process.on(signal, () => log.info(`${signal}: the control plane stops this node when it quits`));
    else process.once(signal, () => stop(signal));
  }
  running.stop = stop;
  await agent.start();
}

if (process.argv.includes(probeDevicesFlag)) await runProbe();
else await runNode();

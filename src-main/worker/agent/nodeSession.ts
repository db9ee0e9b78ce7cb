import { nodeProtocolVersion, protocolMismatch, protocolOf, type HeartbeatRequest } from "../../contract";
import { backoffMs } from "../../shared/backoff";
import type { Logger } from "../../shared/logger";
import { packageVersion } from "../../shared/packageVersion";
import { ControlPlaneError, type ControlPlaneClient } from "../controlPlaneClient";
import type { MemoryProbe } from "../memory";
import type { WorkerConfig } from "../workerConfig";
import { errorMessage } from "./errorMessage";

export interface NodeSessionOptions {
  config: WorkerConfig;
  client: ControlPlaneClient;
  memory: MemoryProbe;
  /** Where the control plane reaches this node. */
  nodeUrl: string;
  log: Logger;
  /** Waits `ms`, or less once the agent stops. */
  wait(ms: number): Promise<void>;
  stopped: AbortSignal;
  /**
   * Registered (`refused` undefined), or refused for a reason that lasts: once for each change, so
   * whoever started the node can say so. Default: nothing.
   */
  onRegistration?: (refused: string | undefined) => void;
}

/** This node's standing with the control plane: registered, and heartbeating. */
export interface NodeSession {
  /** Registers, trying again (backing off) until the control plane answers or the agent stops. */
  register(): Promise<void>;
  /**
   * Reports the node's models and memory; the registry version the control plane has, or undefined
   * when the beat failed. A control plane that no longer knows this node is registered with again.
   */
  heartbeat(report: Omit<HeartbeatRequest, "memory">): Promise<number | undefined>;
  /** The control plane said it quits: heartbeats it leaves unanswered from now on are expected. */
  controlPlaneQuitting(): void;
  nodeId(): string | undefined;
  /** The token the control plane calls this node with. */
  token(): string | undefined;
  heartbeatMs(): number;
  syncMs(): number;
}

/** A refusal of its name or token lasting this long is no restart's overlap (offline after 6 s). */
const refusalLastsMs = 15_000;

export function createNodeSession(options: NodeSessionOptions): NodeSession {
  const { config, client, memory, log } = options;
  let nodeId: string | undefined;
  let token: string | undefined;
  let heartbeatMs = 2000;
  let syncMs = 5000;
  /** Heartbeats failing since (the control plane down or unreachable): said once, not every beat. */
  let failingSince: number | undefined;
  let quitting = false;

  async function register(): Promise<void> {
    let refusedBefore = false;
    /** Since when the control plane refuses it its name or its token (a refusal that may pass). */
    let refusedSince: number | undefined;
    let told = false;
    const tell = (why: string) => {
      if (told) return;
      told = true;
      options.onRegistration?.(why);
    };
    for (let attempt = 1; !options.stopped.aborted; attempt++) {
      try {
        const answer = await client.register({
          name: config.name,
          url: options.nodeUrl,
          backend: config.backend,
          devices: await memory.devices(),
          memory: await memory.memory(),
          backends_left_out: config.backendsLeftOut,
          llmlb_version: packageVersion(),
          protocol: nodeProtocolVersion,
        });
        // A control plane of another protocol (one older than the check takes any node) is not served.
        const theirs = protocolOf(answer.protocol);
        if (theirs !== nodeProtocolVersion) {
          throw new ControlPlaneError(
            409,
            protocolMismatch(
              { who: "The control plane", version: answer.llmlb_version, protocol: theirs },
              { who: "this node", version: packageVersion(), protocol: nodeProtocolVersion },
            ),
            "node.protocol_mismatch",
          );
        }
        nodeId = answer.node_id;
        token = answer.node_token;
        heartbeatMs = answer.heartbeat_interval_ms;
        syncMs = answer.sync_interval_ms;
        log.info({ node_id: nodeId }, "registered with the control plane");
        options.onRegistration?.(undefined);
        return;
      } catch (error) {
        if (error instanceof ControlPlaneError && error.code === "node.protocol_mismatch") {
          // The two llmlbs cannot work together until one is updated: said at once, and once.
          if (!refusedBefore) {
            refusedBefore = true;
            log.error(
              { err: errorMessage(error) },
              "this node and its control plane run llmlbs that cannot work together",
            );
          }
          tell(errorMessage(error));
        } else if (error instanceof ControlPlaneError && error.status === 400) {
          // Not a passing trouble: it will refuse the same again until one of the two is updated.
          if (!refusedBefore) {
            refusedBefore = true;
            log.error(
              { err: errorMessage(error) },
              "the control plane refuses this node's registration as malformed: it is likely an older llmlb than this node's. Run the same llmlb on both machines",
            );
          }
          tell(
            `${errorMessage(error)} (it is likely an older llmlb than this node's: run the same llmlb on both machines)`,
          );
        } else {
          // Every few seconds while the control plane is down: the first says it, the rest are debug.
          if (attempt === 1)
            log.warn({ err: errorMessage(error) }, "cannot register with the control plane yet; trying on");
          else log.debug({ err: errorMessage(error), attempt }, "cannot register with the control plane yet");
          // Its name taken by a node online, or a node token no longer taken. A node stopped or
          // killed just before (a restart) is still online for a few seconds: lasting past that, it
          // is no passing trouble.
          if (error instanceof ControlPlaneError && (error.status === 409 || error.status === 401)) {
            refusedSince ??= Date.now();
            if (Date.now() - refusedSince >= refusalLastsMs) tell(errorMessage(error));
          } else refusedSince = undefined;
        }
        await options.wait(backoffMs(attempt, 500, 10_000));
      }
    }
  }

  return {
    register,
    async heartbeat(report) {
      if (!nodeId) return undefined;
      try {
        const answer = await client.heartbeat(nodeId, { memory: await memory.memory(), ...report });
        if (failingSince !== undefined) {
          log.info(
            { seconds: Math.round((Date.now() - failingSince) / 1000) },
            "heartbeats reach the control plane again",
          );
          failingSince = undefined;
        }
        return answer.registry_version;
      } catch (error) {
        if (error instanceof ControlPlaneError && (error.status === 404 || error.status === 401)) {
          log.warn("the control plane does not know this node any more; registering again");
          await register();
          return undefined;
        }
        // Every beat while the control plane is down would be a line: the first says it, the rest are debug.
        if (failingSince === undefined && !quitting) {
          failingSince = Date.now();
          log.warn(
            { err: errorMessage(error) },
            "heartbeat failed; trying on, quietly, until one gets through",
          );
        } else log.debug({ err: errorMessage(error) }, "heartbeat failed");
        return undefined;
      }
    },
    controlPlaneQuitting: () => void (quitting = true),
    nodeId: () => nodeId,
    token: () => token,
    heartbeatMs: () => heartbeatMs,
    syncMs: () => syncMs,
  };
}

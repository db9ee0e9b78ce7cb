import { Agent } from "undici";
import type { NodeHealthState } from "../../contract";
import { backoffMs } from "../../shared/backoff";
import type { Clock } from "../../shared/clock";
import type { Logger } from "../../shared/logger";
import { createHealthProbe, type HealthProbeOptions } from "./healthProbe";
import type { NodeRoute } from "./nodeService";

export interface NodeHealthOptions {
  clock: Clock;
  log: Logger;
  /**
   * A node began or stopped failing: listings read differently. (Going offline and coming back are
   * told by those who notice them, with the models that changed.) Default: nothing.
   */
  onChange?: (nodeId: string) => void;
  /** How failing nodes are checked. Default: from 500 ms apart, doubling up to 10 s. */
  probe?: Pick<HealthProbeOptions, "intervalMs" | "maxIntervalMs" | "timeoutMs">;
}

/**
 * One health per node, workers and endpoints alike, fed by everything that learns of it: the node
 * service (heartbeats, a worker's process ending), the endpoint service (health checks) and the
 * balancer (requests that failed, or were answered). The balancer asks it whom to pass over;
 * listings show it.
 */
export interface NodeHealth {
  /**
   * A request failed there before any answer: it is passed over until it answers again (checked at
   * `/v0/health`, an endpoint at `/v1/models`) or, should nothing say so, for a while, longer each
   * time in a row. Nothing, for a node offline or removed (its requests were called off).
   */
  failed(route: NodeRoute, reason: string): void;
  /** It answered (a request's first bytes, a health check): no longer failing. */
  answered(nodeId: string): void;
  /** Whether to pass it over now. A node back at another URL (it restarted) is a new start. */
  isFailing(route: { id: string; url: string }, now: number): boolean;
  /** Not heard from any more (heartbeats missed, its process ended, its check failed), and why. */
  wentOffline(nodeId: string, reason: string): void;
  /** Heard from again (registered, a heartbeat after silence, a check that passed). */
  cameOnline(nodeId: string): void;
  /**
   * The node's health as listings show it. `status` is the registry's word on it; `offlineReason`
   * says why it is offline where this run did not see it go (an endpoint's last error).
   */
  of(node: { id: string; status: "online" | "offline" }, offlineReason?: string | null): NodeHealthState;
  /** The node is gone for good (an endpoint removed). */
  forget(nodeId: string): void;
  dispose(): Promise<void>;
}

interface Failing {
  /** The node's name, for the log. */
  name: string;
  url: string;
  until: number;
  strikes: number;
  reason: string;
  since: string;
}

/** Failures this close together count as one run: each passes the node over longer, and checks it later. */
const STRIKES_FORGOTTEN_AFTER_MS = 60_000;

export function createNodeHealth(options: NodeHealthOptions): NodeHealth {
  const { clock, log } = options;
  const failing = new Map<string, Failing>();
  /**
   * Failures in a row of nodes that answered since: a node whose check passes while its requests
   * fail is checked later each time, instead of flapping between failing and ok every 500 ms.
   */
  const lastStrikes = new Map<string, { url: string; strikes: number; at: number }>();
  /** When each node last changed state this run (offline, online, recovered), and why it went offline. */
  const turns = new Map<string, { since: string; reason?: string }>();
  /** Nodes removed for good: a request still in flight there when it went fails, and is no news. */
  const removed = new Set<string>();
  const iso = () => new Date(clock.now()).toISOString();
  // Checks are few and small: a pool of their own, apart from the requests'.
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 4 });
  const probe = createHealthProbe({
    agent,
    onHealthy: (nodeId) => {
      const name = failing.get(nodeId)?.name;
      if (!recovered(nodeId)) return;
      log.info({ node: name, node_id: nodeId }, "node healthy again");
      options.onChange?.(nodeId);
    },
    ...options.probe,
  });

  function stopFailing(nodeId: string): boolean {
    if (!failing.delete(nodeId)) return false;
    probe.forget(nodeId);
    return true;
  }

  /** It answered: ok from now, its run of failures kept for a while in case it fails again. */
  function recovered(nodeId: string): boolean {
    const mark = failing.get(nodeId);
    if (!mark) return false;
    stopFailing(nodeId);
    lastStrikes.set(nodeId, { url: mark.url, strikes: mark.strikes, at: clock.now() });
    turns.set(nodeId, { since: iso() });
    return true;
  }

  return {
    failed(route, reason) {
      if (removed.has(route.id) || turns.get(route.id)?.reason !== undefined) return;
      const now = clock.now();
      const before = failing.get(route.id);
      const still = before?.url === route.url ? before : undefined;
      const last = lastStrikes.get(route.id);
      const earlier =
        still?.strikes ??
        (last && last.url === route.url && now - last.at < STRIKES_FORGOTTEN_AFTER_MS ? last.strikes : 0);
      const strikes = earlier + 1;
      failing.set(route.id, {
        name: route.name,
        url: route.url,
        until: now + backoffMs(strikes, 5000, 60_000),
        strikes,
        reason,
        since: still?.since ?? iso(),
      });
      if (still) return;
      probe.watch(route, strikes);
      options.onChange?.(route.id);
    },
    answered(nodeId) {
      // Runs for every answered request: a size check when nothing failed.
      if (failing.size > 0 && recovered(nodeId)) options.onChange?.(nodeId);
    },
    isFailing(route, now) {
      const mark = failing.get(route.id);
      return mark !== undefined && mark.url === route.url && mark.until > now;
    },
    wentOffline(nodeId, reason) {
      stopFailing(nodeId);
      lastStrikes.delete(nodeId);
      turns.set(nodeId, { since: iso(), reason });
    },
    cameOnline(nodeId) {
      stopFailing(nodeId);
      lastStrikes.delete(nodeId);
      turns.set(nodeId, { since: iso() });
    },
    of(node, offlineReason) {
      const turn = turns.get(node.id);
      if (node.status === "offline") {
        return {
          state: "offline",
          reason: offlineReason ?? turn?.reason ?? "Not heard from since this llmlb started.",
          since: turn?.reason !== undefined ? turn.since : null,
        };
      }
      const mark = failing.get(node.id);
      if (mark) return { state: "failing", reason: mark.reason, since: mark.since };
      return { state: "ok", reason: null, since: turn?.reason === undefined ? (turn?.since ?? null) : null };
    },
    forget(nodeId) {
      stopFailing(nodeId);
      lastStrikes.delete(nodeId);
      turns.delete(nodeId);
      removed.add(nodeId);
    },
    async dispose() {
      probe.dispose();
      failing.clear();
      await agent.close();
    },
  };
}

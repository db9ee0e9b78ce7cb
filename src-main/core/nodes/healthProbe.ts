import type { Dispatcher } from "undici";
import { nodeProtocol } from "../../contract";
import { backoffMs } from "../../shared/backoff";
import type { NodeRoute } from "./nodeService";

export interface HealthProbeOptions {
  /** The keep-alive pool the balancer calls nodes with. */
  agent: Dispatcher;
  /** The node answered its health check: it may take requests again. */
  onHealthy: (nodeId: string) => void;
  /** First wait between checks of a down node; doubles up to `maxIntervalMs`. Default: 500 ms. */
  intervalMs?: number;
  /** Default: 10000 ms. */
  maxIntervalMs?: number;
  /** How long one check may take. Default: 2000 ms. */
  timeoutMs?: number;
}

export interface HealthProbe {
  /**
   * Checks the node until it answers healthy (again and again, longer apart); one loop per node.
   * `firstCheck`: which check of a row the first one counts as, so a node that keeps failing is
   * checked later each time. Default: 1, the first.
   */
  watch(route: NodeRoute, firstCheck?: number): void;
  /** Stops checking it (it came back by itself, or went away). */
  forget(nodeId: string): void;
  dispose(): void;
}

/**
 * Brings a failed node back as soon as it is healthy again, instead of after a fixed penalty: workers
 * answer `GET /v0/health`, other OpenAI-compatible servers `GET /v1/models`.
 */
export function createHealthProbe(options: HealthProbeOptions): HealthProbe {
  const first = options.intervalMs ?? 500;
  const longest = options.maxIntervalMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const watched = new Map<string, { route: NodeRoute; timer: NodeJS.Timeout }>();
  let disposed = false;

  async function healthy(route: NodeRoute): Promise<boolean> {
    const base = new URL(route.url);
    const prefix = base.pathname.replace(/\/+$/, "");
    try {
      const answer = await options.agent.request({
        origin: base.origin,
        path: `${prefix}${route.kind === "endpoint" ? "/v1/models" : nodeProtocol.health.path}`,
        method: "GET",
        headers: route.token ? { authorization: `Bearer ${route.token}` } : {},
        signal: AbortSignal.timeout(timeoutMs),
      });
      await answer.body.dump();
      return answer.statusCode >= 200 && answer.statusCode < 300;
    } catch {
      return false;
    }
  }

  /** The `checks`-th check of a node since it went down. */
  function schedule(nodeId: string, route: NodeRoute, checks: number): void {
    const timer = setTimeout(
      () => {
        void healthy(route).then((ok) => {
          const current = watched.get(nodeId);
          if (disposed || current?.timer !== timer) return;
          if (ok) {
            watched.delete(nodeId);
            options.onHealthy(nodeId);
          } else {
            schedule(nodeId, current.route, checks + 1);
          }
        });
      },
      backoffMs(checks, first, longest),
    );
    timer.unref();
    watched.set(nodeId, { route, timer });
  }

  return {
    watch(route, firstCheck = 1) {
      const current = watched.get(route.id);
      if (current && current.route.url === route.url) return;
      if (current) clearTimeout(current.timer);
      schedule(route.id, route, firstCheck);
    },
    forget(nodeId) {
      const current = watched.get(nodeId);
      if (current) clearTimeout(current.timer);
      watched.delete(nodeId);
    },
    dispose() {
      disposed = true;
      for (const { timer } of watched.values()) clearTimeout(timer);
      watched.clear();
    },
  };
}

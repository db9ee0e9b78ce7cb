import { backoffMs } from "../../shared/backoff";
/** What the balancer learns about nodes as it uses them: load, speed, and failures. */
export interface NodeLoad {
  outstanding(nodeId: string): number;
  begin(nodeId: string): void;
  end(nodeId: string): void;
  /** Generation speed seen for a model on a node (an average that follows recent requests). */
  tokensPerSecond(nodeId: string, model: string): number | undefined;
  recordSpeed(nodeId: string, model: string, tokensPerSecond: number): void;
  speeds(): { nodeId: string; model: string; tokensPerSecond: number }[];
  /**
   * A node that failed a request is skipped until it is healthy again (or, should nobody say so, for
   * a while, longer each time in a row). A node back at another URL (it restarted) is not down.
   */
  markDown(route: { id: string; url: string }, now: number): void;
  markUp(nodeId: string): void;
  isDown(route: { id: string; url: string }, now: number): boolean;
}

export function createNodeLoad(): NodeLoad {
  const outstanding = new Map<string, number>();
  const speeds = new Map<string, number>();
  const down = new Map<string, { until: number; strikes: number; url: string }>();
  return {
    outstanding: (nodeId) => outstanding.get(nodeId) ?? 0,
    begin: (nodeId) => void outstanding.set(nodeId, (outstanding.get(nodeId) ?? 0) + 1),
    end: (nodeId) => void outstanding.set(nodeId, Math.max(0, (outstanding.get(nodeId) ?? 0) - 1)),
    tokensPerSecond: (nodeId, model) => speeds.get(`${nodeId}\n${model}`),
    recordSpeed(nodeId, model, tokensPerSecond) {
      const key = `${nodeId}\n${model}`;
      const previous = speeds.get(key);
      speeds.set(key, previous === undefined ? tokensPerSecond : previous * 0.7 + tokensPerSecond * 0.3);
    },
    speeds: () =>
      [...speeds].map(([key, tokensPerSecond]) => {
        const [nodeId, model] = key.split("\n") as [string, string];
        return { nodeId, model, tokensPerSecond };
      }),
    markDown(route, now) {
      const strikes = (down.get(route.id)?.strikes ?? 0) + 1;
      down.set(route.id, {
        until: now + backoffMs(strikes, 5000, 60_000),
        strikes,
        url: route.url,
      });
    },
    markUp: (nodeId) => void down.delete(nodeId),
    isDown(route, now) {
      const mark = down.get(route.id);
      return mark !== undefined && mark.url === route.url && mark.until > now;
    },
  };
}

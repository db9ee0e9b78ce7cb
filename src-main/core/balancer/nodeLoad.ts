/** What the balancer learns about nodes as it uses them: load and speed. (Failures: `NodeHealth`.) */
export interface NodeLoad {
  outstanding(nodeId: string): number;
  begin(nodeId: string): void;
  end(nodeId: string): void;
  /**
   * Generation speed seen for a model on a node (an average that follows recent requests), while it is
   * recent: a node a first slow sample (its cold start) kept idle since is measured again.
   */
  tokensPerSecond(nodeId: string, model: string, now: number): number | undefined;
  recordSpeed(nodeId: string, model: string, tokensPerSecond: number, at: number): void;
  /**
   * The speeds still recent (what /metrics shows): a cold start's, or a removed model's, goes once
   * no request has measured it again for `speedFreshMs`.
   */
  speeds(now: number): { nodeId: string; model: string; tokensPerSecond: number }[];
}

/** How long a speed counts for routing after the request that measured it. */
export const speedFreshMs = 30_000;

export function createNodeLoad(): NodeLoad {
  const outstanding = new Map<string, number>();
  const speeds = new Map<string, { tokensPerSecond: number; at: number }>();
  return {
    outstanding: (nodeId) => outstanding.get(nodeId) ?? 0,
    begin: (nodeId) => void outstanding.set(nodeId, (outstanding.get(nodeId) ?? 0) + 1),
    end: (nodeId) => void outstanding.set(nodeId, Math.max(0, (outstanding.get(nodeId) ?? 0) - 1)),
    tokensPerSecond(nodeId, model, now) {
      const speed = speeds.get(`${nodeId}\n${model}`);
      return speed && now - speed.at <= speedFreshMs ? speed.tokensPerSecond : undefined;
    },
    recordSpeed(nodeId, model, tokensPerSecond, at) {
      const key = `${nodeId}\n${model}`;
      // An average of recent requests; a speed no longer recent is measured afresh, not averaged in.
      const previous = speeds.get(key);
      const recent = previous && at - previous.at <= speedFreshMs ? previous.tokensPerSecond : undefined;
      speeds.set(key, {
        tokensPerSecond: recent === undefined ? tokensPerSecond : recent * 0.7 + tokensPerSecond * 0.3,
        at,
      });
    },
    speeds: (now) =>
      [...speeds].flatMap(([key, { tokensPerSecond, at }]) => {
        if (now - at > speedFreshMs) return [];
        const [nodeId, model] = key.split("\n") as [string, string];
        return [{ nodeId, model, tokensPerSecond }];
      }),
  };
}

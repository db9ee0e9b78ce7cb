/** What the balancer learns about nodes as it uses them: load and speed. (Failures: `NodeHealth`.) */
export interface NodeLoad {
  outstanding(nodeId: string): number;
  begin(nodeId: string): void;
  end(nodeId: string): void;
  /** Generation speed seen for a model on a node (an average that follows recent requests). */
  tokensPerSecond(nodeId: string, model: string): number | undefined;
  recordSpeed(nodeId: string, model: string, tokensPerSecond: number): void;
  speeds(): { nodeId: string; model: string; tokensPerSecond: number }[];
}

export function createNodeLoad(): NodeLoad {
  const outstanding = new Map<string, number>();
  const speeds = new Map<string, number>();
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
  };
}

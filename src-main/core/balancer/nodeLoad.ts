/** What the balancer learns about nodes as it uses them: load and speed. (Failures: `NodeHealth`.) */
export interface NodeLoad {
  /** Requests sent to the node and not finished yet: all, or those for `model`. */
  outstanding(nodeId: string, model?: string): number;
  begin(nodeId: string, model: string, at: number): void;
  end(nodeId: string, model: string): void;
  /**
   * The models sent to the node at or after `since` (within the last `sentKeptMs`, or with requests
   * there still), the latest first:
   * what it loaded since its last report said what it holds.
   */
  sentSince(nodeId: string, since: number): string[];
  /** Forgets the send at `at` (its node failed it before any answer), unless one came after it. */
  unsend(nodeId: string, model: string, at: number): void;
  /** When `model` was last sent to the node, within the last `sentKeptMs`. */
  lastSent(nodeId: string, model: string): number | undefined;
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
/** How long the balancer remembers when it sent each model to each node. */
export const sentKeptMs = 60_000;

export function createNodeLoad(): NodeLoad {
  /** Requests outstanding by node, and by node and model ("<node>\n<model>"). */
  const outstanding = new Map<string, number>();
  /** By node: when each model was last sent to it, in the order sent (the latest last). */
  const sent = new Map<string, Map<string, number>>();
  const speeds = new Map<string, { tokensPerSecond: number; at: number }>();
  const count = (key: string, step: number) => {
    const value = Math.max(0, (outstanding.get(key) ?? 0) + step);
    if (value === 0) outstanding.delete(key);
    else outstanding.set(key, value);
  };
  return {
    outstanding: (nodeId, model) =>
      outstanding.get(model === undefined ? nodeId : `${nodeId}\n${model}`) ?? 0,
    begin(nodeId, model, at) {
      count(nodeId, 1);
      count(`${nodeId}\n${model}`, 1);
      let times = sent.get(nodeId);
      if (!times) sent.set(nodeId, (times = new Map()));
      times.delete(model);
      times.set(model, at);
      // What is no longer recent goes: clients may name many models over time.
      // A model with requests still there stays: it is in use.
      for (const [name, when] of times)
        if (at - when > sentKeptMs && !outstanding.has(`${nodeId}\n${name}`)) times.delete(name);
    },
    end(nodeId, model) {
      count(nodeId, -1);
      count(`${nodeId}\n${model}`, -1);
    },
    sentSince(nodeId, since) {
      const times = sent.get(nodeId);
      if (!times) return [];
      return [...times]
        .filter(([, when]) => when >= since)
        .map(([name]) => name)
        .reverse();
    },
    lastSent: (nodeId, model) => sent.get(nodeId)?.get(model),
    unsend(nodeId, model, at) {
      const times = sent.get(nodeId);
      if (times?.get(model) === at) times.delete(model);
    },
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

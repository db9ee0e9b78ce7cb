/** A node that can take a request for the model, as the policy sees it. */
export interface Candidate {
  id: string;
  /** Requests sent to it and not finished yet. */
  outstanding: number;
  /** Its measured generation speed for this model; undefined until measured. */
  tokensPerSecond: number | undefined;
  /** It holds the model in memory now (a worker that has loaded it, or an endpoint). Default: no. */
  loaded?: boolean;
}

/**
 * Least outstanding requests first; among equals, the faster node for this model (an unmeasured
 * node ties with any); among those, once each is measured, a node that has the model loaded (no
 * load before it answers, and no other model unloaded for it); then round-robin by `turn`. An
 * unmeasured node is not passed over for a loaded one: it is measured first (a GPU that joined
 * beside a CPU that loaded the model first).
 */
export function pickNode<T extends Candidate>(candidates: T[], turn: number): T | undefined {
  if (candidates.length === 0) return undefined;
  const fewest = Math.min(...candidates.map((c) => c.outstanding));
  const idle = candidates.filter((c) => c.outstanding === fewest);
  const measured = idle.map((c) => c.tokensPerSecond).filter((speed): speed is number => speed !== undefined);
  const fastest = measured.length > 0 ? Math.max(...measured) : undefined;
  // Within 10 % counts as equally fast: measurements wobble, and round-robin spreads the load.
  const quick = idle.filter(
    (c) => c.tokensPerSecond === undefined || fastest === undefined || c.tokensPerSecond >= fastest * 0.9,
  );
  const warm = quick.every((c) => c.tokensPerSecond !== undefined)
    ? quick.filter((c) => c.loaded === true)
    : [];
  const pool = warm.length > 0 ? warm : quick;
  return pool[turn % pool.length];
}

/** A node that can take a request for the model, as the policy sees it. */
export interface Candidate {
  id: string;
  /** Requests sent to it and not finished yet. */
  outstanding: number;
  /** Its measured generation speed for this model; undefined until measured. */
  tokensPerSecond: number | undefined;
}

/**
 * Least outstanding requests first; among equals, the faster node for this model (an unmeasured
 * node ties with any); among those, round-robin by `turn`.
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
  return quick[turn % quick.length];
}

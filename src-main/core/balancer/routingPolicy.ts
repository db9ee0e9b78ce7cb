import type { HeldModel } from "../nodes/nodeService";

/** A node that can take a request for the model, as the policy sees it. */
export interface Candidate {
  id: string;
  /** Requests sent to it and not finished yet. */
  outstanding: number;
  /**
   * Those of them for this model, where its slots are the model's own (a worker's sequences for it);
   * default: `outstanding` (an endpoint's parallel, shared by every model it serves).
   */
  outstandingForModel?: number;
  /** Requests it runs at once for this model. */
  slots: number;
  /** Its measured generation speed for this model; undefined until measured. */
  tokensPerSecond: number | undefined;
  /** It holds the model in memory now (a worker that has loaded it, or an endpoint). Default: no. */
  loaded?: boolean;
  /** It holds as many models as it may, and taking this one unloads another in use lately. Default: no. */
  unloadsAnother?: boolean;
  /** It would unload another, and each it could unload has requests running there. Default: no. */
  unloadsBusy?: boolean;
}

/** A worker's report time unknown: what was sent to it this lately counts as held (a few heartbeats). */
export const unreportedForMs = 5_000;
/** A model sent to a worker this lately is in use there: unloading it costs its clients a load. */
export const inUseForMs = 30_000;

/**
 * The models a worker holds, as best known between its reports: those sent to it since (the latest
 * first, as it keeps the most recently used), then those its last report named, up to its limit of
 * loads (models that share one load count once); and how many loads those are.
 */
export function modelsHeld(
  reported: readonly HeldModel[],
  sentSince: readonly string[],
  maxLoaded: number,
): { models: string[]; loads: number } {
  const loadOf = new Map(reported.map((held) => [held.model, held.sharesLoadWith ?? held.model]));
  const models: string[] = [];
  const loads = new Set<string>();
  for (const model of [...sentSince, ...reported.map((held) => held.model)]) {
    if (models.includes(model)) continue;
    const load = loadOf.get(model) ?? model;
    if (!loads.has(load)) {
      if (loads.size >= maxLoaded) continue;
      loads.add(load);
    }
    models.push(model);
  }
  return { models, loads: loads.size };
}

/**
 * Which node takes the request, in this order:
 * 1. Not a node that would unload a model still answering there: the load would wait for those
 *    requests, and the request waits better at a node that holds its model, full or not.
 * 2. A node with a free slot for this model (admission counts every node's slots, so while one is full
 *    another has room, and an endpoint gets no more than its `parallel` beside a node that takes more).
 * 3. Not a node that would unload another model in use lately for this one, while another can take it:
 *    a swap costs a load here, and another at the next request for the model it unloaded.
 * 4. Least outstanding requests; among equals, the faster node for this model (an unmeasured node ties
 *    with any); among those, once each is measured, a node that has the model loaded (no load before it
 *    answers); then round-robin by `turn`. An unmeasured node is not passed over for a loaded one: it
 *    is measured first (a GPU that joined beside a CPU that loaded the model first).
 */
export function pickNode<T extends Candidate>(candidates: T[], turn: number): T | undefined {
  const unhindered = otherwiseAll(
    candidates.filter((c) => c.unloadsBusy !== true),
    candidates,
  );
  const roomy = otherwiseAll(
    unhindered.filter((c) => (c.outstandingForModel ?? c.outstanding) < c.slots),
    unhindered,
  );
  const willing = otherwiseAll(
    roomy.filter((c) => c.unloadsAnother !== true),
    roomy,
  );
  if (willing.length === 0) return undefined;
  const fewest = Math.min(...willing.map((c) => c.outstanding));
  const idle = willing.filter((c) => c.outstanding === fewest);
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

/** Those picked out, or all when none is. */
function otherwiseAll<T>(picked: T[], all: T[]): T[] {
  return picked.length > 0 ? picked : all;
}

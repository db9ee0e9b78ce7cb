import type { LlamaContext } from "node-llama-cpp";

/**
 * A decode request as node-llama-cpp's sequences hand it to their context (`LlamaContext._decodeTokens`,
 * not public): what the gate reads of it is how many tokens it carries.
 */
interface DecodeRequest {
  tokens: readonly unknown[];
}
type DecodeTokens = (request: DecodeRequest, ...rest: unknown[]) => Promise<unknown>;

/**
 * A decode this short is one generation step (a sampled token, a few predicted ones): it comes back
 * within one batch, and its sequence asks again right after. A longer one is a prompt being read,
 * spread over several batches.
 */
const STEP_TOKENS = 8;

/**
 * Makes a context's decode batches carry every sequence that is generating.
 *
 * node-llama-cpp decodes whatever is queued the moment a batch ends. Sequences that joined at different
 * times then settle into cohorts that take turns: while one cohort's batch runs, the other queues and
 * is taken next, alone, and so on for the rest of their answers (measured here: 3 of 8 per batch,
 * where one batch of 8 costs a GPU about what a batch of 1 does). The gate holds each decode until
 * every busy sequence has asked for one, none of them still in the running batch, and then lets them
 * all into the same batch. It never waits on a sequence that is reading a long prompt, nor longer
 * than one turn of the event loop in which none asks: a request between steps (starting, ending,
 * writing its answer) delays no one.
 *
 * `busySequences` says how many sequences requests hold now. Left as it was should the context not
 * have the internal method (a new node-llama-cpp version): batches then fill as node-llama-cpp fills them.
 */
export function gatherDecodes(context: LlamaContext, busySequences: () => number): void {
  const target = context as unknown as { _decodeTokens?: DecodeTokens };
  const decode = target._decodeTokens;
  if (typeof decode !== "function") return;

  let held: (() => void)[] = [];
  /** Steps let into the context that have not come back yet. */
  let stepsRunning = 0;
  /** Long decodes (prompts) let in that have not come back yet. */
  let promptsRunning = 0;
  /** Counts arrivals and returns: a turn of the event loop in which it does not move is a quiet one. */
  let events = 0;
  let quietCheck: NodeJS.Immediate | undefined;

  const release = () => {
    const now = held;
    held = [];
    for (const start of now) start();
  };
  const consider = () => {
    events++;
    if (held.length === 0 || stepsRunning > 0) return;
    if (held.length + promptsRunning >= busySequences()) return release();
    if (quietCheck) return;
    const seen = events;
    quietCheck = setImmediate(() => {
      quietCheck = undefined;
      if (events === seen) release();
      else consider();
    });
  };

  target._decodeTokens = function gatedDecode(this: unknown, request, ...rest) {
    const step = request.tokens.length <= STEP_TOKENS;
    return new Promise((resolve, reject) => {
      held.push(() => {
        if (step) stepsRunning++;
        else promptsRunning++;
        decode
          .call(this, request, ...rest)
          .then(resolve, reject)
          .finally(() => {
            if (step) stepsRunning--;
            else promptsRunning--;
            consider();
          });
      });
      consider();
    });
  };
}

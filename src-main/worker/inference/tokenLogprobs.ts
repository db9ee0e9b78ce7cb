import type { ControlledEvaluateInputItem, LlamaContextSequence, Token } from "node-llama-cpp";
import type { ScoredToken, TokenLogprob } from "./jobs";
import type { TokenBytes } from "./tokenBytes";

/**
 * Places scored per evaluation. Each brings the whole vocabulary's probabilities back to JavaScript
 * (150,000 of them for many models), so a few at a time keep that memory small.
 */
const placesPerBatch = 16;

/** What OpenAI reports for a token the model gives no chance at all (log 0 has no JSON number). */
export const noChance = -9999;

const logOf = (probability: number) =>
  probability > 0 ? Math.max(Math.log(probability), noChance) : noChance;

/**
 * Where `answer` begins in the tokens a sequence holds after generating it: the latest place it fits,
 * as its last token may not have been evaluated (nothing was generated after it). Undefined when it
 * is not there.
 */
export function answerStart<T>(held: readonly T[], answer: readonly T[]): number | undefined {
  if (answer.length === 0) return held.length;
  for (let start = held.length - answer.length + 1; start >= 1; start--) {
    let fits = true;
    for (let index = 0; index < answer.length && start + index < held.length; index++) {
      if (held[start + index] !== answer[index]) {
        fits = false;
        break;
      }
    }
    if (fits) return start;
  }
  return undefined;
}

/**
 * Each of `scored`'s log probabilities after `context`, with the `top` likeliest tokens at its
 * place: the model's own distribution (before temperature, top-p, penalties or a grammar), as
 * OpenAI's are. The tokens are evaluated again on `sequence`, in batches as a prompt is (what it
 * already holds of them is kept), so an answer's log probabilities cost about what reading it as a
 * prompt would. A first token with nothing before it cannot be scored: its log probability is null.
 */
export async function scoreTokens(
  sequence: LlamaContextSequence,
  context: readonly Token[],
  scored: readonly Token[],
  { top, bytesOf, signal }: { top: number; bytesOf: TokenBytes; signal: AbortSignal },
): Promise<TokenLogprob[]> {
  if (scored.length === 0) return [];
  if (context.length === 0) {
    const [first, ...rest] = scored as [Token, ...Token[]];
    const unscored: TokenLogprob = { bytes: bytesOf(first), logprob: null, top: [] };
    return [unscored, ...(await scoreTokens(sequence, [first], rest, { top, bytesOf, signal }))];
  }
  const all = [...context, ...scored];
  // The place before the first scored token is evaluated again, for the distribution it gives.
  const firstPlace = context.length - 1;
  const held = sequence.contextTokens;
  let kept = 0;
  while (kept < firstPlace && kept < held.length && held[kept] === all[kept]) kept++;
  if (kept < sequence.nextTokenIndex)
    await sequence.eraseContextTokenRanges([{ start: kept, end: sequence.nextTokenIndex }]);
  if (kept < firstPlace) await sequence.controlledEvaluate(all.slice(kept, firstPlace));

  const results: TokenLogprob[] = [];
  for (let place = firstPlace; place < all.length - 1; place += placesPerBatch) {
    signal.throwIfAborted();
    const end = Math.min(place + placesPerBatch, all.length - 1);
    const input: ControlledEvaluateInputItem[] = all
      .slice(place, end)
      .map((token) => [token, { generateNext: { probabilities: true } }]);
    await sequence.controlledEvaluate(input, {
      onTokenResult(index, output) {
        const probabilities = output.next.probabilities ?? new Map<Token, number>();
        const token = all[place + index + 1]!;
        const alternatives: ScoredToken[] = [];
        for (const [candidate, probability] of probabilities) {
          if (alternatives.length >= top) break;
          alternatives.push({ bytes: bytesOf(candidate), logprob: logOf(probability) });
        }
        results[index + place - firstPlace] = {
          bytes: bytesOf(token),
          logprob: logOf(probabilities.get(token) ?? 0),
          top: alternatives,
        };
      },
    });
  }
  return results;
}

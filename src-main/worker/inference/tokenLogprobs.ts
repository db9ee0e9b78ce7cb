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
 * Where `answer` begins in the tokens a sequence holds after generating it: the first place from
 * `from` (the end of the prompt) where it fits, compared as far as the sequence goes (its last token
 * may not have been evaluated: nothing was generated after it). A reasoning segment the answer came
 * after is passed over so. Where it fits nowhere (node-llama-cpp tokenized the text before a stop
 * string anew, so the answer's tokens are not those generated), `from`.
 */
export function answerStart<T>(held: readonly T[], answer: readonly T[], from: number): number {
  for (let start = from; start < held.length; start++) {
    let fits = true;
    for (let index = 0; index < answer.length && start + index < held.length; index++) {
      if (held[start + index] !== answer[index]) {
        fits = false;
        break;
      }
    }
    if (fits) return start;
  }
  return from;
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
  options: ScoreOptions,
): Promise<TokenLogprob[]> {
  const { top, bytesOf, signal, endsWith } = options;
  if (scored.length === 0 && !endsWith) return [];
  if (context.length === 0) {
    if (scored.length === 0) return [];
    const [first, ...rest] = scored as [Token, ...Token[]];
    const unscored: TokenLogprob = { bytes: bytesOf(first), logprob: null, top: [] };
    return [unscored, ...(await scoreTokens(sequence, [first], rest, options))];
  }
  // One more place, after the last token, when the answer ended with a token of its own (an end token).
  const places = scored.length + (endsWith ? 1 : 0);
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
  const lastPlace = firstPlace + places;
  for (let place = firstPlace; place < lastPlace; place += placesPerBatch) {
    signal.throwIfAborted();
    const end = Math.min(place + placesPerBatch, lastPlace);
    const input: ControlledEvaluateInputItem[] = all
      .slice(place, end)
      .map((token) => [token, { generateNext: { probabilities: true } }]);
    await sequence.controlledEvaluate(input, {
      onTokenResult(index, output) {
        const probabilities = output.next.probabilities ?? new Map<Token, number>();
        const token = all[place + index + 1] ?? likeliestOf(probabilities, endsWith!);
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

/** The likeliest of the tokens `which` picks (the list is likeliest first), or the likeliest of all. */
function likeliestOf(probabilities: ReadonlyMap<Token, number>, which: (token: Token) => boolean): Token {
  let first: Token | undefined;
  for (const token of probabilities.keys()) {
    first ??= token;
    if (which(token)) return token;
  }
  return first ?? (0 as Token);
}

export interface ScoreOptions {
  /** How many of the likeliest tokens to give at each place. */
  top: number;
  bytesOf: TokenBytes;
  signal: AbortSignal;
  /**
   * The answer ended with a token its text leaves out (an end-of-generation token): scored too, at
   * one more place, as the likeliest of the tokens this picks there (node-llama-cpp does not say
   * which it sampled).
   */
  endsWith?: (token: Token) => boolean;
}

import type { LlamaModel, Token } from "node-llama-cpp";

/** An answer held to `max` tokens: the hooks to generate with, and what it was cut to, if it was. */
export interface TokenCap {
  /** Stops the generation once the cap is reached (with `stopOnAbortSignal`), or when `signal` aborts. */
  signal: AbortSignal;
  onToken(tokens: Token[]): void;
  onTextChunk(text: string): void;
  /** The answer's text and tokens when the cap cut it; undefined when it ended within the cap. */
  cut(): { text: string; tokens: number } | undefined;
  /** The answer's tokens, as far as the cap let it go. */
  tokens(): Token[];
}

/**
 * Holds an answer to `max` tokens. node-llama-cpp finishes a character split across tokens (a byte
 * of UTF-8 at a time) before it checks its own `maxTokens`, so an answer could run one token or more
 * past `max_tokens`. The tokens it hands out are counted here; the group that crosses the cap is cut
 * to what fits (its text decoded from the tokens kept, with those before them for spacing), nothing
 * after it is passed on, and the generation is stopped.
 */
export function capTokens(
  model: LlamaModel,
  max: number,
  signal: AbortSignal,
  onText: ((text: string) => void) | undefined,
): TokenCap {
  const kept: Token[] = [];
  const stop = new AbortController();
  /** The text of the group that crossed the cap, cut to the tokens kept. */
  let cutText: string | undefined;
  let ended = false;
  return {
    signal: AbortSignal.any([signal, stop.signal]),
    onToken(tokens) {
      if (cutText !== undefined) return;
      const room = max - kept.length;
      if (tokens.length <= room) {
        kept.push(...tokens);
        return;
      }
      const fits = tokens.slice(0, Math.max(0, room));
      cutText = model.detokenize(fits, false, kept);
      kept.push(...fits);
      stop.abort();
    },
    onTextChunk(text) {
      if (ended) return;
      if (cutText === undefined) return onText?.(text);
      ended = true;
      if (cutText !== "") onText?.(cutText);
    },
    cut: () => (cutText === undefined ? undefined : { text: model.detokenize(kept), tokens: kept.length }),
    tokens: () => kept.slice(),
  };
}

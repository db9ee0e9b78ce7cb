import { type LlamaText, SpecialToken, SpecialTokensText, type Tokenizer } from "node-llama-cpp";

/**
 * Characters tokenized at once: a few tens of milliseconds of the tokenizer's time. The tokenizer
 * holds the node's only thread while it works, and a node that goes quiet for seconds misses its
 * heartbeats: it is taken for lost and its other requests are called off.
 */
export const SLICE_CHARS = 256 * 1024;
/** How far back from a slice's end a whitespace is looked for, to cut between words. */
const CUT_SEARCH_CHARS = 4096;

/**
 * How many tokens `text` is, counted as `LlamaText.tokenize` counts it, but with long runs of plain
 * text tokenized a slice at a time and the event loop let run between slices, so that a prompt of
 * megabytes does not silence the node. Slices are cut before a whitespace, where tokenizers split
 * words anyway; a text of one slice or less is counted exactly as the tokenizer would.
 */
export async function countTokensInTurns(
  text: LlamaText,
  tokenizer: Tokenizer,
  signal?: AbortSignal,
): Promise<number> {
  let count = 0;
  let run = "";
  // As LlamaText.tokenize: a run of text is tokenized without the tokenizer's leading space, and so is
  // special-token text that follows any content.
  const countRun = async () => {
    let first = true;
    for (const slice of slicesOf(run)) {
      if (!first) {
        signal?.throwIfAborted();
        await new Promise((resolve) => setImmediate(resolve));
      }
      count += tokenizer(slice, false, "trimLeadingSpace").length;
      first = false;
    }
  };
  for (const value of text.values) {
    if (value instanceof SpecialToken) {
      await countRun();
      count += value.tokenize(tokenizer).length;
      run = "";
    } else if (value instanceof SpecialTokensText) {
      await countRun();
      count += value.tokenize(tokenizer, count > 0 || run.length > 0).length;
      run = "";
    } else {
      run += value;
    }
  }
  await countRun();
  return count;
}

/** `text` in pieces of at most SLICE_CHARS, each cut before a whitespace where one is near. */
export function* slicesOf(text: string): Generator<string> {
  let start = 0;
  while (text.length - start > SLICE_CHARS) {
    let end = start + SLICE_CHARS;
    let space = lastWhitespaceBetween(text, end - CUT_SEARCH_CHARS, end);
    // Before the whole run of whitespace ("\n\n" is one token, its halves two).
    // (Within the window looked at: a run longer than it is cut inside, a token more or less.)
    while (space > end - CUT_SEARCH_CHARS && space > start + 1 && /\s/.test(text[space - 1]!)) space--;
    if (space > start) end = space;
    // Never between the two halves of a surrogate pair.
    else if (/[\uDC00-\uDFFF]/.test(text[end]!)) end--;
    yield text.slice(start, end);
    start = end;
  }
  if (start < text.length) yield text.slice(start);
}

function lastWhitespaceBetween(text: string, from: number, to: number): number {
  for (let index = to; index > from; index--) if (/\s/.test(text[index]!)) return index;
  return -1;
}

import type { LlamaModel, Token } from "node-llama-cpp";

/** A token's bytes: what it adds to the text, before decoding (a UTF-8 character may span tokens). */
export type TokenBytes = (token: Token) => number[];

/** GGUF's token types (llama.cpp's `llama_token_type`) that matter here. */
const controlType = 3;
const byteType = 6;

/**
 * GPT-2's byte-level BPE spells each byte as one printable character: the printable bytes as
 * themselves, the others shifted past 255. The inverse: each spelling character's byte.
 */
const gpt2ByteOf: ReadonlyMap<string, number> = (() => {
  const printable = (byte: number) =>
    (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
  const map = new Map<string, number>();
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    map.set(String.fromCodePoint(printable(byte) ? byte : 256 + shifted++), byte);
  }
  return map;
})();

const utf8 = (text: string) => [...Buffer.from(text, "utf8")];

/**
 * A token's bytes from its spelling in the vocabulary. SentencePiece (`llama`): a byte token as
 * `<0xE3>`, a space as `▁`. Byte-level BPE (`gpt2`): one character a byte. Control tokens as they
 * are spelled (`<|im_end|>`), for their text is what a reader would want to see.
 */
export function spelledBytes(tokenizer: string, spelling: string, type: number | undefined): number[] {
  if (type === controlType) return utf8(spelling);
  if (tokenizer === "llama") {
    const byte = type === byteType ? /^<0x([0-9A-Fa-f]{2})>$/.exec(spelling) : null;
    return byte ? [Number.parseInt(byte[1]!, 16)] : utf8(spelling.replaceAll("\u2581", " "));
  }
  if (tokenizer === "gpt2") {
    const bytes: number[] = [];
    for (const char of spelling) {
      const byte = gpt2ByteOf.get(char);
      // A token outside the byte alphabet (one added as plain text) is its text.
      if (byte === undefined) return utf8(spelling);
      bytes.push(byte);
    }
    return bytes;
  }
  return utf8(spelling);
}

/**
 * The model's tokens' bytes, from its GGUF's vocabulary where the tokenizer is one whose spelling is
 * known, else from node-llama-cpp's detokenizer (which cannot give half a character). Worked out once
 * per token, on first use.
 */
export function tokenBytesOf(model: LlamaModel): TokenBytes {
  const metadata = model.fileInfo.metadata as {
    tokenizer?: { ggml?: { model?: unknown; tokens?: unknown; token_type?: unknown } };
  };
  const ggml = metadata.tokenizer?.ggml;
  const tokenizer = typeof ggml?.model === "string" ? ggml.model : "";
  const spellings = Array.isArray(ggml?.tokens) ? (ggml.tokens as unknown[]) : [];
  const types = Array.isArray(ggml?.token_type) ? (ggml.token_type as unknown[]) : [];
  const known = new Map<Token, number[]>();
  return (token) => {
    let bytes = known.get(token);
    if (bytes) return bytes;
    const spelling = spellings[token];
    const type = types[token];
    bytes =
      typeof spelling === "string" && (tokenizer === "llama" || tokenizer === "gpt2")
        ? spelledBytes(tokenizer, spelling, typeof type === "number" ? type : undefined)
        : utf8(model.detokenize([token], true));
    known.set(token, bytes);
    return bytes;
  };
}

/**
 * Deterministic generator of a tiny, valid llama-architecture GGUF model.
 *
 * The device probe's self-test runs each GPU backend on a real model before workers use it, and the
 * tests need one too; neither may download weights. This file builds one (~0.5 MB, F32, random
 * weights, a byte-fallback SentencePiece vocabulary and a ChatML chat template) in memory. Its output
 * is gibberish, but loading, tokenizing, chat formatting and generation all run through the real
 * engine in well under a second.
 *
 * Format reference: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
 */
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";

export interface TinyGgufOptions {
  /** Seed of the PRNG that fills the weights; different seeds give different weights. Defaults to `1`. */
  seed?: number;
  /** Value of the `general.name` metadata key. Defaults to `"tiny-llama"`. */
  name?: string;
  /**
   * Stores the RMS-norm gains as Q8_0 instead of F32. The model loads, but llama.cpp's CPU backend has no
   * kernel to multiply by a quantized vector and aborts the process at the first decode ("binary_op:
   * unsupported types"): a real crash, as a model broken for its backend causes one.
   */
  crashesOnDecode?: boolean;
  /**
   * Wider or deeper than the default: a benchmark's model whose weights outgrow the CPU's caches, so a
   * decode step costs what reading them costs, as with real models. The embedding must divide by 4.
   * A longer context (trained on 512 tokens by default): one that holds a prompt with tools.
   */
  shape?: Partial<Pick<ModelShape, "embedding" | "blocks" | "feedForward" | "contextLength">>;
  /**
   * A reranker rather than a chat model, as Qwen3-Reranker is converted: the qwen3 architecture
   * (llama's, with norms on the queries and keys), rank pooling and a two-way classification head
   * ("yes", "no") whose first output is a document's relevance to a query.
   */
  reranker?: boolean;
  /**
   * Pads the vocabulary with unused tokens (the tokenizer never gives them) to this many: a
   * benchmark's model whose every place has as many token probabilities as a real model's (32,000 to
   * 150,000). Default: no padding (356 tokens).
   */
  vocabularySize?: number;
}

interface ModelShape {
  contextLength: number;
  embedding: number;
  blocks: number;
  feedForward: number;
  heads: number;
  kvHeads: number;
}

/** Shape of the generated model: small enough to be fast, but with 2 blocks and GQA (4 query / 2 KV heads). */
const TINY_SHAPE: ModelShape = {
  contextLength: 512,
  embedding: 64,
  blocks: 2,
  feedForward: 128,
  heads: 4,
  kvHeads: 2,
};
const headDim = (shape: ModelShape) => shape.embedding / shape.heads;
const ALIGNMENT = 32;

/** ChatML (the template used by Qwen, OpenHermes, ...); `\n` are Jinja string escapes, not newlines. */
const CHATML_TEMPLATE =
  "{% for message in messages %}" +
  "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  "{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** A reranker's prompt, as Qwen3-Reranker's GGUFs carry one: `{query}` and `{document}` filled in. */
const RERANK_TEMPLATE =
  "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query. " +
  'Answer only "yes" or "no".<|im_end|>\n<|im_start|>user\n<Query>: {query}\n<Document>: {document}<|im_end|>\n' +
  "<|im_start|>assistant\n";

// ---------------------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------------------

/** llama.cpp's `llama_token_type` values. */
const TokenType = { normal: 1, unknown: 2, control: 3, unused: 5, byte: 6 } as const;

interface Vocab {
  tokens: string[];
  scores: number[];
  types: number[];
  ids: { unk: number; bos: number; eos: number; imStart: number; imEnd: number };
}

/**
 * A SentencePiece-style vocabulary: specials, the 256 byte-fallback tokens (so any UTF-8 text tokenizes), the
 * printable ASCII characters as single-character pieces, and the ChatML control tokens. There are no
 * multi-character pieces, so the tokenizer never merges and scores are irrelevant (all 0).
 */
function buildVocab(size = 0): Vocab {
  const tokens: string[] = [];
  const types: number[] = [];
  const add = (text: string, type: number): number => {
    tokens.push(text);
    types.push(type);
    return tokens.length - 1;
  };

  const unk = add("<unk>", TokenType.unknown);
  const bos = add("<s>", TokenType.control);
  add("</s>", TokenType.control);
  // llama.cpp looks byte tokens up by this exact spelling (upper-case hex).
  for (let byte = 0; byte < 256; byte++) {
    add(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`, TokenType.byte);
  }
  // SentencePiece replaces spaces with "▁" (U+2581) before looking pieces up.
  for (let code = 0x20; code <= 0x7e; code++) {
    add(code === 0x20 ? "\u2581" : String.fromCharCode(code), TokenType.normal);
  }
  const imStart = add("<|im_start|>", TokenType.control);
  const imEnd = add("<|im_end|>", TokenType.control);
  while (tokens.length < size) add(`<unused${tokens.length}>`, TokenType.unused);

  return {
    tokens,
    scores: tokens.map(() => 0),
    types,
    // EOS is <|im_end|> so a ChatML assistant turn ends generation (llama.cpp also treats </s> as end-of-generation).
    ids: { unk, bos, eos: imEnd, imStart, imEnd },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------------------------

/** GGUF metadata value types (`gguf_type`). */
const GgufType = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9 } as const;

type MetadataValue =
  | { type: "uint32"; value: number }
  | { type: "float32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: readonly string[] }
  | { type: "float32[]"; value: readonly number[] }
  | { type: "int32[]"; value: readonly number[] };

const u32 = (value: number): MetadataValue => ({ type: "uint32", value });
const f32 = (value: number): MetadataValue => ({ type: "float32", value });
const str = (value: string): MetadataValue => ({ type: "string", value });

function buildMetadata(
  name: string,
  vocab: Vocab,
  shape: ModelShape,
  reranker: boolean,
): [string, MetadataValue][] {
  const arch = reranker ? "qwen3" : "llama";
  return [
    ["general.architecture", str(arch)],
    ["general.name", str(name)],
    ["general.alignment", u32(ALIGNMENT)],
    ["general.file_type", u32(0)], // 0 = all F32
    [`${arch}.context_length`, u32(shape.contextLength)],
    [`${arch}.embedding_length`, u32(shape.embedding)],
    [`${arch}.block_count`, u32(shape.blocks)],
    [`${arch}.feed_forward_length`, u32(shape.feedForward)],
    [`${arch}.attention.head_count`, u32(shape.heads)],
    [`${arch}.attention.head_count_kv`, u32(shape.kvHeads)],
    [`${arch}.rope.dimension_count`, u32(headDim(shape))],
    [`${arch}.rope.freq_base`, f32(10000)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(1e-5)],
    [`${arch}.vocab_size`, u32(vocab.tokens.length)],
    // llama.cpp's LLAMA_POOLING_TYPE_RANK, and the head's labels (their count sizes cls.output).
    ...(reranker
      ? ([
          [`${arch}.pooling_type`, u32(4)],
          [`${arch}.classifier.output_labels`, { type: "string[]", value: ["yes", "no"] }],
        ] satisfies [string, MetadataValue][])
      : []),
    ["tokenizer.ggml.model", str("llama")],
    ["tokenizer.ggml.tokens", { type: "string[]", value: vocab.tokens }],
    ["tokenizer.ggml.scores", { type: "float32[]", value: vocab.scores }],
    ["tokenizer.ggml.token_type", { type: "int32[]", value: vocab.types }],
    ["tokenizer.ggml.bos_token_id", u32(vocab.ids.bos)],
    ["tokenizer.ggml.eos_token_id", u32(vocab.ids.eos)],
    ["tokenizer.ggml.unknown_token_id", u32(vocab.ids.unk)],
    ["tokenizer.ggml.padding_token_id", u32(vocab.ids.unk)],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
    ["tokenizer.chat_template", str(CHATML_TEMPLATE)],
    // Qwen3-Reranker's kind of prompt: node-llama-cpp wraps each query and document in it.
    ...(reranker
      ? ([["tokenizer.chat_template.rerank", str(RERANK_TEMPLATE)]] satisfies [string, MetadataValue][])
      : []),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Binary writer
// ---------------------------------------------------------------------------------------------------------

/** Appends little-endian GGUF primitives to a list of chunks. */
class GgufWriter {
  private readonly chunks: Buffer[] = [];
  private length = 0;

  get size(): number {
    return this.length;
  }

  bytes(buffer: Buffer): void {
    this.chunks.push(buffer);
    this.length += buffer.length;
  }

  uint32(value: number): void {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32LE(value);
    this.bytes(buffer);
  }

  int32(value: number): void {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32LE(value);
    this.bytes(buffer);
  }

  uint64(value: number): void {
    const buffer = Buffer.alloc(8);
    buffer.writeBigUInt64LE(BigInt(value));
    this.bytes(buffer);
  }

  float32(value: number): void {
    const buffer = Buffer.alloc(4);
    buffer.writeFloatLE(value);
    this.bytes(buffer);
  }

  /** GGUF strings are a uint64 byte length followed by UTF-8 bytes, no terminator. */
  string(value: string): void {
    const encoded = Buffer.from(value, "utf8");
    this.uint64(encoded.length);
    this.bytes(encoded);
  }

  /** Zero-pads up to the next multiple of `alignment`. */
  pad(alignment: number): void {
    const padding = (alignment - (this.length % alignment)) % alignment;
    if (padding > 0) this.bytes(Buffer.alloc(padding));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function writeMetadataValue(writer: GgufWriter, value: MetadataValue): void {
  const writeArray = <T>(elementType: number, items: readonly T[], writeItem: (item: T) => void): void => {
    writer.uint32(GgufType.array);
    writer.uint32(elementType);
    writer.uint64(items.length);
    items.forEach(writeItem);
  };

  switch (value.type) {
    case "uint32":
      writer.uint32(GgufType.uint32);
      writer.uint32(value.value);
      return;
    case "float32":
      writer.uint32(GgufType.float32);
      writer.float32(value.value);
      return;
    case "bool":
      writer.uint32(GgufType.bool);
      writer.bytes(Buffer.from([value.value ? 1 : 0]));
      return;
    case "string":
      writer.uint32(GgufType.string);
      writer.string(value.value);
      return;
    case "string[]":
      writeArray(GgufType.string, value.value, (item) => writer.string(item));
      return;
    case "float32[]":
      writeArray(GgufType.float32, value.value, (item) => writer.float32(item));
      return;
    case "int32[]":
      writeArray(GgufType.int32, value.value, (item) => writer.int32(item));
      return;
  }
}

function writeMetadata(writer: GgufWriter, metadata: [string, MetadataValue][]): void {
  for (const [key, value] of metadata) {
    writer.string(key);
    writeMetadataValue(writer, value);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tensors
// ---------------------------------------------------------------------------------------------------------

const GGML_TYPE_F32 = 0;
const GGML_TYPE_Q8_0 = 8;
/** Q8_0 packs 32 values as an F16 scale and 32 signed bytes. */
const Q8_0_BLOCK = 32;

interface Tensor {
  name: string;
  /** GGML order: `ne[0]` is the innermost (contiguous) dimension, i.e. a matmul's input size. */
  ne: number[];
  data: Float32Array;
  /** Stored as Q8_0 rather than F32. */
  q8?: boolean;
}

/** Q8_0 blocks of `data`: per 32 values, the scale max|x|/127 as F16, then round(x / scale) as int8. */
function quantizeQ8_0(data: Float32Array): Buffer {
  const blocks = Math.ceil(data.length / Q8_0_BLOCK);
  const buffer = Buffer.alloc(blocks * (2 + Q8_0_BLOCK));
  for (let b = 0; b < blocks; b++) {
    const values = data.subarray(b * Q8_0_BLOCK, (b + 1) * Q8_0_BLOCK);
    const scale = Math.max(...values.map(Math.abs)) / 127;
    const offset = b * (2 + Q8_0_BLOCK);
    buffer.writeUInt16LE(float16Bits(scale), offset);
    values.forEach((value, i) => buffer.writeInt8(scale ? Math.round(value / scale) : 0, offset + 2 + i));
  }
  return buffer;
}

/** IEEE half-precision bits of a small positive normal number (all a Q8_0 scale here needs). */
function float16Bits(value: number): number {
  if (value === 0) return 0;
  const exponent = Math.floor(Math.log2(value));
  const mantissa = Math.round((value / 2 ** exponent - 1) * 1024);
  return ((exponent + 15) << 10) | (mantissa & 0x3ff);
}

const tensorBytes = (tensor: Tensor): number =>
  tensor.q8 ? (tensor.data.length / Q8_0_BLOCK) * (2 + Q8_0_BLOCK) : tensor.data.byteLength;

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG; enough for reproducible test weights. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Only printable-ASCII tokens get a random row in `output.weight`; the rest (specials, byte tokens) get a zero
 * row, hence a logit of exactly 0, while the max of ~95 random logits is practically always positive. So
 * greedy decoding does not pick EOS or a control token (generation runs to `maxTokens`) nor emit a lone byte
 * of an invalid UTF-8 sequence (the text is printable ASCII).
 */
function silenceNonTextTokens(output: Tensor, vocab: Vocab): void {
  const [rowLength = 0] = output.ne;
  vocab.types.forEach((type, token) => {
    if (type !== TokenType.normal) output.data.fill(0, token * rowLength, (token + 1) * rowLength);
  });
}

function buildTensors(
  vocab: Vocab,
  random: () => number,
  quantizedNorms: boolean,
  shape: ModelShape,
  reranker: boolean,
): Tensor[] {
  const vocabSize = vocab.tokens.length;
  const { embedding: E, feedForward: F, heads, kvHeads, blocks } = shape;
  const headSize = headDim(shape);
  // Uniform in ±1/sqrt(fan-in) keeps activations around unit scale, so logits stay finite and varied.
  const matrix = (name: string, inputs: number, outputs: number): Tensor => {
    const data = new Float32Array(inputs * outputs);
    const scale = 1 / Math.sqrt(inputs);
    for (let i = 0; i < data.length; i++) data[i] = (random() * 2 - 1) * scale;
    return { name, ne: [inputs, outputs], data };
  };
  // RMS-norm gains of 1 make the norms the identity scaling, as in a freshly initialised model.
  const norm = (name: string, size = E): Tensor => ({
    name,
    ne: [size],
    data: new Float32Array(size).fill(1),
    q8: quantizedNorms,
  });

  const tensors = [matrix("token_embd.weight", E, vocabSize)];
  for (let b = 0; b < blocks; b++) {
    const p = `blk.${b}`;
    tensors.push(
      norm(`${p}.attn_norm.weight`),
      matrix(`${p}.attn_q.weight`, E, heads * headSize),
      matrix(`${p}.attn_k.weight`, E, kvHeads * headSize),
      matrix(`${p}.attn_v.weight`, E, kvHeads * headSize),
      matrix(`${p}.attn_output.weight`, heads * headSize, E),
      norm(`${p}.ffn_norm.weight`),
      matrix(`${p}.ffn_gate.weight`, E, F),
      matrix(`${p}.ffn_up.weight`, E, F),
      matrix(`${p}.ffn_down.weight`, F, E),
    );
    if (reranker)
      tensors.push(norm(`${p}.attn_q_norm.weight`, headSize), norm(`${p}.attn_k_norm.weight`, headSize));
  }
  if (reranker) tensors.push(matrix("cls.output.weight", E, 2));
  const output = matrix("output.weight", E, vocabSize);
  silenceNonTextTokens(output, vocab);
  tensors.push(norm("output_norm.weight"), output);
  return tensors;
}

const alignUp = (value: number): number => Math.ceil(value / ALIGNMENT) * ALIGNMENT;

/** Tensor infos: name, dims, type and the offset of the data relative to the (aligned) data section. */
function writeTensorInfos(writer: GgufWriter, tensors: Tensor[]): void {
  let offset = 0;
  for (const tensor of tensors) {
    writer.string(tensor.name);
    writer.uint32(tensor.ne.length);
    for (const dim of tensor.ne) writer.uint64(dim);
    writer.uint32(tensor.q8 ? GGML_TYPE_Q8_0 : GGML_TYPE_F32);
    writer.uint64(offset);
    offset = alignUp(offset + tensorBytes(tensor));
  }
}

function writeTensorData(writer: GgufWriter, tensors: Tensor[]): void {
  writer.pad(ALIGNMENT);
  for (const tensor of tensors) {
    if (tensor.q8) {
      writer.bytes(quantizeQ8_0(tensor.data));
      writer.pad(ALIGNMENT);
      continue;
    }
    const buffer = Buffer.alloc(tensor.data.byteLength);
    // Explicit little-endian writes rather than reinterpreting the Float32Array (host byte order).
    tensor.data.forEach((value, i) => buffer.writeFloatLE(value, i * 4));
    writer.bytes(buffer);
    writer.pad(ALIGNMENT);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------------------

/** Builds the GGUF file in memory. Pure: the same options always give byte-identical output. */
export function generateTinyGguf(options: TinyGgufOptions = {}): Buffer {
  const { seed = 1, name = "tiny-llama", crashesOnDecode = false, reranker = false } = options;
  const shape = { ...TINY_SHAPE, ...options.shape };
  const vocab = buildVocab(options.vocabularySize);
  const metadata = buildMetadata(name, vocab, shape, reranker);
  const tensors = buildTensors(vocab, mulberry32(seed), crashesOnDecode, shape, reranker);

  const writer = new GgufWriter();
  writer.bytes(Buffer.from("GGUF", "ascii"));
  writer.uint32(3); // GGUF version
  writer.uint64(tensors.length);
  writer.uint64(metadata.length);
  writeMetadata(writer, metadata);
  writeTensorInfos(writer, tensors);
  writeTensorData(writer, tensors);
  return writer.toBuffer();
}

/** Generates the model and writes it to `filePath`, returning what a test may want to log or compare. */
export async function writeTinyGguf(
  filePath: string,
  options?: TinyGgufOptions,
): Promise<{ path: string; size: number; sha256: string }> {
  const buffer = generateTinyGguf(options);
  await writeFile(filePath, buffer);
  return { path: filePath, size: buffer.length, sha256: createHash("sha256").update(buffer).digest("hex") };
}

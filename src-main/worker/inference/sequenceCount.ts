export interface SequenceCountOptions {
  /** Most sequences wanted (requests run at once). */
  max: number;
  /** Memory the model's context may take, in bytes (free memory, less a margin). */
  budgetBytes: number;
  /** Bytes a context with this many sequences needs (node-llama-cpp's estimate). */
  bytesFor: (sequences: number) => Promise<number>;
}

/**
 * How many parallel sequences a model's context gets: as many as fit the memory budget, up to `max`,
 * at least one (a model that does not fit even once fails at load time with the library's own error).
 */
export async function chooseSequenceCount(options: SequenceCountOptions): Promise<number> {
  let low = 1;
  let high = Math.max(1, options.max);
  if ((await options.bytesFor(high)) <= options.budgetBytes) return high;
  // Memory grows with sequences: the largest count that fits, by bisection (a few estimates).
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if ((await options.bytesFor(middle)) <= options.budgetBytes) low = middle;
    else high = middle - 1;
  }
  return low;
}

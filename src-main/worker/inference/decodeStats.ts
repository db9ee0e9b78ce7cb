import type { BatchingOptions, CustomBatchingPrioritizationStrategy } from "node-llama-cpp";

/** How full a context's decode batches are: parallel requests only add throughput when they share them. */
export interface DecodeStats {
  /** Decode batches since the context was created. */
  batches: number;
  /** Sequences (requests) those batches held, summed: `sequences / batches` is the mean per batch. */
  sequences: number;
}

/**
 * node-llama-cpp's own "maximumParallelism" strategy, which it does not export: read from its files.
 * Undefined should a new version move it; the context then batches as before, uncounted.
 */
const builtInStrategy: Promise<CustomBatchingPrioritizationStrategy | undefined> = (async () => {
  try {
    const index = import.meta.resolve("node-llama-cpp");
    const file = new URL(
      "./evaluator/LlamaContext/utils/batchItemsPrioritizationStrategies/maximumParallelismStrategy.js",
      index,
    );
    const module = (await import(file.href)) as { maximumParallelismStrategy?: unknown };
    return typeof module.maximumParallelismStrategy === "function"
      ? (module.maximumParallelismStrategy as CustomBatchingPrioritizationStrategy)
      : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * Batching options for a context that batch as node-llama-cpp does by default and count each batch
 * (the strategy is asked once per batch, with the sequences waiting to decode), into `stats`.
 */
export async function countedBatching(stats: DecodeStats): Promise<BatchingOptions> {
  const strategy = await builtInStrategy;
  if (!strategy) return {};
  return {
    itemPrioritizationStrategy: (options) => {
      stats.batches++;
      stats.sequences += options.items.length;
      return strategy(options);
    },
  };
}

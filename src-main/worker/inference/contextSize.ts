const GiB = 1024 ** 3;

/**
 * The context size a model gets when nobody set one: what the memory of the device it runs on can
 * usually afford, as Ollama sizes its default (4K under 24 GiB, 32K under 48 GiB, more above), and
 * never more than the model was trained on. A context that still does not fit is shrunk at load.
 */
export function defaultContextSize(deviceMemoryBytes: number, trainContextSize: number): number {
  const affordable = deviceMemoryBytes < 24 * GiB ? 4096 : deviceMemoryBytes < 48 * GiB ? 32_768 : 131_072;
  return Math.min(affordable, trainContextSize);
}

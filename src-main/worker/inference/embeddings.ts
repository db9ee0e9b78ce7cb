import { AppError } from "../../shared/errors";
import type { EmbeddingJob, EmbeddingResult } from "./jobs";
import type { LoadedModel } from "./loadedModel";

/** Unit length, as OpenAI's embeddings are: cosine similarity is then a dot product. */
export function normalize(vector: readonly number[]): number[] {
  const length = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
  return length > 0 ? vector.map((value) => value / length) : [...vector];
}

/** One vector per input, in order; inputs are evaluated one at a time on the model's embedding context. */
export async function runEmbeddings(
  loaded: LoadedModel,
  job: EmbeddingJob,
  signal: AbortSignal,
): Promise<EmbeddingResult> {
  const size = loaded.model.embeddingVectorSize;
  if (job.dimensions !== undefined && job.dimensions !== size) {
    // Cutting a vector short keeps its meaning only for models trained to allow it (Matryoshka
    // embeddings), which a GGUF does not say: the model's own size, or none.
    throw new AppError(
      "request.invalid",
      `dimensions: this model's embeddings have ${size} dimensions: send ${size}, or leave dimensions out.`,
      { param: "dimensions" },
    );
  }
  const context = await loaded.embeddingContext();
  const vectors: number[][] = [];
  let promptTokens = 0;
  for (const [index, input] of job.inputs.entries()) {
    signal.throwIfAborted();
    // By its length first: the tokenizer would hold the node's thread for seconds on megabytes.
    const least = loaded.leastTokensIn(input);
    const byLength = least >= loaded.contextSize;
    const tokens = byLength ? least : context.calculateInputLength(input);
    // node-llama-cpp refuses an input that does not fit with a plain Error; say which one, as a 400.
    if (tokens >= loaded.contextSize) {
      throw new AppError(
        "inference.context_length_exceeded",
        `This model's maximum context length is ${loaded.contextSize - 1} tokens per input; input[${index}] is ${byLength ? "at least " : ""}${tokens} tokens.`,
        { param: `input[${index}]` },
      );
    }
    promptTokens += tokens;
    const embedding = await context.getEmbeddingFor(input);
    vectors.push(normalize(embedding.vector));
  }
  return { vectors, promptTokens };
}

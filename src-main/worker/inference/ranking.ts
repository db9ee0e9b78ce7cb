import { AppError } from "../../shared/errors";
import type { RerankJob, RerankResult } from "./jobs";
import type { LoadedModel } from "./loadedModel";

/**
 * Each document's relevance to the query, on the model's ranking context. A model without a
 * classification head cannot rank: a 400 that says so, rather than scores that mean nothing.
 */
export async function runRerank(
  loaded: LoadedModel,
  job: RerankJob,
  signal: AbortSignal,
): Promise<RerankResult> {
  if (!loaded.model.fileInsights.supportsRanking) {
    throw new AppError(
      "request.invalid",
      `${job.model.id} is not a reranking model: it has no classification head (a reranker GGUF, such as a Qwen3-Reranker or bge-reranker conversion, has one).`,
      { param: "model" },
    );
  }
  const context = await loaded.rankingContext();
  let promptTokens = 0;
  for (const [index, document] of job.documents.entries()) {
    // By its length first: the tokenizer would hold the node's thread for seconds on megabytes.
    const least = loaded.leastTokensIn(job.query) + loaded.leastTokensIn(document);
    const byLength = least >= context.contextSize;
    // As node-llama-cpp will evaluate it: the model's rerank template (Qwen3-Reranker's), or its markers.
    const tokens = byLength ? least : context.calculateInputLength(job.query, document);
    if (tokens >= context.contextSize) {
      throw new AppError(
        "inference.context_length_exceeded",
        `This model's maximum context length is ${context.contextSize - 1} tokens per document with the query; documents[${index}] with the query is ${byLength ? "at least " : ""}${tokens} tokens.`,
        { param: `documents[${index}]` },
      );
    }
    promptTokens += tokens;
  }
  // One document at a time, as node-llama-cpp's rankAll evaluates them anyway (one sequence, under
  // its lock): a client that leaves stops the ranking at the next document, not after the last.
  const scores: number[] = [];
  for (const document of job.documents) {
    signal.throwIfAborted();
    scores.push(await context.rank(job.query, document));
  }
  return { scores, promptTokens };
}

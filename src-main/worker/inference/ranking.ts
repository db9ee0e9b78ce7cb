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
  const query = loaded.model.tokenize(job.query);
  // The query and the document between the model's own markers, as node-llama-cpp joins them.
  const { bos, eos, sep } = loaded.model.tokens;
  const markers = (bos != null ? 1 : 0) + (eos != null ? 2 : 0) + (sep != null ? 1 : 0);
  let promptTokens = 0;
  for (const [index, document] of job.documents.entries()) {
    const tokens = query.length + loaded.model.tokenize(document).length + markers;
    if (tokens >= context.contextSize) {
      throw new AppError(
        "inference.context_length_exceeded",
        `documents[${index}] with the query is ${tokens} tokens; this model ranks at most ${context.contextSize - 1}.`,
        { param: `documents[${index}]` },
      );
    }
    promptTokens += tokens;
  }
  signal.throwIfAborted();
  const scores = await context.rankAll(job.query, job.documents);
  return { scores, promptTokens };
}

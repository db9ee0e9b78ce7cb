import { z } from "zod";
import { requestTtlSchema } from "./openai";

/*
 * `POST /v1/rerank` (also `/v1/reranking`): documents ordered by their relevance to a query, by a
 * reranking model (one with a classification head, as Qwen3-Reranker and bge-reranker GGUFs have).
 * The request and answer are those llama-server, Jina and Cohere's clients use.
 */

export const rerankRequestSchema = z.object({
  model: z.string().min(1),
  query: z.string({ error: "must be a string" }),
  documents: z
    .array(
      z.union([z.string(), z.object({ text: z.string() })], {
        error: 'each document must be a string or {"text": "..."}',
      }),
      { error: "must be an array of documents" },
    )
    .min(1)
    .max(1000),
  /** Only the most relevant this many; default: all. */
  top_n: z.number().int().positive().nullish(),
  /** Each result carries its document's text. Default: false. */
  return_documents: z.boolean().nullish(),
  ttl: requestTtlSchema.nullish(),
});
export type RerankRequest = z.infer<typeof rerankRequestSchema>;

export const rerankResponseSchema = z.object({
  id: z.string(),
  object: z.literal("list"),
  model: z.string(),
  /** Most relevant first. */
  results: z.array(
    z.object({
      /** The document's place in the request. */
      index: z.number().int().nonnegative(),
      /** 0 to 1: the model's probability that the document answers the query. */
      relevance_score: z.number().min(0).max(1),
      document: z.object({ text: z.string() }).optional(),
    }),
  ),
  usage: z.object({
    prompt_tokens: z.number().int().nonnegative(),
    total_tokens: z.number().int().nonnegative(),
  }),
});
export type RerankResponse = z.infer<typeof rerankResponseSchema>;

import { describe, expect, it } from "vitest";
import type { RerankJob } from "../../src-main/worker/inference/jobs";
import type { LoadedModel } from "../../src-main/worker/inference/loadedModel";
import { runRerank } from "../../src-main/worker/inference/ranking";

// The ranking loop against a stand-in ranking context: what it asks of node-llama-cpp, and when it stops.
function reranker(onRank: (document: string) => number): LoadedModel {
  const context = {
    contextSize: 512,
    calculateInputLength: (query: string, document: string) => query.length + document.length,
    rank: async (_query: string, document: string) => onRank(document),
  };
  return {
    model: { fileInsights: { supportsRanking: true } },
    rankingContext: async () => context,
    // No token is longer than 4 characters.
    leastTokensIn: (text: string) => Math.floor(text.length / 4),
  } as unknown as LoadedModel;
}

const job = (documents: string[]) =>
  ({ model: { id: "acme/reranker" }, query: "q", documents }) as unknown as RerankJob;

describe("ranking", () => {
  it("scores every document in order, counting the query with each", async () => {
    const result = await runRerank(
      reranker((document) => document.length / 10),
      job(["a", "bbb", "cc"]),
      new AbortController().signal,
    );
    expect(result).toEqual({ scores: [0.1, 0.3, 0.2], promptTokens: 2 + 4 + 3 });
  });

  it("stops at the next document once its client has left, instead of ranking the rest", async () => {
    const client = new AbortController();
    const ranked: string[] = [];
    const documents = Array.from({ length: 100 }, (_, i) => `document ${i}`);
    const ranking = runRerank(
      reranker((document) => {
        ranked.push(document);
        if (ranked.length === 3) client.abort(new Error("the client left"));
        return 0.5;
      }),
      job(documents),
      client.signal,
    );
    await expect(ranking).rejects.toThrow("the client left");
    expect(ranked).toEqual(documents.slice(0, 3));
  });
});

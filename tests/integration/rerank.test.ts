import path from "node:path";
import fs from "node:fs";
import { getLlama, LlamaLogLevel, type LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rerankResponseSchema } from "../../src-main/contract";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { registerAndWaitReady } from "../helpers/cliProcess";
import { workerPids } from "../helpers/processes";
import { serveTinyModel, tinyModel, type TinyModelServe } from "../helpers/tinyModelServe";

// Rerank through `llmlb serve` (balancer, one CPU worker) on a tiny reranker of Qwen3-Reranker's
// make: the qwen3 architecture, rank pooling and a yes/no classification head, random weights.
const reranker = "acme/tiny-reranker-GGUF";
const query = "Which lights guide ships at night?";
const documents = [
  "A lighthouse guides ships along the coast.",
  "Bananas are yellow.",
  "Harbour lights at dusk.",
  "The tax office opens at nine.",
  "Beacons and lamps on cliffs.",
];
let server: TinyModelServe;
let model: LlamaModel;

async function rerank(body: object, route = "/v1/rerank") {
  const response = await fetch(`${server.serve.url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

beforeAll(async () => {
  server = await serveTinyModel({
    workers: 1,
    repos: [
      {
        id: reranker,
        files: [{ path: "reranker-F32.gguf", content: generateTinyGguf({ seed: 5, reranker: true }) }],
      },
    ],
  });
  await registerAndWaitReady(server.serve.url, server.dataDir, reranker);
  // The reference: node-llama-cpp itself, in this process, on the file the worker downloaded.
  const snapshots = path.join(server.env.HF_HUB_CACHE!, "models--acme--tiny-reranker-GGUF", "snapshots");
  const file = path.join(snapshots, fs.readdirSync(snapshots)[0]!, "reranker-F32.gguf");
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  model = await llama.loadModel({ modelPath: file });
}, 90_000);
afterAll(async () => {
  await model?.dispose();
  await server?.close();
});

describe("POST /v1/rerank", () => {
  it("orders every document by the score node-llama-cpp gives it, most relevant first", async () => {
    const context = await model.createRankingContext({ threads: 1 });
    const expected = await context.rankAll(query, documents);
    await context.dispose();

    const { status, body } = await rerank({ model: reranker, query, documents });
    expect(status).toBe(200);
    const answer = rerankResponseSchema.parse(body);
    expect(answer.model).toBe(reranker);
    expect(answer.results.map((result) => result.index).sort()).toEqual([0, 1, 2, 3, 4]);
    for (const result of answer.results)
      expect(result.relevance_score).toBeCloseTo(expected[result.index]!, 5);
    const scores = answer.results.map((result) => result.relevance_score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // Random weights still tell these documents apart: an order, not a tie.
    expect(new Set(scores).size).toBe(documents.length);
    expect(answer.results[0]!.document).toBeUndefined();
    expect(answer.usage.prompt_tokens).toBeGreaterThan(documents.join(" ").length / 4);
  });

  it("keeps the top_n most relevant with their text, and answers the same under /v1/reranking", async () => {
    const all = rerankResponseSchema.parse((await rerank({ model: reranker, query, documents })).body);
    const { status, body } = await rerank(
      {
        model: reranker,
        query,
        documents: documents.map((text) => ({ text })),
        top_n: 2,
        return_documents: true,
      },
      "/v1/reranking",
    );
    expect(status).toBe(200);
    const top = rerankResponseSchema.parse(body);
    expect(top.results).toEqual(
      all.results.slice(0, 2).map((result) => ({ ...result, document: { text: documents[result.index]! } })),
    );
  });

  it("refuses a chat model, which has no classification head to rank with", async () => {
    const { status, body } = await rerank({ model: tinyModel, query, documents });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ param: "model", type: "invalid_request_error" });
    expect(body.error.message).toMatch(/not a reranking model/);
  });

  it("refuses no documents, or a document of the wrong kind, naming the field", async () => {
    const none = await rerank({ model: reranker, query, documents: [] });
    expect(none.status).toBe(400);
    expect(none.body.error.param).toBe("documents");
    const wrong = await rerank({ model: reranker, query, documents: ["fine", 42] });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatchObject({
      param: "documents[1]",
      message: 'documents[1]: each document must be a string or {"text": "..."}',
    });
  });

  it("counts the model's rerank template when it checks that a document fits (a 400, never a failed node)", async () => {
    const context = await model.createRankingContext({ threads: 1 });
    // The longest document that would fit with the query and markers alone, but not in the template.
    const bare = (doc: string) => model.tokenize(query).length + model.tokenize(doc).length + 4;
    let document = "lighthouse";
    while (bare(`${document} lighthouse`) < context.contextSize) document += " lighthouse";
    const templated = context.calculateInputLength(query, document);
    await context.dispose();
    expect(templated).toBeGreaterThanOrEqual(512);

    const { status, body } = await rerank({ model: reranker, query, documents: ["short", document] });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: "context_length_exceeded", param: "documents[1]" });
    expect(body.error.message).toBe(
      `This model's maximum context length is 511 tokens per document with the query; documents[1] with the query is ${templated} tokens.`,
    );
  });

  it("says which document does not fit the model's context with the query", async () => {
    const { status, body } = await rerank({
      model: reranker,
      query,
      documents: ["short", "lighthouse ".repeat(400)],
    });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: "context_length_exceeded", param: "documents[1]" });
  });

  it("refuses a document of 40 MB by its length, without holding the worker's thread to tokenize it", async () => {
    const before = workerPids(server.serve.child.pid!);
    const { status, body } = await rerank({
      model: reranker,
      query,
      documents: ["short", "lighthouse ".repeat((40 * 1024 * 1024) / 11)],
    });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: "context_length_exceeded", param: "documents[1]" });
    expect(body.error.message).toMatch(
      /^This model's maximum context length is 511 tokens per document with the query; documents\[1\] with the query is at least \d+ tokens\./,
    );
    expect(workerPids(server.serve.child.pid!)).toEqual(before);
  }, 60_000);
});

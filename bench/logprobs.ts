import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { makeTempDir } from "../tests/helpers/tempDir";
import { writeTinyGguf } from "../tests/fixtures/tinyGguf";
import { createInferenceEngine } from "../src-main/worker/inference";
import { chatJobFrom } from "../src-main/worker/inference/requestMapping";

/*
 * What log probabilities cost: the same greedy chat answer generated with and without `logprobs`
 * (5 alternatives a token), side by side in one run, on the tiny model padded to the vocabulary
 * sizes of real models. Every scored place brings the whole vocabulary's probabilities back from
 * llama.cpp, so the cost grows with the vocabulary rather than with the model's size.
 */

const MAX_TOKENS = 64;
const ROUNDS = 5;
/** The tiny model's own; Llama 2's and Mistral's; Llama 3's; Qwen's. */
const VOCABULARIES = [356, 32_000, 128_256, 151_936];

export async function benchLogprobs(): Promise<void> {
  const temp = await makeTempDir("llmlb-bench-logprobs-");
  const threads = Math.max(1, Math.min(4, os.availableParallelism()));
  const engine = createInferenceEngine({
    log: pino({ level: "silent" }),
    backend: "cpu",
    threads,
    sequences: 1,
    maxLoadedModels: 1,
  });
  try {
    console.log(`logprobs benchmark (${new Date().toISOString()})`);
    console.log(
      `  tiny GGUF padded to each vocabulary, one chat answer of ${MAX_TOKENS} tokens, temperature 0, ` +
        `${threads} thread(s); best of ${ROUNDS} each, alternating`,
    );
    for (const vocabularySize of VOCABULARIES) {
      const file = path.join(temp.path, `tiny-${vocabularySize}.gguf`);
      await writeTinyGguf(file, { seed: 1, vocabularySize });
      const target = { id: `tiny-${vocabularySize}`, path: file };
      const request = {
        model: target.id,
        messages: [{ role: "user" as const, content: "Hello" }],
        max_tokens: MAX_TOKENS,
        temperature: 0,
      };
      const plain = chatJobFrom(request, target);
      const scored = chatJobFrom({ ...request, logprobs: true, top_logprobs: 5 }, target);
      const answer = async (job: typeof plain) => {
        const started = performance.now();
        const result = await engine.chat(job, { signal: new AbortController().signal });
        if (result.completionTokens !== MAX_TOKENS) throw new Error("the answer ended early");
        return performance.now() - started;
      };
      await answer(plain); // loads the model
      const times = { plain: [] as number[], scored: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        times.plain.push(await answer(plain));
        times.scored.push(await answer(scored));
      }
      const best = (list: number[]) => Math.min(...list);
      const extra = best(times.scored) - best(times.plain);
      console.log(
        `  vocabulary ${String(vocabularySize).padStart(7)}: without ${best(times.plain).toFixed(0).padStart(5)} ms, ` +
          `with logprobs ${best(times.scored).toFixed(0).padStart(5)} ms ` +
          `(${(best(times.scored) / best(times.plain)).toFixed(2)}x; ${(extra / MAX_TOKENS).toFixed(2)} ms a token)`,
      );
      await engine.unloadModel(target.id);
    }
  } finally {
    await engine.dispose();
    await temp.remove();
  }
}

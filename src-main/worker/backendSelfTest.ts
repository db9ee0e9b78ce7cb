import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Llama } from "node-llama-cpp";
import { generateTinyGguf } from "./tinyGguf";

/** Tokens to decode: the first decode is where a GPU's kernels are compiled and run. */
const TOKENS = 4;

/**
 * Runs a backend for real before a worker is planned on it: loads a tiny model it generates with
 * every layer on the GPU and decodes a few tokens. Finding the device is not enough: a build whose
 * kernels this GPU or driver cannot run loads, lists the device, and aborts at the first decode.
 * Throws with llama.cpp's error when the backend fails; a backend that aborts takes the process
 * with it (the probe's supervisor tells that apart).
 */
export async function selfTestBackend(llama: Llama): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "llmlb-self-test-"));
  try {
    const modelPath = path.join(dir, "self-test.gguf");
    await fs.writeFile(modelPath, generateTinyGguf({ name: "llmlb-self-test" }));
    const model = await llama.loadModel({ modelPath, gpuLayers: "max" });
    try {
      const context = await model.createContext({ contextSize: 128, sequences: 1 });
      const sequence = context.getSequence();
      let decoded = 0;
      for await (const token of sequence.evaluate(model.tokenize("The lighthouse"), { temperature: 0 })) {
        if (typeof token !== "number" || ++decoded >= TOKENS) break;
      }
      if (decoded < TOKENS) throw new Error(`it decoded ${decoded} of ${TOKENS} tokens`);
    } finally {
      // Disposing the model disposes its context.
      await model.dispose();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { getLlama, LlamaChatSession, LlamaLogLevel, readGgufFileInfo } from "node-llama-cpp";
import type { Llama, LlamaContext, LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateTinyGguf, writeTinyGguf } from "../fixtures/tinyGguf";

describe("generateTinyGguf", () => {
  it("is deterministic per seed", () => {
    expect(generateTinyGguf({ seed: 7 }).equals(generateTinyGguf({ seed: 7 }))).toBe(true);
    expect(generateTinyGguf().equals(generateTinyGguf({ seed: 1 }))).toBe(true);
  });

  it("gives different weights for different seeds", () => {
    expect(generateTinyGguf({ seed: 1 }).equals(generateTinyGguf({ seed: 2 }))).toBe(false);
  });

  it("is small but not trivially small", () => {
    const size = generateTinyGguf().length;
    expect(size).toBeGreaterThan(200 * 1024);
    expect(size).toBeLessThan(2 * 1024 * 1024);
  });
});

describe("tiny GGUF in node-llama-cpp", () => {
  let dir: string;
  let modelPath: string;
  let llama: Llama | undefined;
  let model: LlamaModel | undefined;
  let context: LlamaContext | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "llmlb-tiny-gguf-"));
    modelPath = path.join(dir, "tiny.gguf");
    await writeTinyGguf(modelPath, { name: "tiny-test" });
    llama = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });
    model = await llama.loadModel({ modelPath });
    // Explicit: the default thread count collapses throughput on a 2-core machine (~1400 -> ~4 tokens/s).
    context = await model.createContext({ threads: 1 });
  });

  afterAll(async () => {
    await context?.dispose();
    await model?.dispose();
    await llama?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reports what writeTinyGguf wrote", async () => {
    const written = await writeTinyGguf(path.join(dir, "again.gguf"), { name: "tiny-test" });
    const bytes = await readFile(written.path);
    expect(bytes.equals(generateTinyGguf({ name: "tiny-test" }))).toBe(true);
    expect(written.size).toBe(bytes.length);
    expect(written.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
  });

  it("has metadata readable by readGgufFileInfo", async () => {
    const info = await readGgufFileInfo(modelPath);
    expect(info.version).toBe(3);
    expect(info.metadata.general.architecture).toBe("llama");
    expect(info.metadata.general.name).toBe("tiny-test");
    expect(info.metadata.tokenizer.chat_template).toContain("<|im_start|>");
  });

  it("generates with a chat session", async () => {
    const session = new LlamaChatSession({ contextSequence: context!.getSequence() });
    let generated = 0;
    const text = await session.prompt("Hello there", {
      maxTokens: 16,
      onToken: (tokens) => {
        generated += tokens.length;
      },
    });
    expect(typeof text).toBe("string");
    // The fixture keeps EOS out of reach of greedy decoding, so generation runs to maxTokens.
    expect(generated).toBe(16);
    session.dispose({ disposeSequence: true });
  });

  it("round-trips text through the tokenizer", () => {
    const tokens = model!.tokenize("Hello, world!");
    expect(tokens.length).toBeGreaterThan(0);
    expect(model!.detokenize(tokens)).toBe("Hello, world!");
  });
});

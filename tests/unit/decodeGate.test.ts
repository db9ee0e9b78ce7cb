import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  getLlama,
  LlamaChat,
  LlamaLogLevel,
  resolveChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaModel,
} from "node-llama-cpp";
import { gatherDecodes } from "../../src-main/worker/inference/decodeGate";
import { countedBatching, type DecodeStats } from "../../src-main/worker/inference/decodeStats";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { makeTempDir } from "../helpers/tempDir";

/** A stand-in for node-llama-cpp's context: records each decode let in and answers when told. */
function fakeContext() {
  const started: { tokens: number; answer(value: string): void; fail(error: Error): void }[] = [];
  const context = {
    _decodeTokens(request: { tokens: number[] }) {
      return new Promise<string>((resolve, reject) => {
        started.push({ tokens: request.tokens.length, answer: resolve, fail: reject });
      });
    },
  };
  const decodeOf = (tokens: number) =>
    (context as unknown as { _decodeTokens(request: { tokens: number[] }): Promise<string> })._decodeTokens({
      tokens: Array.from({ length: tokens }, () => 1),
    });
  return { context: context as unknown as LlamaContext, started, decodeOf };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
/** Two turns of the event loop with nothing asked: the gate then lets in a partial batch. */
const quiet = async () => {
  await turn();
  await turn();
};

describe("decode gathering (rules)", () => {
  it("lets a lone request's decode in at once", () => {
    const { context, started, decodeOf } = fakeContext();
    gatherDecodes(context, () => 1);
    void decodeOf(1);
    expect(started).toHaveLength(1);
  });

  it("holds steps until every busy sequence has asked, then lets them in together", () => {
    const { context, started, decodeOf } = fakeContext();
    gatherDecodes(context, () => 3);
    void decodeOf(1);
    void decodeOf(1);
    expect(started).toHaveLength(0);
    void decodeOf(1);
    expect(started).toHaveLength(3);
  });

  it("holds a step that asks while others are in the running batch until they come back and ask again", async () => {
    const { context, started, decodeOf } = fakeContext();
    gatherDecodes(context, () => 3);
    const first = [decodeOf(1), decodeOf(1)];
    await quiet();
    expect(started).toHaveLength(2);
    void decodeOf(1);
    await quiet();
    expect(started).toHaveLength(2);
    started[0]!.answer("a");
    started[1]!.answer("b");
    expect(await Promise.all(first)).toEqual(["a", "b"]);
    void decodeOf(1);
    void decodeOf(1);
    await turn();
    expect(started).toHaveLength(5);
  });

  it("lets in what it holds once the event loop goes quiet and the other busy sequences have not asked", async () => {
    const { context, started, decodeOf } = fakeContext();
    gatherDecodes(context, () => 4);
    void decodeOf(1);
    expect(started).toHaveLength(0);
    await quiet();
    expect(started).toHaveLength(1);
  });

  it("does not hold steps behind a sequence reading a long prompt", async () => {
    const { context, started, decodeOf } = fakeContext();
    gatherDecodes(context, () => 2);
    void decodeOf(300);
    await quiet();
    expect(started.map((decode) => decode.tokens)).toEqual([300]);
    void decodeOf(1);
    expect(started.map((decode) => decode.tokens)).toEqual([300, 1]);
  });

  it("passes a decode's failure to its sequence", async () => {
    const { context, started, decodeOf } = fakeContext();
    gatherDecodes(context, () => 1);
    const decoding = decodeOf(1);
    started[0]!.fail(new Error("the context was disposed"));
    await expect(decoding).rejects.toThrow("the context was disposed");
  });
});

describe("decode gathering (node-llama-cpp)", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let llama: Llama;
  let model: LlamaModel;

  beforeAll(async () => {
    temp = await makeTempDir("llmlb-decode-gate-");
    const modelPath = path.join(temp.path, "tiny.gguf");
    fs.writeFileSync(modelPath, generateTinyGguf({ seed: 1 }));
    llama = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });
    model = await llama.loadModel({ modelPath });
  });

  afterAll(async () => {
    await model?.dispose();
    await llama?.dispose();
    await temp?.remove();
  });

  it("puts four answers started one after another into the same batches", async () => {
    const sequences = 4;
    const decode: DecodeStats = { batches: 0, sequences: 0 };
    const context = await model.createContext({
      threads: 1,
      sequences,
      contextSize: { max: 2048 },
      batching: await countedBatching(decode),
    });
    let busy = 0;
    gatherDecodes(context, () => busy);
    // Each answer starts when the one before has written its first text: they join mid-answer, as
    // requests from different users do.
    let allGenerating: DecodeStats | undefined;
    let firstFinished: DecodeStats | undefined;
    const answer = async (index: number, started: () => void) => {
      const sequence = context.getSequence();
      busy++;
      const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: resolveChatWrapper(model) });
      let first = true;
      await chat.generateResponse(
        [
          { type: "user", text: `Story number ${index}, please.` },
          { type: "model", response: [] },
        ],
        {
          maxTokens: 200,
          temperature: 0,
          onTextChunk: () => {
            if (!first) return;
            first = false;
            started();
          },
        },
      );
      firstFinished ??= { ...decode };
      busy--;
      chat.dispose();
    };
    const answers: Promise<void>[] = [];
    await new Promise<void>((allStarted) => {
      const startFrom = (index: number) => {
        answers.push(
          answer(index, () => {
            if (index + 1 < sequences) return startFrom(index + 1);
            allGenerating = { ...decode };
            allStarted();
          }),
        );
      };
      startFrom(0);
    });
    await Promise.all(answers);
    await context.dispose();

    const batches = firstFinished!.batches - allGenerating!.batches;
    const held = firstFinished!.sequences - allGenerating!.sequences;
    expect(batches).toBeGreaterThan(50);
    expect(held / batches).toBeGreaterThan(3.5);
  });
});

import { describe, expect, it } from "vitest";
import { chatLogprobsOf, completionLogprobsOf } from "../../src-main/worker/inference/responses";
import { spelledBytes } from "../../src-main/worker/inference/tokenBytes";
import { answerStart, noChance } from "../../src-main/worker/inference/tokenLogprobs";

const normal = 1;
const control = 3;
const byte = 6;
const bytesOf = (text: string) => [...Buffer.from(text, "utf8")];

describe("a token's bytes from its spelling", () => {
  it("reads SentencePiece's spaces and byte tokens", () => {
    expect(spelledBytes("llama", "\u2581Hello", normal)).toEqual(bytesOf(" Hello"));
    expect(spelledBytes("llama", "<0xE3>", byte)).toEqual([0xe3]);
    // Only a byte token is read as a byte: a normal one spelled alike is its text.
    expect(spelledBytes("llama", "<0xE3>", normal)).toEqual(bytesOf("<0xE3>"));
    expect(spelledBytes("llama", "<|im_end|>", control)).toEqual(bytesOf("<|im_end|>"));
  });

  it("reads GPT-2's byte alphabet, where a space is Ġ and a newline Ċ", () => {
    expect(spelledBytes("gpt2", "ĠHello", normal)).toEqual(bytesOf(" Hello"));
    expect(spelledBytes("gpt2", "Ċ", normal)).toEqual([0x0a]);
    // "é" as its two UTF-8 bytes, each spelled as one character.
    expect(spelledBytes("gpt2", "Ã©", normal)).toEqual([0xc3, 0xa9]);
    expect(spelledBytes("gpt2", "<|endoftext|>", control)).toEqual(bytesOf("<|endoftext|>"));
    // A token added as plain text, outside the alphabet.
    expect(spelledBytes("gpt2", "日本", normal)).toEqual(bytesOf("日本"));
  });
});

describe("where an answer begins in its sequence", () => {
  it("finds the latest place, its last token evaluated or not", () => {
    expect(answerStart([1, 5, 6, 7, 8], [7, 8])).toBe(3);
    expect(answerStart([1, 5, 6, 7], [7, 8])).toBe(3);
    // Repeated in the prompt: the answer is the latest.
    expect(answerStart([1, 7, 8, 5, 7, 8], [7, 8])).toBe(4);
    expect(answerStart([1, 5, 6], [])).toBe(3);
    expect(answerStart([1, 5, 6], [9, 9])).toBeUndefined();
  });
});

describe("log probabilities in OpenAI's shapes", () => {
  const euro = bytesOf("€");
  const scored = [
    { bytes: bytesOf("Hi"), logprob: null, top: [] },
    // "€" in two tokens: the first half's text is U+FFFD, its bytes say which.
    {
      bytes: euro.slice(0, 2),
      logprob: -0.5,
      top: [
        { bytes: bytesOf("a"), logprob: -0.2 },
        { bytes: euro.slice(0, 2), logprob: -0.5 },
      ],
    },
    { bytes: euro.slice(2), logprob: -1, top: [{ bytes: bytesOf("b"), logprob: -0.1 }] },
  ];

  it("chat's: text, bytes and alternatives; a first token without a score reads as no chance", () => {
    const chat = chatLogprobsOf(scored)!;
    expect(chat.refusal).toBeNull();
    expect(chat.content![0]).toEqual({
      token: "Hi",
      logprob: noChance,
      bytes: bytesOf("Hi"),
      top_logprobs: [],
    });
    expect(chat.content![1]!.token).toBe("\ufffd");
    expect(Buffer.from(chat.content!.slice(1).flatMap((token) => token.bytes!)).toString()).toBe("€");
    expect(chat.content![1]!.top_logprobs.map((top) => top.logprob)).toEqual([-0.2, -0.5]);
    expect(chatLogprobsOf(undefined)).toBeNull();
  });

  it("the completions': lists by token, with the chosen token among its place's likeliest", () => {
    const legacy = completionLogprobsOf(scored)!;
    expect(legacy.tokens).toEqual(["Hi", "\ufffd", "\ufffd"]);
    expect(legacy.token_logprobs).toEqual([null, -0.5, -1]);
    expect(legacy.top_logprobs).toEqual([null, { a: -0.2, "\ufffd": -0.5 }, { b: -0.1, "\ufffd": -1 }]);
    expect(legacy.text_offset).toEqual([0, 2, 3]);
  });
});

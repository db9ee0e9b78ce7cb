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
  it("is the first place after the prompt where it fits, its last token evaluated or not", () => {
    // The prompt is [1, 5, 6]: three tokens.
    expect(answerStart([1, 5, 6, 7, 8], [7, 8], 3)).toBe(3);
    expect(answerStart([1, 5, 6, 7], [7, 8], 3)).toBe(3);
    // One token, evaluated (an end token or a stop string came after it) or not.
    expect(answerStart([1, 5, 6, 7], [7], 3)).toBe(3);
    expect(answerStart([1, 5, 6, 7, 9], [7], 3)).toBe(3);
    expect(answerStart([1, 5, 6], [7], 3)).toBe(3);
    // One token repeated, then the tokens of a stop string.
    expect(answerStart([1, 5, 6, 7, 7, 7, 9], [7, 7, 7], 3)).toBe(3);
    // In the prompt too: not there, but after it.
    expect(answerStart([1, 7, 8, 7, 8], [7, 8], 3)).toBe(3);
    // After a reasoning segment the sequence holds.
    expect(answerStart([1, 5, 6, 2, 3, 4, 7, 8], [7, 8], 3)).toBe(6);
    // Tokenized anew before a stop string, so not there at all: the end of the prompt.
    expect(answerStart([1, 5, 6, 78, 9], [7], 3)).toBe(3);
    expect(answerStart([1, 5, 6], [], 3)).toBe(3);
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
    // The two halves of "€" both begin where it does.
    expect(legacy.text_offset).toEqual([0, 2, 2]);
  });
});

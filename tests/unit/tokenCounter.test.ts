import { describe, expect, it } from "vitest";
import { completionTokens, createTokenCounter } from "../../src-main/core/balancer/tokenCounter";

describe("completionTokens", () => {
  it("reads usage.completion_tokens from a JSON answer, however it is spaced", () => {
    const answer = {
      id: "x",
      choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 3, completion_tokens: 42, total_tokens: 45 },
    };
    expect(completionTokens(Buffer.from(JSON.stringify(answer)))).toBe(42);
    expect(completionTokens(Buffer.from(JSON.stringify(answer, null, 2)))).toBe(42);
  });

  it("is not fooled by the name inside a string, and is 0 without usage", () => {
    const answer = {
      choices: [{ message: { content: 'say "completion_tokens": 99' } }],
      usage: { completion_tokens: 7, completion_tokens_details: { reasoning_tokens: 1 } },
    };
    expect(completionTokens(Buffer.from(JSON.stringify(answer)))).toBe(7);
    expect(completionTokens(Buffer.from(JSON.stringify({ note: "completion_tokens" })))).toBe(0);
    expect(completionTokens(Buffer.from('{"data":[{"embedding":[0.1]}]}'))).toBe(0);
  });

  it("reads an Anthropic answer's usage.output_tokens", () => {
    const answer = { type: "message", content: [], usage: { input_tokens: 5, output_tokens: 9 } };
    expect(completionTokens(Buffer.from(JSON.stringify(answer)))).toBe(9);
  });
});

describe("createTokenCounter", () => {
  it("counts the events of a stream, several to a chunk", () => {
    const counter = createTokenCounter(true, 200);
    counter.add(Buffer.from('data: {"n":1}\n\n'));
    counter.add(Buffer.from('data: {"n":2}\n\ndata: {"n":3}\n\n'));
    expect(counter.count()).toBe(3);
  });

  it("counts a named event once (Anthropic's `event:` line, then its data)", () => {
    const counter = createTokenCounter(true, 200);
    counter.add(Buffer.from('event: content_block_delta\ndata: {"n":1}\n\n'));
    counter.add(Buffer.from('event: content_block_delta\ndata: {"n":2}\n\nevent: ping\ndata: {}\n\n'));
    expect(counter.count()).toBe(3);
  });

  it("reads a JSON answer split over chunks, and only a 200's", () => {
    const text = JSON.stringify({ usage: { completion_tokens: 12 } });
    const ok = createTokenCounter(false, 200);
    ok.add(Buffer.from(text.slice(0, 20)));
    ok.add(Buffer.from(text.slice(20)));
    expect(ok.count()).toBe(12);
    const refused = createTokenCounter(false, 400);
    refused.add(Buffer.from(text));
    expect(refused.count()).toBe(0);
  });

  it("takes a stream's tokens from the usage it carries, the last said (Anthropic's grows), and none where it carries none", () => {
    const openai = createTokenCounter(true, 200);
    openai.add(
      Buffer.from('data: {"choices":[{"delta":{"content":"\\"completion_tokens\\": 99"}}],"usage":null}\n\n'),
    );
    expect(openai.reported()).toBeUndefined();
    openai.add(
      Buffer.from(
        'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":24}}\n\ndata: [DONE]\n\n',
      ),
    );
    expect(openai.reported()).toBe(24);
    expect(openai.count()).toBe(3);

    const anthropic = createTokenCounter(true, 200);
    anthropic.add(Buffer.from('event: message_start\ndata: {"message":{"usage":{"output_tokens":1}}}\n\n'));
    anthropic.add(Buffer.from('event: message_delta\ndata: {"usage":{"output_tokens":7}}\n\n'));
    expect(anthropic.reported()).toBe(7);

    // A usage event split across chunks, as a proxy may cut it.
    const split = createTokenCounter(true, 200);
    const last = 'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":24}}\n\n';
    split.add(Buffer.from(last.slice(0, 52)));
    split.add(Buffer.from(last.slice(52, 60)));
    split.add(Buffer.from(last.slice(60)));
    split.add(Buffer.from("data: [DONE]\n\n"));
    expect(split.reported()).toBe(24);
  });
});

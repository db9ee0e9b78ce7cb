import { describe, expect, it } from "vitest";
import { readChatStream, StreamedError } from "../../src-main/shared/chatStream";

/** A body of these pieces, as the network splits them. */
function body(pieces: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encoder.encode(piece));
      controller.close();
    },
  });
}

const chunk = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: "c",
    object: "chat.completion.chunk",
    created: 1,
    model: "m",
    choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finish }],
  })}\n\n`;

async function read(pieces: string[]) {
  const text: string[] = [];
  const outcome = await readChatStream(body(pieces), (piece) => text.push(piece));
  return { text: text.join(""), outcome };
}

describe("the chat stream reader", () => {
  it("reads a stream split anywhere, up to [DONE], and says it was complete", async () => {
    const stream = chunk("Hel") + chunk("lo", "stop") + "data: [DONE]\n\n";
    const { text, outcome } = await read([stream.slice(0, 9), stream.slice(9, 100), stream.slice(100)]);
    expect(text).toBe("Hello");
    expect(outcome).toMatchObject({ finishReason: "stop", complete: true });
  });

  it("gathers log probabilities from every chunk that carries them, as the SDKs' stream helpers do", async () => {
    const scored = (token: string, logprob: number) => ({ token, logprob, bytes: null, top_logprobs: [] });
    const withLogprobs = (content: string, tokens: ReturnType<typeof scored>[], finish: string | null) =>
      chunk(content, finish).replace(
        '"logprobs":null',
        `"logprobs":${JSON.stringify({ content: tokens, refusal: null })}`,
      );
    const stream =
      withLogprobs("Hel", [scored("Hel", -0.1)], null) +
      chunk("lo") +
      withLogprobs("!", [scored("lo", -0.2), scored("!", -0.3)], "stop") +
      "data: [DONE]\n\n";
    const { outcome } = await read([stream]);
    expect(outcome.logprobs?.map((token) => [token.token, token.logprob])).toEqual([
      ["Hel", -0.1],
      ["lo", -0.2],
      ["!", -0.3],
    ]);
    expect((await read([chunk("Hi", "stop")])).outcome.logprobs).toBeUndefined();
  });

  it("says a stream that just stops is not complete, and keeps what came", async () => {
    const { text, outcome } = await read([chunk("The answer is")]);
    expect(text).toBe("The answer is");
    expect(outcome).toMatchObject({ finishReason: null, complete: false });
  });

  it("reads a last event that no blank line ends", async () => {
    const { text, outcome } = await read([chunk("Hel"), chunk("lo", "stop").trimEnd()]);
    expect(text).toBe("Hello");
    expect(outcome.finishReason).toBe("stop");
  });

  it("throws the error a server sends midway, with its code, after the text before it", async () => {
    const error = `data: ${JSON.stringify({ error: { message: "The node failed.", type: "server_error", code: "node.failed" } })}\n\n`;
    const text: string[] = [];
    const reading = readChatStream(body([chunk("Once"), error]), (piece) => text.push(piece));
    await expect(reading).rejects.toEqual(new StreamedError("The node failed.", "node.failed"));
    expect(text).toEqual(["Once"]);
  });

  it("says so when an event is not JSON, rather than a parser's message", async () => {
    const reading = read([chunk("Once"), "data: {not json\n\n"]);
    await expect(reading).rejects.toMatchObject({
      code: "stream.malformed",
      message: expect.stringContaining("not a chat completion event: {not json"),
    });
  });
});

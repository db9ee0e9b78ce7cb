import { afterEach, describe, expect, it, vi } from "vitest";
import { adminTokenIn } from "../../../src-renderer/adminToken";
import { createHttpApi } from "../../../src-renderer/api";

/** A fetch that answers with these bytes as a stream, in these pieces. */
function answering(pieces: string[]) {
  return vi.fn(async () => {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const piece of pieces) controller.enqueue(encoder.encode(piece));
        controller.close();
      },
    });
    return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
  });
}

const chunk = (content: string, finish: string | null = null) =>
  JSON.stringify({
    id: "c",
    object: "chat.completion.chunk",
    created: 1,
    model: "m",
    choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finish }],
  });

describe("the dashboard's chat stream reader", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("reads events framed with CRLF (as an endpoint may send them), split anywhere", async () => {
    const usage = JSON.stringify({
      id: "c",
      object: "chat.completion.chunk",
      created: 1,
      model: "m",
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
    const text = `data: ${chunk("Hel")}\r\n\r\ndata: ${chunk("lo", "stop")}\r\n\r\ndata: ${usage}\r\n\r\ndata: [DONE]\r\n\r\n`;
    const fetched = answering([text.slice(0, 17), text.slice(17, 60), text.slice(60)]);
    vi.stubGlobal("fetch", fetched);
    const pieces: string[] = [];
    const outcome = await createHttpApi(adminTokenIn(undefined)).chat({ model: "m", messages: [] }, (piece) =>
      pieces.push(piece),
    );
    expect(pieces.join("")).toBe("Hello");
    expect(outcome).toEqual({ finishReason: "stop", completionTokens: 2, truncatedMessages: 0 });
    // Streamed, with its usage at the end; nothing the playground did not ask is added.
    const [, init] = fetched.mock.calls[0] as unknown as [string, RequestInit];
    expect(JSON.parse(init.body as string)).toEqual({
      model: "m",
      messages: [],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("says an answer was cut off when its stream breaks midway, not the browser's bare network error", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => {
        let pulls = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (pulls++ === 0)
              controller.enqueue(new TextEncoder().encode(`data: ${chunk("Once upon")}\n\n`));
            else controller.error(new TypeError("network error"));
          },
        });
        return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
      }),
    );
    const pieces: string[] = [];
    await expect(
      createHttpApi(adminTokenIn(undefined)).chat({ model: "m", messages: [] }, (piece) =>
        pieces.push(piece),
      ),
    ).rejects.toThrow("The answer was cut off: llmlb or the connection stopped before it was complete.");
    expect(pieces).toEqual(["Once upon"]);
  });

  it("asks for the admin token again only when a call is refused for it, not for a gated repo's hub token", async () => {
    const refusal = (code: string) =>
      vi.fn(async () => Response.json({ error: { message: "No.", type: "x", code } }, { status: 401 }));
    const onTokenRefused = vi.fn();
    const api = createHttpApi(adminTokenIn(undefined), onTokenRefused);
    vi.stubGlobal("fetch", refusal("hub.unauthorized"));
    await expect(api.register("meta-llama/Llama-3.2-1B")).rejects.toThrow("No.");
    expect(onTokenRefused).not.toHaveBeenCalled();
    vi.stubGlobal("fetch", refusal("auth.invalid_token"));
    await expect(api.listModels()).rejects.toThrow("No.");
    expect(onTokenRefused).toHaveBeenCalledTimes(1);
  });

  it("says what the server said when it refuses", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () =>
        Response.json(
          { error: { message: "Model m is busy.", type: "x", code: "balancer.overloaded" } },
          { status: 503 },
        ),
      ),
    );
    await expect(
      createHttpApi(adminTokenIn(undefined)).chat({ model: "m", messages: [] }, () => undefined),
    ).rejects.toThrow("Model m is busy.");
  });
});

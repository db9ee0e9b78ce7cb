// @vitest-environment jsdom
import { act, fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiError, SERVER_UNREACHABLE, STREAM_CUT_OFF, type ChatRequest } from "../../../src-renderer/api";
import { percent } from "../../../src-renderer/components/TokenProbabilities";
import { announced, deferred, fakeApi, model, node, onNode, renderApp } from "./fakes";

const ready = model("acme/chat-GGUF", {
  ready: true,
  nodes: [onNode({ state: "ready", artifact: "model-Q4_K_M.gguf" })],
});

async function type(text: string) {
  const field = await screen.findByLabelText("Message");
  fireEvent.change(field, { target: { value: text } });
  return field;
}

/** A chat the test answers: `said` streams its words, `answered.resolve()` ends it, of `completionTokens`. */
function heldChat(api: ReturnType<typeof fakeApi>, completionTokens: number) {
  const answered = deferred<void>();
  let onText!: (text: string) => void;
  api.chat.mockImplementation(async (_request, streamed) => {
    onText = streamed;
    await answered.promise;
    return { finishReason: "stop", completionTokens };
  });
  return { said: (text: string) => onText(text), answered };
}

describe("the playground", () => {
  it("sends an endpoint's model only OpenAI's fields (a strict server refuses llmlb's own)", async () => {
    const outside = model("gpt-4o-mini", {
      repo: "",
      filename: null,
      source: "endpoint",
      ready: true,
      nodes: [onNode({ state: "ready", artifact: null }, "openai")],
    });
    const api = fakeApi({ models: [outside] });
    api.chat.mockResolvedValue({ finishReason: "stop", completionTokens: 1 });
    renderApp(api, { route: "playground" });
    const field = await type("Hi");
    await act(async () => {
      fireEvent.keyDown(field, { key: "Enter" });
    });
    expect(api.chat.mock.calls[0]![0]).toEqual({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Hi" }],
    });
  });

  it("shows the reasoning a server streams apart, open while the model thinks, and never sends it back", async () => {
    const api = fakeApi({ models: [ready] });
    const answered = deferred<void>();
    let said!: (text: string) => void;
    let thought!: (text: string) => void;
    api.chat.mockImplementation(async (_request, onText, _signal, onReasoning) => {
      said = onText;
      thought = onReasoning!;
      await answered.promise;
      return { finishReason: "stop", completionTokens: 3 };
    });
    renderApp(api, { route: "playground" });
    const field = await type("Hi");
    await act(async () => {
      fireEvent.keyDown(field, { key: "Enter" });
    });
    act(() => thought("The user greets me."));
    const reasoning = screen.getByText("The user greets me.").closest("details")!;
    expect(reasoning.open).toBe(true);
    expect(screen.queryByText(/Waiting for the first word|Loading acme\/chat-GGUF on a node/)).toBeNull();
    act(() => said("Hello!"));
    expect(reasoning.open).toBe(false);
    await act(async () => answered.resolve());

    api.chat.mockResolvedValue({ finishReason: "stop", completionTokens: 1 });
    const again = await type("And?");
    await act(async () => {
      fireEvent.keyDown(again, { key: "Enter" });
    });
    expect((api.chat.mock.calls[1]![0] as ChatRequest).messages).toEqual([
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello!" },
      { role: "user", content: "And?" },
    ]);
  });

  it("streams a reply from the chosen model into the conversation and says how fast it came", async () => {
    const api = fakeApi({ models: [ready, model("acme/other-GGUF")] });
    const { said, answered } = heldChat(api, 3);
    renderApp(api, { route: "playground" });
    // Only ready models can be picked.
    const picker = (await screen.findByLabelText("Model")) as HTMLSelectElement;
    expect([...picker.options].map((o) => o.value)).toEqual(["acme/chat-GGUF"]);

    const field = await type("Hi there");
    await act(async () => {
      fireEvent.keyDown(field, { key: "Enter" });
    });
    const request = api.chat.mock.calls[0]![0] as ChatRequest;
    // A long conversation goes on with its oldest messages left out (llmlb's own field).
    expect(request).toEqual({
      model: "acme/chat-GGUF",
      messages: [{ role: "user", content: "Hi there" }],
      context_overflow: "truncate_oldest",
    });
    expect((field as HTMLTextAreaElement).value).toBe("");
    expect(screen.getByRole("button", { name: "Stop" })).toBeTruthy();

    act(() => said("Hel"));
    act(() => said("lo!"));
    const log = screen.getByRole("list", { name: "Messages" });
    expect(
      within(log)
        .getAllByRole("listitem")
        .map((item) => item.textContent),
    ).toEqual(["YouHi there", "ModelHello!"]);
    await act(async () => answered.resolve());
    const stats = screen.getByLabelText("Speed of the last answer");
    expect(stats.textContent).toMatch(/Time to first token \d+ ms/);
    expect(stats.textContent).toContain("3 tokens");

    // The next question carries the conversation so far.
    api.chat.mockResolvedValue({ finishReason: "stop", completionTokens: 1 });
    const again = await type("And?");
    await act(async () => {
      fireEvent.keyDown(again, { key: "Enter" });
    });
    expect((api.chat.mock.calls[1]![0] as ChatRequest).messages).toEqual([
      { role: "user", content: "Hi there" },
      { role: "assistant", content: "Hello!" },
      { role: "user", content: "And?" },
    ]);
  });

  it("keeps the newest words in view while the user reads at the end, and stays put once they scroll up", async () => {
    const api = fakeApi({ models: [ready] });
    const { said, answered } = heldChat(api, 3);
    renderApp(api, { route: "playground" });
    const field = await type("A long story, please");
    await act(async () => {
      fireEvent.keyDown(field, { key: "Enter" });
    });
    // jsdom lays nothing out: a 100 px log whose text grows 20 px a line.
    const log = screen.getByRole("list", { name: "Messages" });
    let top = 0;
    Object.defineProperties(log, {
      clientHeight: { get: () => 100 },
      scrollHeight: { get: () => 100 + (log.textContent!.match(/Line/g)?.length ?? 0) * 20 },
      scrollTop: { get: () => top, set: (value: number) => (top = value) },
    });
    const bottom = () => log.scrollHeight - log.clientHeight;
    act(() => said("Line 1\n"));
    act(() => said("Line 2\n"));
    expect(top).toBeGreaterThanOrEqual(bottom());

    // Scrolled up to read back: the lines go on coming, the view stays.
    top = 10;
    fireEvent.scroll(log);
    act(() => said("Line 3\n"));
    expect(top).toBe(10);

    // Down at the end again: it follows again.
    top = bottom();
    fireEvent.scroll(log);
    act(() => said("Line 4\n"));
    expect(top).toBeGreaterThanOrEqual(bottom());
    await act(async () => answered.resolve());
  });

  it("keeps a conversation with its model when another becomes ready, and says so when its model goes", async () => {
    const api = fakeApi({ models: [ready] });
    api.chat.mockResolvedValue({ finishReason: "stop", completionTokens: 1 });
    const { events } = renderApp(api, { route: "playground" });
    await act(async () => {
      fireEvent.keyDown(await type("Hi"), { key: "Enter" });
    });
    events.latest.open();
    const newer = model("acme/newer-GGUF", { ready: true, nodes: ready.nodes });
    events.latest.send({ type: "model.updated", model: newer });
    const picker = screen.getByLabelText("Model") as HTMLSelectElement;
    expect(picker.value).toBe("acme/chat-GGUF");
    await act(async () => {
      fireEvent.keyDown(await type("And?"), { key: "Enter" });
    });
    expect((api.chat.mock.calls[1]![0] as ChatRequest).model).toBe("acme/chat-GGUF");

    // Its model deleted elsewhere: said, and nothing sent to another behind the user's back.
    events.latest.send({ type: "model.removed", name: "acme/chat-GGUF" });
    expect(screen.getByRole("alert").textContent).toContain(
      "This conversation was with acme/chat-GGUF, which was deleted. Pick another model",
    );
    expect(picker.value).toBe("acme/chat-GGUF");
    await act(async () => {
      fireEvent.keyDown(await type("Still there?"), { key: "Enter" });
    });
    expect(api.chat).toHaveBeenCalledTimes(2);

    // The user's pick moves it.
    fireEvent.change(picker, { target: { value: "acme/newer-GGUF" } });
    expect(screen.queryByRole("alert")).toBeNull();
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Send" }));
    });
    expect(api.chat.mock.calls[2]![0]).toMatchObject({
      model: "acme/newer-GGUF",
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "" },
        { role: "user", content: "And?" },
        { role: "assistant", content: "" },
        { role: "user", content: "Still there?" },
      ],
    });
  });

  it("asked to, tints the answer by each token's probability and tells them in a table", async () => {
    const api = fakeApi({ models: [ready] });
    const token = (text: string, logprob: number, others: [string, number][]) => ({
      token: text,
      logprob,
      bytes: null,
      top_logprobs: others.map(([other, otherLogprob]) => ({
        token: other,
        logprob: otherLogprob,
        bytes: null,
      })),
    });
    api.chat.mockImplementation(async (_request, onText) => {
      onText("Hello");
      onText(" world");
      return {
        finishReason: "stop",
        completionTokens: 2,
        logprobs: [
          token("Hello", Math.log(0.95), [["Hello", Math.log(0.95)]]),
          token(" world", Math.log(0.1), [
            [" there", Math.log(0.6)],
            [" world", Math.log(0.1)],
          ]),
        ],
      };
    });
    renderApp(api, { route: "playground" });
    fireEvent.click(await screen.findByRole("checkbox", { name: "Token probabilities" }));
    const field = await type("Hi");
    await act(async () => {
      fireEvent.keyDown(field, { key: "Enter" });
    });
    expect(api.chat.mock.calls[0]![0]).toMatchObject({ logprobs: true, top_logprobs: 5 });
    const answer = within(screen.getByRole("list", { name: "Messages" })).getAllByRole("listitem")[1]!;
    const unlikely = within(answer).getByText("world", { selector: "span", exact: false });
    expect(unlikely.className).toContain("token-unlikely");
    expect(unlikely.title).toBe('10% · likeliest: " there" 60%, " world" 10%');
    expect(within(answer).getByText("Hello", { selector: "span" }).className).toContain("token-sure");
    const rows = within(within(answer).getByRole("table")).getAllByRole("row");
    expect(rows.map((row) => row.textContent)).toEqual([
      "TokenProbabilityLikeliest at its place",
      '"Hello"95%"Hello" 95%',
      '" world"10%" there" 60%, " world" 10%',
    ]);

    // Off again: the next request asks for none.
    fireEvent.click(screen.getByRole("checkbox", { name: "Token probabilities" }));
    api.chat.mockResolvedValue({ finishReason: "stop", completionTokens: 1 });
    const again = await type("And?");
    await act(async () => {
      fireEvent.keyDown(again, { key: "Enter" });
    });
    expect(api.chat.mock.calls[1]![0]).not.toHaveProperty("logprobs");
  });

  it("shows a model's Markdown as it reads (code to copy, emphasis), never fetching an image, and a user's text as typed", async () => {
    const api = fakeApi({ models: [ready] });
    const answer = [
      "## Steps",
      "",
      "Run **this**:",
      "",
      "```py",
      "print(1)",
      "```",
      "",
      "![tracker](http://tracker.example/pixel.png) <img src=x onerror=alert(1)>",
      "",
      "| Model | Size |",
      "| --- | --- |",
      "| tiny | 1 MB |",
      "",
      "- one",
      "  - nested",
    ].join("\n");
    api.chat.mockImplementation(async (_request, onText) => {
      onText(answer);
      return { finishReason: "stop", completionTokens: 12 };
    });
    renderApp(api, { route: "playground" });
    const field = await type("Show me `code` and **bold**");
    await act(async () => {
      fireEvent.keyDown(field, { key: "Enter" });
    });
    const [asked, answered] = within(screen.getByRole("list", { name: "Messages" })).getAllByRole("listitem");
    expect(asked!.querySelector("p.chat-text")!.textContent).toBe("Show me `code` and **bold**");
    // Markdown's renderer comes with the first answer (its own chunk of the bundle).
    const code = await within(answered!).findByText("print(1)", { selector: "pre code" });
    expect(code.closest("pre")).not.toBeNull();
    expect(within(answered!).getByRole("heading", { name: "Steps" })).toBeTruthy();
    expect(within(answered!).getByText("this", { selector: "strong" })).toBeTruthy();
    expect(within(answered!).getByRole("button", { name: "Copy code" })).toBeTruthy();
    // No image is fetched: it is a link to click, and raw HTML stays text.
    expect(answered!.querySelector("img")).toBeNull();
    expect(within(answered!).getByRole("link", { name: "tracker" }).getAttribute("href")).toBe(
      "http://tracker.example/pixel.png",
    );
    // Tables as tables (models write them often), lists as lists, nested ones within.
    const table = within(answered!).getByRole("table");
    expect(
      within(table)
        .getAllByRole("columnheader")
        .map((cell) => cell.textContent),
    ).toEqual(["Model", "Size"]);
    expect(
      within(table)
        .getAllByRole("cell")
        .map((cell) => cell.textContent),
    ).toEqual(["tiny", "1 MB"]);
    expect(answered!.querySelector(".chat-markdown ul > li > ul > li")?.textContent).toBe("nested");
  });

  it("writes probabilities as a reader would, never a near certainty rounded to 100%", () => {
    expect([1, 0.9995, 0.996, 0.42, 0.035, 0.0004].map(percent)).toEqual([
      "100%",
      ">99.9%",
      "99.6%",
      "42%",
      "3.5%",
      "<0.1%",
    ]);
  });

  it("tints a character split across tokens as one, with the token that ends it", async () => {
    const api = fakeApi({ models: [ready] });
    const euro = [...new TextEncoder().encode("€")];
    const half = (bytes: number[], logprob: number) => ({
      token: "\ufffd",
      logprob,
      bytes,
      top_logprobs: [],
    });
    api.chat.mockImplementation(async (_request, onText) => {
      onText("5 €");
      return {
        finishReason: "stop",
        completionTokens: 3,
        logprobs: [
          { token: "5 ", logprob: Math.log(0.95), bytes: [0x35, 0x20], top_logprobs: [] },
          half(euro.slice(0, 2), Math.log(0.6)),
          half(euro.slice(2), Math.log(0.3)),
        ],
      };
    });
    renderApp(api, { route: "playground" });
    fireEvent.click(await screen.findByRole("checkbox", { name: "Token probabilities" }));
    const field = await type("Price?");
    await act(async () => {
      fireEvent.keyDown(field, { key: "Enter" });
    });
    const answer = within(screen.getByRole("list", { name: "Messages" })).getAllByRole("listitem")[1]!;
    expect(within(answer).getByText("€", { selector: "span" }).className).toContain("token-unsure");
    expect(answer.querySelector("p.chat-text")!.textContent).toBe("5 €");
    // The table tells each token as the server named it.
    expect(within(within(answer).getByRole("table")).getAllByRole("row")).toHaveLength(4);

    // A control token in the answer has no text there: the others are tinted all the same.
    const marker = [..."<|im_end|>"].map((char) => char.charCodeAt(0));
    api.chat.mockImplementation(async (_request, onText) => {
      onText("Hi!");
      return {
        finishReason: "stop",
        completionTokens: 3,
        logprobs: [
          { token: "Hi", logprob: Math.log(0.95), bytes: [0x48, 0x69], top_logprobs: [] },
          { token: "<|im_end|>", logprob: Math.log(0.01), bytes: marker, top_logprobs: [] },
          { token: "!", logprob: Math.log(0.3), bytes: [0x21], top_logprobs: [] },
        ],
      };
    });
    const next = await type("More?");
    await act(async () => {
      fireEvent.keyDown(next, { key: "Enter" });
    });
    const second = within(screen.getByRole("list", { name: "Messages" })).getAllByRole("listitem")[3]!;
    expect([...second.querySelectorAll("span.token")].map((span) => span.textContent)).toEqual([
      "Hi",
      "",
      "!",
    ]);
  });

  it.each([
    [[], "Loading acme/chat-GGUF on a node"],
    [
      [
        node("gpu-0", {
          loaded: [
            { model: "acme/chat-GGUF", sequences: 0, busy: 0, loading_since: new Date().toISOString() },
          ],
        }),
      ],
      "Loading acme/chat-GGUF on a node",
    ],
    [
      [node("gpu-0", { loaded: [{ model: "acme/chat-GGUF", sequences: 4, busy: 0 }] })],
      "Waiting for the first word",
    ],
  ])("until the first word comes, says what it waits for, loading or not (%#)", async (nodes, waiting) => {
    const api = fakeApi({ models: [ready], nodes });
    const { said, answered } = heldChat(api, 1);
    renderApp(api, { route: "playground" });
    const field = await type("Hi");
    await act(async () => {
      fireEvent.keyDown(field, { key: "Enter" });
    });
    const answer = within(screen.getByRole("list", { name: "Messages" })).getAllByRole("listitem")[1]!;
    expect(answer.textContent).toMatch(new RegExp(`^Model${waiting} · \\d+ s$`));
    act(() => said("Hello"));
    expect(answer.textContent).toBe("ModelHello");
    await act(async () => answered.resolve());
  });

  it("says when the conversation outgrew the context and its oldest messages were left out", async () => {
    const api = fakeApi({ models: [ready] });
    api.chat.mockResolvedValue({ finishReason: "stop", completionTokens: 4, truncatedMessages: 3 });
    renderApp(api, { route: "playground" });
    await type("Still there?");
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Send" }));
    });
    expect(screen.getAllByRole("status").map((status) => status.textContent)).toContainEqual(
      expect.stringContaining("its 3 oldest messages were left out"),
    );
    // Said once the answer is in, not word by word: the conversation is not a live region.
    expect(announced()).toBe("Answer complete: 4 tokens.");
    expect(screen.getByRole("list", { name: "Messages" }).closest("[aria-live]")).toBeNull();
  });

  it("says why a message failed and puts the question back in the box, to send once more", async () => {
    const api = fakeApi({ models: [ready] });
    api.chat.mockRejectedValueOnce(
      new ApiError("Serving is paused: resume it with `llmlb resume`.", 503, "serving.paused"),
    );
    renderApp(api, { route: "playground" });
    const field = (await type("Hello")) as HTMLTextAreaElement;
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Send" }));
    });
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("Serving is paused: resume it with llmlb resume.");
    expect(within(alert).getByText("llmlb resume").tagName).toBe("CODE");
    expect(screen.queryByRole("list", { name: "Messages" })).toBeNull();
    expect(field.value).toBe("Hello");

    await act(async () => {
      fireEvent.keyDown(field, { key: "Enter" });
    });
    expect((api.chat.mock.calls[1]![0] as ChatRequest).messages).toEqual([
      { role: "user", content: "Hello" },
    ]);
    expect(
      within(screen.getByRole("list", { name: "Messages" }))
        .getAllByRole("listitem")
        .map((i) => i.textContent),
    ).toEqual(["YouHello", "Model(no answer)"]);
  });

  it("says an answer cut off midway was cut off, and keeps what came with its stats", async () => {
    const api = fakeApi({ models: [ready] });
    api.chat.mockImplementation(async (_request, onText) => {
      onText("Once");
      onText(" upon");
      throw new ApiError("The answer was cut off: llmlb or the connection stopped.", 0, STREAM_CUT_OFF);
    });
    renderApp(api, { route: "playground" });
    await type("Tell me a story");
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Send" }));
    });
    expect(screen.getByRole("alert").textContent).toContain("The answer was cut off");
    expect(screen.getByLabelText("Speed of the last answer").textContent).toMatch(/· 2 tokens · cut off$/);
    const answer = within(screen.getByRole("list", { name: "Messages" })).getAllByRole("listitem")[1]!;
    expect(answer.textContent).toBe("ModelOnce upon");
  });

  it('drops its "can\'t reach the server" once llmlb is back', async () => {
    const api = fakeApi({ models: [ready] });
    api.chat.mockRejectedValueOnce(new ApiError(SERVER_UNREACHABLE, 0));
    const { events } = renderApp(api, { route: "playground" });
    await type("Hello");
    events.latest.open();
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Send" }));
    });
    expect(screen.getByRole("alert").textContent).toContain(SERVER_UNREACHABLE);
    events.latest.drop();
    await act(async () => events.latest.open());
    expect(screen.queryByText(SERVER_UNREACHABLE)).toBeNull();
  });

  it("stops an answer with Escape in the message box, as the Stop button does", async () => {
    const api = fakeApi({ models: [ready] });
    let stopped = false;
    api.chat.mockImplementation(async (_request, onText, signal) => {
      onText("Once upon");
      await new Promise((resolve) => signal?.addEventListener("abort", resolve));
      stopped = true;
      return { finishReason: null, completionTokens: undefined };
    });
    renderApp(api, { route: "playground" });
    const field = await type("Tell me a story");
    await act(async () => {
      fireEvent.keyDown(field, { key: "Enter" });
    });
    expect(screen.getByRole("button", { name: "Stop" }).getAttribute("title")).toBe("Stop the answer (Esc)");
    await act(async () => {
      fireEvent.keyDown(field, { key: "Escape" });
    });
    expect(stopped).toBe(true);
    expect(screen.getByRole("button", { name: "Send" })).toBeTruthy();
  });

  it("keeps the keyboard in the message box after Stop and New chat", async () => {
    const api = fakeApi({ models: [ready] });
    api.chat.mockImplementation(async (_request, onText, signal) => {
      onText("Once");
      await new Promise((resolve) => signal?.addEventListener("abort", resolve));
      return { finishReason: null, completionTokens: undefined };
    });
    renderApp(api, { route: "playground" });
    const field = await type("Tell me a story");
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Send" }));
    });
    const stop = screen.getByRole("button", { name: "Stop" });
    stop.focus();
    await act(async () => {
      fireEvent.click(stop);
    });
    expect(screen.getByRole("button", { name: "Send" })).toBeTruthy();
    expect(document.activeElement).toBe(field);

    const newChat = screen.getByRole("button", { name: "New chat" });
    newChat.focus();
    fireEvent.click(newChat);
    expect(screen.queryByRole("list", { name: "Messages" })).toBeNull();
    expect(document.activeElement).toBe(field);
  });

  it("without a ready model, says where to get one", async () => {
    renderApp(fakeApi({ models: [model("acme/downloading-GGUF")] }), { route: "playground" });
    expect((await screen.findByText(/No model is ready yet/)).textContent).toContain("Register one");
    expect(screen.queryByLabelText("Message")).toBeNull();
  });

  it("starts over with New chat even while an answer streams, leaving nothing of it behind", async () => {
    const api = fakeApi({ models: [ready] });
    const answered = deferred<void>();
    let said!: (text: string) => void;
    api.chat.mockImplementation(async (_request, onText, signal) => {
      said = onText;
      await Promise.race([
        answered.promise,
        new Promise((resolve) => signal?.addEventListener("abort", resolve)),
      ]);
      return { finishReason: null, completionTokens: undefined };
    });
    renderApp(api, { route: "playground" });
    const field = await type("Tell me a story");
    await act(async () => {
      fireEvent.keyDown(field, { key: "Enter" });
    });
    act(() => said("Once"));
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "New chat" }));
    });
    act(() => said(" upon"));
    expect(screen.queryByRole("list", { name: "Messages" })).toBeNull();
    expect(screen.queryByLabelText("Speed of the last answer")).toBeNull();
    expect(screen.getByRole("button", { name: "Send" })).toBeTruthy();
  });
});

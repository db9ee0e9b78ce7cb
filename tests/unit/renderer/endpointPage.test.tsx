// @vitest-environment jsdom
import { fireEvent, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeApi, model, onNode, renderApp, status } from "./fakes";

const readyNodes = [onNode({ state: "ready", artifact: "model-Q4_K_M.gguf" })];

function snippet(title: string): string {
  const figure = screen.getByRole("figure", { name: title });
  return figure.querySelector("pre")!.textContent!;
}

describe("the endpoint page", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("shows the /v1 base URL and copies it", async () => {
    const writeText = vi.fn(async () => {});
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    renderApp(fakeApi(), { route: "endpoint" });
    const baseUrl = `${location.origin}/v1`;

    expect((await screen.findByTestId("base-url")).textContent).toBe(baseUrl);
    fireEvent.click(screen.getByRole("button", { name: "Copy base URL" }));

    expect(writeText).toHaveBeenCalledWith(baseUrl);
    expect(await screen.findByRole("button", { name: "Copied" })).toBeTruthy();
  });

  it("lists every API /v1 answers, and where Claude Code's base URL points", async () => {
    renderApp(fakeApi(), { route: "endpoint" });
    const routes = await screen.findByRole("list", { name: "Routes" });
    expect(
      within(routes)
        .getAllByRole("listitem")
        .map((item) => item.textContent),
    ).toEqual([
      "POST /v1/chat/completions",
      "POST /v1/completions",
      "POST /v1/embeddings",
      "POST /v1/responses",
      "POST /v1/messages",
      "POST /v1/messages/count_tokens",
      "POST /v1/rerank",
      "GET /v1/models",
    ]);
    expect(screen.getByText(`ANTHROPIC_BASE_URL=${location.origin}`)).toBeTruthy();
  });

  it("gives curl and Python snippets for the chosen ready model", async () => {
    const models = [
      model("org/downloading"),
      model("org/first", { ready: true, nodes: readyNodes }),
      model("org/second/second-Q8_0.gguf", { ready: true, nodes: readyNodes }),
    ];
    renderApp(fakeApi({ models }), { route: "endpoint" });
    const baseUrl = `${location.origin}/v1`;

    const select = (await screen.findByLabelText("Model")) as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(["org/first", "org/second/second-Q8_0.gguf"]);
    expect(snippet("curl")).toContain(`curl ${baseUrl}/chat/completions`);
    expect(snippet("curl")).toContain('"model": "org/first"');
    expect(snippet("Python (openai)")).toContain(`base_url="${baseUrl}"`);
    expect(snippet("Python (openai)")).toContain('model="org/first"');

    fireEvent.change(select, { target: { value: "org/second/second-Q8_0.gguf" } });
    expect(snippet("curl")).toContain('"model": "org/second/second-Q8_0.gguf"');
    expect(snippet("Python (openai)")).toContain('model="org/second/second-Q8_0.gguf"');
  });

  it("names each model in the select by what tells it apart first, its whole id on hover", async () => {
    const org = "a-really-long-organization-name-for-qa-testing";
    const models = [
      model(`${org}/Meta-Llama-3.1-70B-Instruct-GGUF`, { ready: true, nodes: readyNodes }),
      model(`${org}/Qwen2.5-7B-Instruct-GGUF/qwen2.5-7b-instruct-q4_k_m.gguf`, {
        ready: true,
        nodes: readyNodes,
      }),
    ];
    renderApp(fakeApi({ models }), { route: "endpoint" });
    const select = (await screen.findByLabelText("Model")) as HTMLSelectElement;
    expect([...select.options].map((o) => [o.textContent, o.title])).toEqual([
      [`Meta-Llama-3.1-70B-Instruct-GGUF · ${org}`, `${org}/Meta-Llama-3.1-70B-Instruct-GGUF`],
      [
        `Qwen2.5-7B-Instruct-GGUF/qwen2.5-7b-instruct-q4_k_m.gguf · ${org}`,
        `${org}/Qwen2.5-7B-Instruct-GGUF/qwen2.5-7b-instruct-q4_k_m.gguf`,
      ],
    ]);
    expect(select.title).toBe(`${org}/Meta-Llama-3.1-70B-Instruct-GGUF`);
  });

  it("copies each snippet with its own button", async () => {
    const writeText = vi.fn(async () => {});
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    renderApp(fakeApi({ models: [model("org/first", { ready: true, nodes: readyNodes })] }), {
      route: "endpoint",
    });
    fireEvent.click(await screen.findByRole("button", { name: "Copy Python (openai) snippet" }));
    expect(writeText).toHaveBeenCalledWith(snippet("Python (openai)"));
  });

  it("says when /v1 needs an API key, and the snippets send one from LLMLB_API_KEY", async () => {
    const models = [model("org/first", { ready: true, nodes: readyNodes })];
    renderApp(fakeApi({ models, status: status({ api_key_required: true }) }), { route: "endpoint" });
    expect(await screen.findByText(/needs an API key/)).toBeTruthy();
    expect(snippet("curl")).toContain('-H "Authorization: Bearer $LLMLB_API_KEY"');
    expect(snippet("Python (openai)")).toContain('api_key=os.environ["LLMLB_API_KEY"]');
    expect(snippet("Python (openai)")).toMatch(/^import os$/m);
  });

  it("without API keys, the snippets send none and say any key works", async () => {
    renderApp(fakeApi({ models: [model("org/first", { ready: true, nodes: readyNodes })] }), {
      route: "endpoint",
    });
    expect(await screen.findByLabelText("Model")).toBeTruthy();
    expect(screen.queryByText(/needs an API key/)).toBeNull();
    expect(snippet("curl")).not.toContain("Authorization");
    expect(snippet("Python (openai)")).toContain("# Any api_key works: this server needs none.");
  });

  it("says when no model is ready and uses a placeholder", async () => {
    renderApp(fakeApi({ models: [model("org/downloading")] }), { route: "endpoint" });
    expect(await screen.findByText(/No model is ready yet/)).toBeTruthy();
    expect(screen.queryByLabelText("Model")).toBeNull();
    expect(snippet("curl")).toContain('"model": "<model id>"');
    expect(snippet("Python (openai)")).toContain('model="<model id>"');
  });
});

// @vitest-environment jsdom
import { act, fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { defaultModelSettings } from "../../../src-main/contract";
import { ApiError, SERVER_UNREACHABLE } from "../../../src-renderer/api";
import { fakeApi, lastBanner, model, node, onNode, renderApp, unavailable } from "./fakes";

const nodes = [
  node("gpu-0", { loaded: [{ model: "org/repo", sequences: 2, busy: 0, context_size: 4096 }] }),
  node("gpu-1"),
  node("gpu-2", { status: "offline" }),
  node("lab-box", { kind: "endpoint" }),
  node("vllm-box", {
    kind: "endpoint",
    models: [{ model: "org/repo", artifact: null, state: "ready" }],
  }),
];

async function openSettings() {
  fireEvent.click(await screen.findByRole("button", { name: "Edit settings of org/repo" }));
  return screen.getByRole("region", { name: "Settings of org/repo" });
}

describe("a model's settings panel", () => {
  it('drops its "can\'t reach the server" once llmlb is back, as banners do', async () => {
    const api = fakeApi({ models: [model("org/repo")], nodes });
    api.updateModelSettings.mockRejectedValueOnce(new ApiError(SERVER_UNREACHABLE, 0));
    const { events } = renderApp(api);
    events.latest.open();
    const panel = await openSettings();
    fireEvent.change(within(panel).getByLabelText("Parallel requests per worker"), {
      target: { value: "2" },
    });
    await act(async () => fireEvent.click(within(panel).getByRole("button", { name: "Save settings" })));
    expect(panel.textContent).toContain(SERVER_UNREACHABLE);
    events.latest.drop();
    await act(async () => events.latest.open());
    expect(panel.textContent).not.toContain(SERVER_UNREACHABLE);
  });

  it("follows what another window changed while it was open, and sends only what was changed here", async () => {
    const saved = { ...defaultModelSettings, parallel: 4 };
    const api = fakeApi({ models: [model("org/repo", { settings: saved })], nodes });
    const { events } = renderApp(api);
    const panel = await openSettings();
    fireEvent.change(within(panel).getByLabelText("Unload after idle (seconds)"), {
      target: { value: "60" },
    });
    // A node ticked here.
    fireEvent.click(within(panel).getByLabelText("gpu-1"));
    // Meanwhile, another window (or the CLI) sets parallel and the context, and pins another node.
    const elsewhere = { ...saved, parallel: 8, context_size: 2048, nodes: ["gpu-0"] };
    events.latest.send({ type: "model.updated", model: model("org/repo", { settings: elsewhere }) });
    expect((within(panel).getByLabelText("Parallel requests per worker") as HTMLInputElement).value).toBe(
      "8",
    );
    expect((within(panel).getByLabelText("Context size (tokens)") as HTMLInputElement).value).toBe("2048");
    expect((within(panel).getByLabelText("Unload after idle (seconds)") as HTMLInputElement).value).toBe(
      "60",
    );
    await act(async () => fireEvent.click(within(panel).getByRole("button", { name: "Save settings" })));
    // Both pins: the one made there, and the one ticked here.
    expect(api.updateModelSettings).toHaveBeenCalledWith("org/repo", {
      idle_ttl_seconds: 60,
      nodes: ["gpu-0", "gpu-1"],
    });
  });

  it("sends only what changed, with an emptied field meaning automatic, and shows the result on the card", async () => {
    const saved = { ...defaultModelSettings, parallel: 4 };
    const api = fakeApi({ models: [model("org/repo", { settings: saved })], nodes });
    renderApp(api);
    const panel = await openSettings();
    // What the node runs now, so "Auto" is not a mystery.
    const context = within(panel).getByLabelText("Context size (tokens)");
    expect(context.getAttribute("placeholder")).toBe("Auto");
    expect(within(panel).getByText(/Loaded now: 4,096 on gpu-0\./).textContent).toBe(
      "Auto: what the model was trained on, as far as memory allows. Loaded now: 4,096 on gpu-0.",
    );
    expect((within(panel).getByLabelText("Parallel requests per worker") as HTMLInputElement).value).toBe(
      "4",
    );
    // Nothing changed yet: nothing to save.
    const save = within(panel).getByRole("button", { name: "Save settings" }) as HTMLButtonElement;
    expect(unavailable(save)).toBe(true);

    fireEvent.change(context, { target: { value: "8192" } });
    // The hint follows the value: a fixed size is not "Auto".
    expect(within(panel).getByText(/Loaded now/).textContent).toBe(
      "At most what the model was trained on; empty for Auto. Loaded now: 4,096 on gpu-0.",
    );
    fireEvent.change(within(panel).getByLabelText("When a conversation outgrows it"), {
      target: { value: "truncate_oldest" },
    });
    fireEvent.change(within(panel).getByLabelText("Parallel requests per worker"), { target: { value: "" } });
    // Workers, and the endpoints that serve this model: one that does not has nothing to be pinned to.
    expect(within(panel).queryByLabelText("lab-box")).toBeNull();
    expect(within(panel).getByLabelText("vllm-box (endpoint)")).toBeTruthy();
    // Pinning to a node that is down is a choice worth seeing before it is made.
    expect(within(panel).getByLabelText("gpu-2 (offline)")).toBeTruthy();
    fireEvent.click(within(panel).getByLabelText("gpu-1"));
    await act(async () => fireEvent.click(save));

    expect(api.updateModelSettings).toHaveBeenCalledWith("org/repo", {
      context_size: 8192,
      context_overflow: "truncate_oldest",
      parallel: null,
      nodes: ["gpu-1"],
    });
    expect(screen.queryByRole("region", { name: "Settings of org/repo" })).toBeNull();
    const card = screen.getByRole("listitem", { name: "repo" });
    expect(within(card).getByText("8,192 tokens")).toBeTruthy();
    expect(within(card).getByText("Oldest messages left out")).toBeTruthy();
    expect(within(card).getByText("gpu-1")).toBeTruthy();
    expect(within(card).queryByText("Parallel")).toBeNull();
  });

  it("says in its own words what a number field takes before asking the server, and Escape closes it", async () => {
    const api = fakeApi({ models: [model("org/repo")], nodes });
    renderApp(api);
    const panel = await openSettings();
    const context = within(panel).getByLabelText("Context size (tokens)");
    const ttl = within(panel).getByLabelText("Unload after idle (seconds)");
    expect(ttl.getAttribute("placeholder")).toBe("600 (default)");
    fireEvent.change(context, { target: { value: "-5" } });
    fireEvent.change(ttl, { target: { value: "1.5" } });
    await act(async () => fireEvent.click(within(panel).getByRole("button", { name: "Save settings" })));

    expect(api.updateModelSettings).not.toHaveBeenCalled();
    expect(document.activeElement).toBe(context);
    expect(context.getAttribute("aria-invalid")).toBe("true");
    const problem = document.getElementById(context.getAttribute("aria-describedby")!.split(" ")[0]!)!;
    expect(problem.textContent?.trim()).toBe(
      "Context size must be a whole number of tokens from 128 to 1,048,576, or empty for Auto.",
    );
    expect(panel.textContent).toContain(
      "Unload after idle must be a whole number of seconds from 1 to 604,800, or empty for the default, 10 minutes.",
    );
    // Mended, the word goes at once.
    fireEvent.change(context, { target: { value: "4096" } });
    expect(context.getAttribute("aria-invalid")).toBeNull();
    expect(panel.textContent).not.toContain("Context size must be");

    fireEvent.keyDown(ttl, { key: "Escape" });
    expect(screen.queryByRole("region", { name: "Settings of org/repo" })).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Edit settings of org/repo" }));
    expect(api.updateModelSettings).not.toHaveBeenCalled();
  });

  it("keeps the panel open with the server's refusal in its words", async () => {
    const api = fakeApi(
      { models: [model("org/repo")], nodes },
      {
        updateModelSettings: vi.fn(async () => {
          throw new ApiError(
            "context_size must be at most 2048, what acme/tiny was trained on.",
            400,
            "input.invalid",
          );
        }),
      },
    );
    renderApp(api);
    const panel = await openSettings();
    fireEvent.change(within(panel).getByLabelText("Context size (tokens)"), { target: { value: "99999" } });
    await act(async () => fireEvent.click(within(panel).getByRole("button", { name: "Save settings" })));
    expect(within(panel).getByRole("alert").textContent).toContain("at most 2048");
    expect((within(panel).getByLabelText("Context size (tokens)") as HTMLInputElement).value).toBe("99999");
  });

  it("adds and removes aliases, and says why one was refused", async () => {
    const api = fakeApi({ models: [model("org/repo", { aliases: ["repo:q4"] })], nodes });
    renderApp(api);
    const card = await screen.findByRole("listitem", { name: "repo" });
    expect(card.querySelector(".model-aliases")?.textContent).toBe("Also answers to repo:q4");
    const panel = await openSettings();

    const field = within(panel).getByLabelText("New alias for org/repo");
    fireEvent.change(field, { target: { value: " chat " } });
    await act(async () => fireEvent.click(within(panel).getByRole("button", { name: "Add alias" })));
    expect(api.addAlias).toHaveBeenCalledWith("org/repo", "chat");
    expect((field as HTMLInputElement).value).toBe("");
    expect(card.querySelector(".model-aliases")?.textContent).toBe("Also answers to chat, repo:q4");

    await act(async () =>
      fireEvent.click(within(panel).getByRole("button", { name: "Remove alias repo:q4" })),
    );
    expect(api.removeAlias).toHaveBeenCalledWith("repo:q4");
    expect(card.querySelector(".model-aliases")?.textContent).toBe("Also answers to chat");
    // Its × is gone: the keyboard goes on from the field that adds one.
    expect(document.activeElement).toBe(field);

    api.addAlias.mockRejectedValueOnce(new ApiError("other/model is already called taken.", 409));
    fireEvent.change(field, { target: { value: "taken" } });
    await act(async () => fireEvent.click(within(panel).getByRole("button", { name: "Add alias" })));
    expect(within(panel).getByRole("alert").textContent).toContain("already called taken");
    expect((field as HTMLInputElement).value).toBe("taken");
  });

  it("is not offered for a model an endpoint serves", async () => {
    renderApp(fakeApi({ models: [model("org/repo", { source: "endpoint" })] }));
    await screen.findByRole("listitem", { name: "repo" });
    expect(screen.queryByRole("button", { name: "Edit settings of org/repo" })).toBeNull();
  });
});

describe("a model that crashed a node's worker", () => {
  const message =
    "It crashed this node's worker 2 times in 8 s (signal SIGABRT: binary_op: unsupported types), so this node no longer loads it. Retry with `llmlb model retry org/repo` (or Retry on the Models page) once the cause is fixed; restarting llmlb also retries it.";
  const crashed = model("org/repo", {
    nodes: [onNode({ state: "error", artifact: "model-Q4_K_M.gguf", message, crashed: true })],
  });

  it("says so with the cause, without promising a retry it will not make, and retries on request", async () => {
    const api = fakeApi({ models: [crashed] });
    renderApp(api);
    const card = await screen.findByRole("listitem", { name: "repo" });
    expect(within(card).getByText("Crashed")).toBeTruthy();
    const row = within(card).getByRole("list", { name: "repo on each node" });
    expect(row.textContent).toContain(
      "Crashed the worker: It crashed this node's worker 2 times in 8 s (signal SIGABRT",
    );
    expect(row.textContent).not.toContain("(retrying)");

    await act(async () => fireEvent.click(within(row).getByRole("button", { name: "Retry org/repo" })));
    expect(api.retryModel).toHaveBeenCalledWith("org/repo");
    expect(lastBanner().textContent).toContain("Trying org/repo again on gpu-0");
  });

  it("says when no online node had it failed", async () => {
    const api = fakeApi(
      { models: [crashed] },
      { retryModel: vi.fn(async (name: string) => ({ model: name, nodes: [] })) },
    );
    renderApp(api);
    await act(async () => fireEvent.click(await screen.findByRole("button", { name: "Retry org/repo" })));
    expect(lastBanner().textContent).toContain("nothing to retry");
  });
});

describe("a model whose node stopped trying (its file failed verification twice)", () => {
  const message =
    "x.gguf from org/repo failed verification: expected sha256 aa, got bb. It failed verification 2 times, so this node stops downloading it: once the hub's file is fixed, retry it (llmlb model retry org/repo, or Retry on the Models page).";
  const givenUp = model("org/repo", {
    nodes: [onNode({ state: "error", artifact: "x.gguf", message, waits_for_retry: true })],
  });

  it("offers the Retry its message speaks of, and does not say it is retrying", async () => {
    const api = fakeApi({ models: [givenUp] });
    renderApp(api);
    const row = within(await screen.findByRole("listitem", { name: "repo" })).getByRole("list", {
      name: "repo on each node",
    });
    expect(row.textContent).toContain("Error: x.gguf from org/repo failed verification");
    expect(row.textContent).not.toContain("(retrying)");
    await act(async () => fireEvent.click(within(row).getByRole("button", { name: "Retry org/repo" })));
    expect(api.retryModel).toHaveBeenCalledWith("org/repo");
  });

  it("while a node tries again by itself, says so and offers nothing to press", async () => {
    const failing = model("org/repo", {
      nodes: [onNode({ state: "error", artifact: "x.gguf", message: "HTTP 503" })],
    });
    renderApp(fakeApi({ models: [failing] }));
    const row = within(await screen.findByRole("listitem", { name: "repo" })).getByRole("list", {
      name: "repo on each node",
    });
    expect(row.textContent).toContain("Error: HTTP 503 (retrying)");
    expect(within(row).queryByRole("button", { name: "Retry" })).toBeNull();
  });
});

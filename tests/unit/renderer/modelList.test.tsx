// @vitest-environment jsdom
import { act, fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiError, SERVER_UNREACHABLE } from "../../../src-renderer/api";
import { fakeApi, model, node, onNode, renderApp } from "./fakes";

function card(name: string): HTMLElement {
  return screen.getByRole("listitem", { name });
}

describe("the model list", () => {
  it("says on which nodes a ready model is in memory, and loads it on another with Load", async () => {
    const ready = model("org/repo", {
      ready: true,
      nodes: [
        onNode({ state: "ready", artifact: "a.gguf" }, "gpu-0"),
        onNode({ state: "ready", artifact: "a.gguf" }, "gpu-1"),
      ],
    });
    const api = fakeApi({
      models: [ready],
      nodes: [node("gpu-0", { loaded: [{ model: "org/repo", sequences: 4, busy: 0 }] }), node("gpu-1")],
    });
    renderApp(api);
    const states = await screen.findByRole("list", { name: "repo on each node" });
    const [first, second] = within(states).getAllByRole("listitem") as [HTMLElement, HTMLElement];
    expect(first.textContent).toContain("In memory");
    expect(within(first).queryByRole("button", { name: /^Load / })).toBeNull();
    await act(async () => {
      fireEvent.click(within(second).getByRole("button", { name: "Load org/repo on gpu-1" }));
    });
    expect(api.loadModel).toHaveBeenCalledWith("org/repo", "gpu-1");
    expect(screen.getAllByRole("status").at(-1)!.textContent).toContain("Loaded org/repo on gpu-1");
  });

  it("closes an action's \"can't reach the server\" banner once llmlb is back", async () => {
    const ready = model("org/repo", {
      ready: true,
      nodes: [onNode({ state: "ready", artifact: "a.gguf" }, "gpu-0")],
    });
    const api = fakeApi({ models: [ready], nodes: [node("gpu-0")] });
    api.loadModel.mockRejectedValueOnce(new ApiError(SERVER_UNREACHABLE, 0));
    const { events } = renderApp(api);
    events.latest.open();
    await act(async () => {
      fireEvent.click(await screen.findByRole("button", { name: "Load org/repo on gpu-0" }));
    });
    expect(screen.getByRole("alert").textContent).toContain(SERVER_UNREACHABLE);
    events.latest.drop();
    await act(async () => events.latest.open());
    expect(screen.queryByText(SERVER_UNREACHABLE)).toBeNull();
  });

  it("says a model asked to unload while it answers goes once its requests end, not that it is in memory", async () => {
    const ready = model("org/repo", {
      ready: true,
      nodes: [onNode({ state: "ready", artifact: "a.gguf" }, "gpu-0")],
    });
    renderApp(
      fakeApi({
        models: [ready],
        nodes: [node("gpu-0", { loaded: [{ model: "org/repo", sequences: 4, busy: 1, unloading: true }] })],
      }),
    );
    const states = await screen.findByRole("list", { name: "repo on each node" });
    expect(states.textContent).toContain("Unloading once its requests end");
    expect(states.textContent).not.toContain("In memory");
  });

  it("says a model is in memory when its load in a new setting stands beside the old one going", async () => {
    const ready = model("org/repo", {
      ready: true,
      nodes: [onNode({ state: "ready", artifact: "a.gguf" }, "gpu-0")],
    });
    const loaded = [
      { model: "org/repo", sequences: 4, busy: 1, unloading: true as const },
      { model: "org/repo", sequences: 2, busy: 0 },
    ];
    renderApp(fakeApi({ models: [ready], nodes: [node("gpu-0", { loaded })] }));
    const states = await screen.findByRole("list", { name: "repo on each node" });
    expect(states.textContent).toContain("In memory");
    expect(states.textContent).not.toContain("Unloading");
  });

  it("shows download progress per node, with a progress bar", async () => {
    const downloading = model("Qwen/Qwen2.5-0.5B-Instruct-GGUF", {
      nodes: [
        onNode(
          {
            state: "downloading",
            artifact: "model-Q4_K_M.gguf",
            bytes_done: 1_200_000_000,
            bytes_total: 2_700_000_000,
            bytes_per_second: 30_000_000,
          },
          "gpu-0",
        ),
      ],
    });
    renderApp(fakeApi({ models: [downloading] }));

    const row = await screen.findByRole("listitem", { name: "Qwen2.5-0.5B-Instruct-GGUF" });
    expect(row.textContent).toContain("Downloading 44% · 1.2 GB of 2.7 GB · 30.0 MB/s · 50 s left");
    const bar = within(row).getByRole("progressbar", { name: "Downloading on gpu-0" });
    expect(bar.getAttribute("aria-valuenow")).toBe("1200000000");
    expect(bar.getAttribute("aria-valuemin")).toBe("0");
    expect(bar.getAttribute("aria-valuemax")).toBe("2700000000");
    expect(within(row).queryByText("Ready")).toBeNull();
  });

  it("says when a download's connection broke and it tries again, and what a queued model waits for", async () => {
    const stalled = model("org/stalled", {
      nodes: [
        onNode(
          {
            state: "downloading",
            artifact: "model-Q4_K_M.gguf",
            bytes_done: 1_200_000_000,
            bytes_total: 2_700_000_000,
            bytes_per_second: 0,
            interrupted: "ECONNREFUSED: connect ECONNREFUSED 10.0.0.2:443",
          },
          "gpu-0",
        ),
      ],
    });
    const queued = model("org/queued", {
      nodes: [onNode({ state: "pending", artifact: null, queued_behind: "org/stalled" }, "gpu-0")],
    });
    renderApp(fakeApi({ models: [stalled, queued] }));

    const row = await screen.findByRole("listitem", { name: "stalled" });
    expect(row.textContent).toContain("Downloading 44% · 1.2 GB of 2.7 GB");
    expect(row.textContent).toContain(
      "The connection broke (ECONNREFUSED: connect ECONNREFUSED 10.0.0.2:443); trying again",
    );
    expect(card("queued").textContent).toContain("Queued after org/stalled's download");
  });

  it("says when a download began again from the start, and why, so its progress going back is no mystery", async () => {
    const restarted = model("org/restarted", {
      nodes: [
        onNode(
          {
            state: "downloading",
            artifact: "model-Q4_K_M.gguf",
            bytes_done: 27_000_000,
            bytes_total: 2_700_000_000,
            bytes_per_second: 30_000_000,
            restarted: "the server sent the whole file instead of the rest",
          },
          "gpu-0",
        ),
      ],
    });
    renderApp(fakeApi({ models: [restarted] }));
    const row = await screen.findByRole("listitem", { name: "restarted" });
    expect(row.textContent).toContain(
      "Begun again from the start: the server sent the whole file instead of the rest",
    );
  });

  it("shows what the model is: repo, file, quantization and size", async () => {
    renderApp(fakeApi({ models: [model("org/repo/repo-Q8_0.gguf")] }));
    const row = await screen.findByRole("listitem", { name: "repo-Q8_0" });
    expect(row.textContent).toContain("org/repo");
    expect(row.textContent).toContain("repo-Q8_0.gguf");
    expect(row.textContent).toContain("Q4_K_M");
    expect(row.textContent).toContain("2.7 GB");
    expect(row.textContent).toContain("Waiting for a node");
  });

  it("says a repo registered whole holds one GGUF file, or that each node picks one of several", async () => {
    const one = model("org/single");
    const several = model("org/several", {
      artifacts: [
        { ...one.artifacts[0]!, filename: "m-Q4_K_M.gguf" },
        { ...one.artifacts[0]!, filename: "m-Q8_0.gguf", quantization: "Q8_0" },
      ],
    });
    renderApp(fakeApi({ models: [one, several] }));
    expect((await screen.findByRole("listitem", { name: "single" })).textContent).toContain("1 GGUF file");
    expect(card("single").textContent).not.toContain("picks");
    expect(card("several").textContent).toContain("2 GGUF files, each node picks one");
  });

  it("shows a model only an endpoint serves as served there, with nothing to delete", async () => {
    const outside = model("qwen-7b", {
      repo: "",
      filename: null,
      source: "endpoint",
      display_name: "qwen-7b",
      artifacts: [],
      ready: true,
      nodes: [onNode({ state: "ready", artifact: null }, "vllm")],
    });
    renderApp(
      fakeApi({ models: [outside], nodes: [node("vllm", { kind: "endpoint", backend: "external" })] }),
    );
    const row = await screen.findByRole("listitem", { name: "qwen-7b" });
    expect(row.textContent).toContain("Served by 1 endpoint (vllm)");
    expect(within(row).queryByRole("button", { name: /Delete/ })).toBeNull();
    // An endpoint loads its models itself: no Load button that could only fail.
    expect(within(row).queryByRole("button", { name: /^Load / })).toBeNull();
    expect(row.textContent).not.toContain("File");
  });

  it("marks a ready model and says ready per node", async () => {
    const ready = model("org/ready", {
      ready: true,
      nodes: [onNode({ state: "ready", artifact: "model-Q4_K_M.gguf" })],
    });
    renderApp(fakeApi({ models: [ready] }));
    const row = await screen.findByRole("listitem", { name: "ready" });
    expect(within(row).getAllByText("Ready").length).toBe(2);
  });

  it("spells out errors, unsupported nodes, waiting and verifying in words", async () => {
    const mixed = model("org/mixed", {
      nodes: [
        onNode({ state: "error", artifact: "model-Q4_K_M.gguf", message: "sha256 mismatch" }, "gpu-0"),
        onNode({ state: "unsupported", artifact: null, reason: "no GGUF file" }, "gpu-1"),
        onNode({ state: "pending", artifact: null }, "gpu-2"),
        onNode({ state: "verifying", artifact: "model-Q4_K_M.gguf" }, "gpu-3"),
      ],
    });
    renderApp(fakeApi({ models: [mixed] }));
    const row = await screen.findByRole("listitem", { name: "mixed" });
    expect(row.textContent).toContain("Error: sha256 mismatch");
    expect(row.textContent).toContain("Can't run here: no GGUF file");
    expect(row.textContent).toContain("Waiting");
    expect(row.textContent).toContain("Verifying");
  });

  it("shows what to paste when nothing is registered", async () => {
    renderApp(fakeApi({ models: [] }));
    expect(await screen.findByText("No models yet")).toBeTruthy();
    expect(screen.getByText("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF")).toBeTruthy();
    expect(screen.getByText("ggml-org/gemma-3-270m-it-GGUF:Q8_0")).toBeTruthy();
  });

  it("filters by search and says when nothing matches", async () => {
    renderApp(fakeApi({ models: [model("org/alpha"), model("org/beta")] }));
    const search = await screen.findByLabelText("Search models");

    fireEvent.change(search, { target: { value: "ALP" } });
    expect(card("alpha")).toBeTruthy();
    expect(screen.queryByRole("listitem", { name: "beta" })).toBeNull();

    fireEvent.change(search, { target: { value: "gamma" } });
    expect(screen.getByText("No models match “gamma”")).toBeTruthy();

    fireEvent.click(screen.getByRole("button", { name: "Clear search" }));
    expect(card("alpha")).toBeTruthy();
    expect(card("beta")).toBeTruthy();
  });
});

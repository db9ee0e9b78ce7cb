// @vitest-environment jsdom
import { act, fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Endpoint, NodeInfo } from "../../../src-main/contract";
import { ApiError } from "../../../src-renderer/api";
import { fakeApi, joinInfo, model, node, notFound, onNode, renderApp, unavailable } from "./fakes";

const endpoint: Endpoint = {
  id: "ep-1",
  name: "vllm-box",
  url: "http://192.168.1.20:8000/v1",
  has_api_key: true,
  status: "online",
  last_error: null,
  last_checked_at: null,
  models: ["meta-llama/Llama-3.1-8B-Instruct"],
  parallel: 4,
  created_at: "2026-01-01T00:00:00.000Z",
};

/** The node an endpoint stands as, as `node.updated` events carry it. */
function endpointNode(of: Endpoint, overrides: Partial<NodeInfo> = {}): NodeInfo {
  return node(of.name, {
    id: of.id,
    url: of.url,
    kind: "endpoint",
    backend: "external",
    devices: [],
    memory: { total_bytes: 0, free_bytes: 0 },
    status: of.status,
    models: of.models.map((name) => ({ model: name, artifact: null, state: "ready" as const })),
    parallel: of.parallel,
    ...overrides,
  });
}

describe("the nodes page", () => {
  it("shows each node's backend, devices, memory, loaded models and health", async () => {
    const busy = node("gpu-0", {
      llama_cpp: { build: "local", release: "b6000" },
      loaded: [
        { model: "org/repo", sequences: 4, busy: 2 },
        // Registered for the same file: one load.
        { model: "org/repo/a.gguf", sequences: 4, busy: 2, shares_load_with: "org/repo" },
      ],
      max_loaded_models: 2,
      models: [
        { model: "org/repo", artifact: "a.gguf", state: "ready" },
        { model: "org/other", artifact: null, state: "pending" },
      ],
    });
    const offline = node("cpu-0", {
      backend: "cpu",
      devices: [],
      status: "offline",
      models: [{ model: "org/repo", artifact: "a.gguf", state: "ready" }],
      last_seen_at: new Date(Date.now() - 5 * 60_000).toISOString(),
    });
    const justGone = node("cpu-1", {
      backend: "cpu",
      status: "offline",
      last_seen_at: new Date(Date.now() - 9_000).toISOString(),
    });
    renderApp(fakeApi({ nodes: [offline, busy, justGone] }), { route: "nodes" });

    const gpu = await screen.findByRole("listitem", { name: "gpu-0" });
    for (const text of [
      "Worker",
      "CUDA",
      "llama.cpp b6000 · built here",
      "NVIDIA GeForce RTX 4090",
      "6.0 GB used of 24.0 GB",
      "Online",
    ]) {
      expect(gpu.textContent).toContain(text);
    }
    expect(gpu.textContent).toContain("2 of 4 busy");
    // How many it may hold: a third model would unload one.
    expect(gpu.textContent).toContain("Loaded · 1 of at most 2");
    expect(gpu.textContent).toContain("1 ready · 1 waiting");
    const memory = within(gpu).getByRole("progressbar", { name: "Memory used on gpu-0" });
    expect(memory.getAttribute("aria-valuenow")).toBe("6000000000");
    expect(memory.getAttribute("aria-valuemax")).toBe("24000000000");

    const cpu = screen.getByRole("listitem", { name: "cpu-0" });
    expect(cpu.textContent).toContain("CPU");
    expect(cpu.textContent).toContain("Offline · last seen 5 min ago");
    // Seconds ago: gone silent, not "just now".
    expect(screen.getByRole("listitem", { name: "cpu-1" }).textContent).toContain(
      "Offline · last seen under a minute ago",
    );
    expect(cpu.textContent).toContain("When last seen: 1 ready");
    expect(within(cpu).getByRole("note", { name: "Why cpu-0 takes no requests" }).textContent).toBe(
      "It stopped sending heartbeats (silent for over 6 s).",
    );
    expect(within(gpu).queryByRole("note")).toBeNull();
    expect(screen.getByText(/1 of 3 nodes online/)).toBeTruthy();
  });

  it("marks a worker that runs another llmlb than the server's", async () => {
    const behind = node("gpu-old", { llmlb_version: "0.0.9" });
    const same = node("gpu-same", { llmlb_version: "0.1.0" });
    renderApp(fakeApi({ nodes: [behind, same] }), { route: "nodes" });
    const old = await screen.findByRole("listitem", { name: "gpu-old" });
    const tag = within(old).getByText("llmlb 0.0.9");
    expect(tag.getAttribute("title")).toBe("This server runs llmlb 0.1.0: run one llmlb on every machine");
    expect(screen.getByRole("listitem", { name: "gpu-same" }).textContent).not.toContain("llmlb 0.1.0");
  });

  it("says a node is drained or stopping while it finishes its requests, and drains one and puts it back", async () => {
    const api = fakeApi({
      nodes: [
        node("gpu-1", { draining: true }),
        node("gpu-2"),
        node("gpu-3", { draining: true, drained: true }),
      ],
    });
    renderApp(api, { route: "nodes" });
    const stopping = await screen.findByRole("listitem", { name: "gpu-1" });
    expect(stopping.textContent).toContain("Stopping");
    expect(stopping.textContent).toContain("Its machine is stopping it: its running requests finish");
    // Stopping by its own machine's word: nothing to put back.
    expect(within(stopping).queryByRole("button", { name: /^Drain|^Put back in rotation/ })).toBeNull();
    const drained = screen.getByRole("listitem", { name: "gpu-3" });
    expect(drained.textContent).toContain("Drained: its running requests finish, and nothing new goes to it");
    // Said in the status line too: a drain outlives a restart, and would go on unseen.
    expect(screen.getByText(/3 nodes online \(1 drained\)/)).toBeTruthy();
    expect(screen.getByText("Serving")).toBeTruthy();
    const online = screen.getByRole("listitem", { name: "gpu-2" });
    expect(online.textContent).not.toContain("Drained");

    await act(async () => {
      const drain = within(online).getByRole("button", { name: "Drain gpu-2" });
      drain.focus();
      fireEvent.click(drain);
    });
    expect(api.setNodeDraining).toHaveBeenCalledWith("id-gpu-2", true);
    expect(screen.getByRole("listitem", { name: "gpu-2" }).textContent).toContain("Drained:");
    // Where the keyboard was: on the button, now named for what it does next.
    expect(document.activeElement).toBe(
      within(screen.getByRole("listitem", { name: "gpu-2" })).getByRole("button", {
        name: "Put back in rotation: gpu-2",
      }),
    );
    expect(screen.getAllByRole("status").at(-1)!.textContent).toContain("Drained gpu-2");

    await act(async () => {
      fireEvent.click(within(drained).getByRole("button", { name: "Put back in rotation: gpu-3" }));
    });
    expect(api.setNodeDraining).toHaveBeenCalledWith("id-gpu-3", false);
    expect(screen.getByRole("listitem", { name: "gpu-3" }).textContent).toContain("Online");
    expect(screen.getAllByRole("status").at(-1)!.textContent).toContain("gpu-3 is back in rotation");
  });

  it("says a node is failing, and why, while requests go to the others", async () => {
    const reason = "A request for org/repo failed before any answer (unreachable: connect ECONNREFUSED).";
    const failing = node("gpu-1", { health: { state: "failing", reason, since: new Date().toISOString() } });
    renderApp(fakeApi({ nodes: [failing] }), { route: "nodes" });
    const card = await screen.findByRole("listitem", { name: "gpu-1" });
    expect(card.textContent).toContain("Failing");
    expect(card.textContent).not.toContain("Online");
    const note = within(card).getByRole("note", { name: "Why gpu-1 takes no requests" });
    expect(note.textContent).toContain(reason);
    expect(note.textContent).toContain(
      "Passed over while other nodes can take its requests, and checked until it answers.",
    );
  });

  it("unloads a model from one worker's memory, from its card, and says so", async () => {
    const gpu0 = node("gpu-0", { loaded: [{ model: "org/repo", sequences: 4, busy: 0 }] });
    const offline = node("gpu-1", {
      status: "offline",
      loaded: [{ model: "org/repo", sequences: 4, busy: 0 }],
    });
    const api = fakeApi({ nodes: [gpu0, offline] });
    renderApp(api, { route: "nodes" });
    const card = await screen.findByRole("listitem", { name: "gpu-0" });
    // An offline node cannot be asked.
    expect(
      within(screen.getByRole("listitem", { name: "gpu-1" })).queryByRole("button", { name: /^Unload / }),
    ).toBeNull();
    await act(async () => {
      fireEvent.click(within(card).getByRole("button", { name: "Unload org/repo from gpu-0" }));
    });
    expect(api.unloadModel).toHaveBeenCalledWith("org/repo", "gpu-0");
    expect(screen.getAllByRole("status").at(-1)!.textContent).toContain("Unloaded org/repo from gpu-0");
  });

  it("says until when an idle model stays in memory, as Ollama's ps does", async () => {
    const until = new Date(Date.now() + 5 * 60_000);
    const idle = node("gpu-0", {
      loaded: [
        { model: "org/repo", sequences: 4, busy: 0, idle_until: until.toISOString() },
        { model: "org/busy", sequences: 4, busy: 1 },
      ],
    });
    renderApp(fakeApi({ nodes: [idle] }), { route: "nodes" });
    const card = await screen.findByRole("listitem", { name: "gpu-0" });
    const hhmm = `${String(until.getHours()).padStart(2, "0")}:${String(until.getMinutes()).padStart(2, "0")}`;
    const [idlePill, busyPill] = within(card)
      .getAllByText(/ of 4 busy|idle · /)
      .map((pill) => pill.textContent);
    expect(idlePill).toBe(`idle · 4 sequences · until ${hhmm}`);
    expect(busyPill).toBe("1 of 4 busy");
  });

  it("says a model asked to unload goes when its running requests end, and asks no second time", async () => {
    const going = node("gpu-0", { loaded: [{ model: "org/repo", sequences: 4, busy: 2, unloading: true }] });
    const api = fakeApi({ nodes: [going] });
    renderApp(api, { route: "nodes" });
    const card = await screen.findByRole("listitem", { name: "gpu-0" });
    expect(card.textContent).toContain("2 of 4 busy");
    expect(card.textContent).toContain("unloads when they end");
    // Still a button, so a keyboard's focus stays where it was, but it asks nothing more.
    const button = within(card).getByRole("button", { name: "Unload org/repo from gpu-0" });
    expect(button.getAttribute("aria-disabled")).toBe("true");
    expect(button.textContent).toBe("Unloading…");
    fireEvent.click(button);
    expect(api.unloadModel).not.toHaveBeenCalled();
  });

  it("says a model is still loading, and for how long, on the node and on the model's card", async () => {
    const since = new Date(Date.now() - 42_000).toISOString();
    const loading = node("gpu-0", {
      loaded: [{ model: "org/repo", sequences: 4, busy: 1, loading_since: since }],
      models: [{ model: "org/repo", artifact: "model-Q4_K_M.gguf", state: "ready" }],
    });
    const api = fakeApi({
      nodes: [loading],
      models: [
        model("org/repo", {
          ready: true,
          nodes: [onNode({ state: "ready", artifact: "model-Q4_K_M.gguf" }, "gpu-0")],
        }),
      ],
    });
    renderApp(api, { route: "nodes" });
    const gpu = await screen.findByRole("listitem", { name: "gpu-0" });
    // 42 s ago when the test began: a loaded machine may take a few seconds to render it.
    expect(gpu.textContent).toMatch(/Loading · 4\d s/);
    expect(gpu.textContent).not.toContain("1 of 4 busy");
    // Nothing to unload yet: it is not in memory.
    expect(within(gpu).queryByRole("button", { name: /^Unload / })).toBeNull();

    fireEvent.click(screen.getByRole("link", { name: "Models" }));
    const row = await screen.findByRole("list", { name: "repo on each node" });
    expect(row.textContent).toMatch(/Loading into memory · 4\d s/);
  });

  it("says which GPU backend was left out on a node, and why", async () => {
    const reason =
      "CUDA killed the device probe during its self-test on a tiny model (signal SIGABRT): CUDA error: the provided PTX was compiled with an unsupported toolchain. This machine has NVIDIA driver 580.159 (CUDA 13.0). Ways out: update the NVIDIA driver.";
    const fallback = node("box-cpu0", {
      backend: "cpu",
      devices: [],
      backends_left_out: [{ backend: "cuda", reason }],
    });
    renderApp(fakeApi({ nodes: [fallback, node("gpu-1")] }), { route: "nodes" });

    const note = await screen.findByRole("note", { name: "GPU backends left out on box-cpu0" });
    expect(note.textContent).toContain("GPU not used");
    expect(note.textContent).toContain("CUDA");
    expect(note.textContent).toContain(reason);
    expect(screen.queryByRole("note", { name: "GPU backends left out on gpu-1" })).toBeNull();
  });

  it("removes an offline worker after a confirmation, says so, and goes on from the next card", async () => {
    const retired = node("box-a", { status: "offline" });
    const api = fakeApi({
      nodes: [retired, node("box-b", { local: true }), node("vllm", { kind: "endpoint", status: "offline" })],
    });
    renderApp(api, { route: "nodes" });
    const card = await screen.findByRole("listitem", { name: "box-a" });
    // Not this machine's own running worker, which would be back at once; an endpoint is removed below.
    expect(screen.queryByRole("button", { name: "Remove box-b" })).toBeNull();
    expect(within(screen.getByRole("listitem", { name: "box-b" })).getByText("This machine")).toBeTruthy();
    expect(
      within(screen.getByRole("list", { name: "Nodes" })).queryByRole("button", { name: "Remove vllm" }),
    ).toBeNull();

    fireEvent.click(within(card).getByRole("button", { name: "Remove box-a" }));
    const dialog = screen.getByRole("dialog", { name: "Remove box-a?" });
    expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "Cancel" }));
    // Over the whole page, not inside the (dimmed, offline) card: nothing behind it paints over it.
    expect(card.contains(dialog)).toBe(false);
    expect(dialog.closest(".dialog-backdrop")?.parentElement).toBe(document.body);
    await act(async () => {
      fireEvent.click(within(dialog).getByRole("button", { name: "Remove" }));
    });
    expect(api.removeNode).toHaveBeenCalledWith("id-box-a", false);
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.queryByRole("listitem", { name: "box-a" })).toBeNull();
    expect(screen.getAllByRole("status").at(-1)!.textContent).toContain("Removed box-a");
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "box-b" }));
  });

  it("removes another machine's online worker by force, saying its token stops working", async () => {
    const api = fakeApi({ nodes: [node("borrowed-box"), node("own-box", { local: true })] });
    renderApp(api, { route: "nodes" });
    const card = await screen.findByRole("listitem", { name: "borrowed-box" });
    fireEvent.click(within(card).getByRole("button", { name: "Remove borrowed-box" }));
    const dialog = screen.getByRole("dialog", { name: "Remove borrowed-box?" });
    expect(dialog.textContent).toContain("its token stops working");
    expect(dialog.textContent).toContain("unless that was replaced first");
    await act(async () => {
      fireEvent.click(within(dialog).getByRole("button", { name: "Remove" }));
    });
    expect(api.removeNode).toHaveBeenCalledWith("id-borrowed-box", true);
    expect(screen.queryByRole("listitem", { name: "borrowed-box" })).toBeNull();
  });

  it("asked to remove an offline machine that comes back meanwhile, removes nothing by force", async () => {
    const api = fakeApi({ nodes: [node("borrowed-box", { status: "offline" })] });
    const { events } = renderApp(api, { route: "nodes" });
    fireEvent.click(await screen.findByRole("button", { name: "Remove borrowed-box" }));
    events.latest.open();
    await act(async () => events.latest.send({ type: "node.updated", node: node("borrowed-box") }));
    const dialog = screen.getByRole("dialog", { name: "Remove borrowed-box?" });
    expect(within(dialog).getByRole("status").textContent).toBe(
      "borrowed-box is online again: it stays. To remove it while it runs, close this and choose Remove again.",
    );
    expect((within(dialog).getByRole("button", { name: "Remove" }) as HTMLButtonElement).disabled).toBe(true);
    expect(dialog.textContent).not.toContain("its token stops working");
    fireEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(api.removeNode).not.toHaveBeenCalled();
    // Asked again now, it is the removal by force.
    fireEvent.click(screen.getByRole("button", { name: "Remove borrowed-box" }));
    expect(screen.getByRole("dialog", { name: "Remove borrowed-box?" }).textContent).toContain(
      "its token stops working",
    );
  });

  it("says which models' pins still name a node it removed", async () => {
    const api = fakeApi({ nodes: [node("box-a", { status: "offline" }), node("box-b")] });
    api.removeNode.mockResolvedValue({
      id: "id-box-a",
      name: "box-a",
      url: "http://x",
      models: [],
      pinned_models: ["org/repo"],
    });
    renderApp(api, { route: "nodes" });
    fireEvent.click(await screen.findByRole("button", { name: "Remove box-a" }));
    await act(async () => {
      fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Remove" }));
    });
    expect(
      screen
        .getAllByRole("alert")
        .map((alert) => alert.textContent)
        .join(" "),
    ).toContain("The pin of org/repo still names box-a: pin it anew in its settings");
  });

  it("after removing the only node, goes on from the page's heading", async () => {
    const api = fakeApi({ nodes: [node("box-a", { status: "offline" })] });
    renderApp(api, { route: "nodes" });
    fireEvent.click(await screen.findByRole("button", { name: "Remove box-a" }));
    await act(async () => {
      fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Remove" }));
    });
    expect(screen.getByText("No nodes yet")).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "Nodes", level: 1 }));
  });

  it("keeps an offline worker and shows the server's message when it refuses (the node came back)", async () => {
    const message =
      "Node box-a is online: it would register again at its next heartbeat. Stop it first (its `llmlb serve` or `llmlb node --join`), then remove it once it shows offline.";
    const api = fakeApi(
      { nodes: [node("box-a", { status: "offline" })] },
      { removeNode: vi.fn(async () => Promise.reject(new ApiError(message, 409, "node.online"))) },
    );
    renderApp(api, { route: "nodes" });
    fireEvent.click(await screen.findByRole("button", { name: "Remove box-a" }));
    await act(async () => {
      fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Remove" }));
    });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.getByRole("listitem", { name: "box-a" })).toBeTruthy();
    // The server's words, its commands set as code rather than shown with backticks.
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain(message.replaceAll("`", ""));
    expect(within(alert).getByText("llmlb node --join", { selector: "code" })).toBeTruthy();
  });

  it("says so in an open Remove dialog when the node comes back online, removes nothing, and keeps the focus on its card", async () => {
    // This machine's own worker, started again: one that runs would be back at once.
    const api = fakeApi({ nodes: [node("box-a", { status: "offline", local: true })] });
    const { events } = renderApp(api, { route: "nodes" });
    // As a click in a browser does, the button takes the focus first.
    const trash = await screen.findByRole("button", { name: "Remove box-a" });
    trash.focus();
    fireEvent.click(trash);
    events.latest.open();
    await act(async () => events.latest.send({ type: "node.updated", node: node("box-a", { local: true }) }));

    const dialog = screen.getByRole("dialog", { name: "Remove box-a?" });
    expect(within(dialog).getByRole("status").textContent).toBe("box-a is online again: it stays.");
    expect((within(dialog).getByRole("button", { name: "Remove" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(api.removeNode).not.toHaveBeenCalled();
    expect(screen.queryByRole("button", { name: "Remove box-a" })).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "box-a" }));
  });

  it("gives the command that joins another machine, and replaces the node token after a confirmation", async () => {
    const api = fakeApi({ nodes: [node("gpu-0")] });
    renderApp(api, { route: "nodes" });
    const section = await screen.findByRole("region", { name: "Add a machine" });
    const first = joinInfo("llmlb_node_first").commands[0]!.command;
    // Shown without its token until asked.
    expect(await within(section).findByText(first.replace("llmlb_node_first", "••••••••••••"))).toBeTruthy();
    expect(section.textContent).not.toContain("llmlb_node_first");
    fireEvent.click(within(section).getByRole("button", { name: "Show the node token" }));
    expect(within(section).getByText(first)).toBeTruthy();
    expect(
      within(section).getByRole("button", { name: "Copy the command that joins by http://192.168.1.5:8080" }),
    ).toBeTruthy();

    fireEvent.click(within(section).getByRole("button", { name: "Replace the node token" }));
    const dialog = screen.getByRole("dialog", { name: "Replace the node token?" });
    expect(dialog.textContent).toContain("Machines already joined stay, restarted too");
    expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "Cancel" }));
    await act(async () => {
      fireEvent.click(within(dialog).getByRole("button", { name: "Replace" }));
    });
    expect(api.replaceNodeToken).toHaveBeenCalledTimes(1);
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(within(section).queryByText(first)).toBeNull();
    expect(within(section).getByText(joinInfo("llmlb_node_second").commands[0]!.command)).toBeTruthy();
    expect(screen.getAllByRole("status").at(-1)!.textContent).toContain("Replaced the node token");
  });

  it("shows the new join command when the node token is replaced elsewhere", async () => {
    const api = fakeApi({ nodes: [node("gpu-0")] });
    api.nodeJoin
      .mockResolvedValueOnce(joinInfo("llmlb_node_first"))
      .mockResolvedValue(joinInfo("llmlb_node_cli"));
    const { events } = renderApp(api, { route: "nodes" });
    const section = await screen.findByRole("region", { name: "Add a machine" });
    fireEvent.click(await within(section).findByRole("button", { name: "Show the node token" }));
    expect(within(section).getByText(joinInfo("llmlb_node_first").commands[0]!.command)).toBeTruthy();
    events.latest.open();
    await act(async () => events.latest.send({ type: "node.token_replaced" }));
    expect(await within(section).findByText(joinInfo("llmlb_node_cli").commands[0]!.command)).toBeTruthy();
  });

  it("says why no machine can join an llmlb on loopback, and offers no replacement of a configured token", async () => {
    const api = fakeApi(
      { nodes: [node("gpu-0")] },
      {
        nodeJoin: vi.fn(async () => ({
          node_token: "llmlb_node_set",
          token_configured: true,
          commands: [],
          unreachable: "This llmlb listens on 127.0.0.1 only, which other machines cannot reach.",
        })),
      },
    );
    renderApp(api, { route: "nodes" });
    const section = await screen.findByRole("region", { name: "Add a machine" });
    expect(
      await within(section).findByText(
        "This llmlb listens on 127.0.0.1 only, which other machines cannot reach.",
      ),
    ).toBeTruthy();
    expect(section.textContent).toContain("set by LLMLB_NODE_TOKEN");
    expect(section.textContent).not.toContain("llmlb_node_set");
    expect(within(section).queryByRole("button", { name: "Replace the node token" })).toBeNull();
  });

  it("tags an endpoint's card as an endpoint, once: its backend (external) would say it again", async () => {
    const api = fakeApi({ nodes: [endpointNode(endpoint), node("gpu-0")] });
    renderApp(api, { route: "nodes" });
    const list = await screen.findByRole("list", { name: "Nodes" });
    const card = within(list).getByRole("listitem", { name: endpoint.name });
    expect(within(card).getByText("Endpoint")).toBeTruthy();
    expect(within(card).queryByText("External")).toBeNull();
    expect(within(within(list).getByRole("listitem", { name: "gpu-0" })).getByText("CUDA")).toBeTruthy();
  });

  it("says its cards are as last known while the dashboard is cut off from llmlb, until it answers again", async () => {
    const api = fakeApi({ nodes: [node("gpu-0")] });
    const { events } = renderApp(api, { route: "nodes" });
    const list = await screen.findByRole("list", { name: "Nodes" });
    events.latest.open();
    act(() => events.latest.drop());
    expect(
      screen.getByText(/Disconnected from llmlb: the nodes below are as they were last known/),
    ).toBeTruthy();
    expect(list.classList.contains("is-stale")).toBe(true);
    await act(async () => events.latest.open());
    expect(screen.queryByText(/Disconnected from llmlb/)).toBeNull();
    expect((await screen.findByRole("list", { name: "Nodes" })).classList.contains("is-stale")).toBe(false);
  });

  it("says external endpoints are not available when the server lacks them", async () => {
    const api = fakeApi(
      { nodes: [node("gpu-0")] },
      { listEndpoints: vi.fn(async () => Promise.reject(notFound())) },
    );
    renderApp(api, { route: "nodes" });
    expect(await screen.findByText(/does not support external endpoints yet/)).toBeTruthy();
    expect(screen.queryByRole("form", { name: "Add an endpoint" })).toBeNull();
  });

  it("lists, adds and removes external endpoints", async () => {
    const added = {
      ...endpoint,
      id: "ep-2",
      name: "ollama",
      url: "http://127.0.0.1:11434/v1",
      has_api_key: false,
    };
    const api = fakeApi(
      {},
      {
        listEndpoints: vi.fn(async () => ({ data: [endpoint] })),
        addEndpoint: vi.fn(async () => added),
      },
    );
    renderApp(api, { route: "nodes" });
    const row = await screen.findByRole("listitem", { name: "vllm-box" });
    expect(row.textContent).toContain("http://192.168.1.20:8000/v1");
    expect(row.textContent).toContain("meta-llama/Llama-3.1-8B-Instruct");

    const form = screen.getByRole("form", { name: "Add an endpoint" });
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "ollama" } });
    fireEvent.change(within(form).getByLabelText("URL"), { target: { value: "http://127.0.0.1:11434" } });
    await act(async () => {
      fireEvent.click(within(form).getByRole("button", { name: "Add endpoint" }));
    });
    expect(api.addEndpoint).toHaveBeenCalledWith({ name: "ollama", url: "http://127.0.0.1:11434" });
    expect(screen.getByRole("listitem", { name: "ollama" })).toBeTruthy();
    expect((within(form).getByLabelText("Name") as HTMLInputElement).value).toBe("");

    fireEvent.click(screen.getByRole("button", { name: "Remove vllm-box" }));
    await act(async () => {
      fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Remove" }));
    });
    expect(api.removeEndpoint).toHaveBeenCalledWith("ep-1");
    expect(screen.queryByRole("listitem", { name: "vllm-box" })).toBeNull();
    // Said politely, and the keyboard carries on from the list's heading, not from the top of the page.
    expect(screen.getAllByRole("status").at(-1)!.textContent).toContain("Removed vllm-box");
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "External endpoints" }));
  });

  it("follows endpoints as events tell: added elsewhere, offline and back, removed", async () => {
    const second: Endpoint = {
      ...endpoint,
      id: "ep-2",
      name: "cli-second",
      url: "http://127.0.0.1:18510/v1",
      has_api_key: false,
      models: ["org/repo"],
    };
    const api = fakeApi({}, { listEndpoints: vi.fn(async () => ({ data: [endpoint] })) });
    const { events } = renderApp(api, { route: "nodes" });
    const section = await screen.findByRole("region", { name: "External endpoints" });
    await within(section).findByRole("listitem", { name: "vllm-box" });
    events.latest.open();

    // Added with `llmlb endpoint add`: read again, as the node does not say all of it (the API key).
    api.listEndpoints.mockResolvedValue({ data: [endpoint, second] });
    events.latest.send({ type: "node.updated", node: endpointNode(second) });
    const row = await within(section).findByRole("listitem", { name: "cli-second" });
    expect(row.textContent).toContain("Online");

    // Its server stopped: offline, and why, as on its node card.
    const reason = "Cannot reach http://127.0.0.1:18510/v1/models: connect ECONNREFUSED.";
    events.latest.send({
      type: "node.updated",
      node: endpointNode(second, {
        status: "offline",
        health: { state: "offline", reason, since: new Date().toISOString() },
      }),
    });
    expect(row.textContent).toContain("Offline");
    expect(row.textContent).not.toContain("Online");
    expect(row.textContent).toContain(`Last check failed: ${reason}`);

    // Back, serving another model too.
    events.latest.send({
      type: "node.updated",
      node: endpointNode({ ...second, models: ["org/repo", "org/more"] }),
    });
    expect(row.textContent).toContain("Online");
    expect(row.textContent).not.toContain("Last check failed");
    expect(row.textContent).toContain("Models: org/repo, org/more");

    // Removed with `llmlb endpoint rm`; a worker's news changes nothing here.
    events.latest.send({ type: "node.removed", id: "ep-2" });
    events.latest.send({ type: "node.updated", node: node("gpu-0") });
    expect(within(section).queryByRole("listitem", { name: "cli-second" })).toBeNull();
    expect(within(section).getByRole("listitem", { name: "vllm-box" })).toBeTruthy();
    expect(api.listEndpoints).toHaveBeenCalledTimes(2);
  });

  it("reads endpoints again after reconnecting, and offers Try again when it could not", async () => {
    const down = new ApiError("Can't reach the llmlb server. Is it still running?", 0);
    const api = fakeApi({}, { listEndpoints: vi.fn(async () => Promise.reject(down)) });
    const { events } = renderApp(api, { route: "nodes" });
    const section = await screen.findByRole("region", { name: "External endpoints" });
    expect((await within(section).findByRole("alert")).textContent).toContain(
      "Could not read endpoints: Can't reach the llmlb server.",
    );
    await act(async () => fireEvent.click(within(section).getByRole("button", { name: "Try again" })));
    expect(api.listEndpoints).toHaveBeenCalledTimes(2);
    expect(within(section).getByRole("alert")).toBeTruthy();

    events.latest.open();
    events.latest.drop();
    api.listEndpoints.mockResolvedValue({ data: [endpoint] });
    events.latest.open();
    expect(await within(section).findByRole("listitem", { name: "vllm-box" })).toBeTruthy();
    expect(within(section).queryByRole("alert")).toBeNull();
  });

  it("says at the form why the server refused an endpoint, marks the field and puts the keyboard there", async () => {
    const api = fakeApi(
      {},
      {
        addEndpoint: vi.fn(async () => {
          throw new ApiError("name: letters, digits, '.', '_' and '-' only", 400, "request.invalid", "name");
        }),
      },
    );
    renderApp(api, { route: "nodes" });
    const form = await screen.findByRole("form", { name: "Add an endpoint" });
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "bad name" } });
    fireEvent.change(within(form).getByLabelText("URL"), { target: { value: "http://x" } });
    fireEvent.change(within(form).getByLabelText(/API key/), { target: { value: "sk-1" } });
    await act(async () => {
      fireEvent.click(within(form).getByRole("button", { name: "Add endpoint" }));
    });
    expect(api.addEndpoint).toHaveBeenCalledWith({ name: "bad name", url: "http://x", api_key: "sk-1" });
    const nameField = within(form).getByLabelText("Name") as HTMLInputElement;
    expect(nameField.value).toBe("bad name");
    // At the form, in words without the API's field name, and at the field.
    const problem = within(form).getByRole("alert");
    expect(problem.textContent?.trim()).toBe("Letters, digits, '.', '_' and '-' only");
    expect(nameField.getAttribute("aria-invalid")).toBe("true");
    expect(nameField.getAttribute("aria-describedby")).toBe(problem.id);
    expect(document.activeElement).toBe(nameField);
    // Editing the field takes the refusal back.
    fireEvent.change(nameField, { target: { value: "good-name" } });
    expect(within(form).queryByRole("alert")).toBeNull();
    expect(nameField.getAttribute("aria-invalid")).toBeNull();
  });
});

describe("how many requests an endpoint gets at once", () => {
  const problem = "Requests at once must be a whole number from 1 to 1,024, or empty for 4.";

  it("is asked for on add, optional, and told at the field when it does not fit", async () => {
    const api = fakeApi({}, { addEndpoint: vi.fn(async (request) => ({ ...endpoint, ...request })) });
    renderApp(api, { route: "nodes" });
    const form = await screen.findByRole("form", { name: "Add an endpoint" });
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "big" } });
    fireEvent.change(within(form).getByLabelText("URL"), { target: { value: "http://gpu-box:8000" } });
    const field = within(form).getByLabelText(/Requests at once/) as HTMLInputElement;
    expect(field.value).toBe("");
    expect(field.placeholder).toBe("4");
    const add = within(form).getByRole("button", { name: "Add endpoint" }) as HTMLButtonElement;

    for (const wrong of ["0", "1025", "2.5", "lots"]) {
      fireEvent.change(field, { target: { value: wrong } });
      expect(field.getAttribute("aria-invalid"), wrong).toBe("true");
      expect(describedBy(field), wrong).toContain(problem);
      expect(unavailable(add), wrong).toBe(true);
    }
    fireEvent.change(field, { target: { value: "32" } });
    expect(field.getAttribute("aria-invalid")).toBeNull();
    expect(describedBy(field)).not.toContain(problem);
    await act(async () => {
      fireEvent.click(add);
    });
    expect(api.addEndpoint).toHaveBeenCalledWith({ name: "big", url: "http://gpu-box:8000", parallel: 32 });
    expect(field.value).toBe("");
    expect((await screen.findByRole("listitem", { name: "big" })).textContent).toContain(
      "32 requests at once",
    );
  });

  it("shows each endpoint's, changes it in place, and follows changes made elsewhere", async () => {
    const api = fakeApi(
      {},
      {
        listEndpoints: vi.fn(async () => ({ data: [endpoint] })),
        updateEndpoint: vi.fn(async (_id, patch) => ({ ...endpoint, ...patch })),
      },
    );
    const { events } = renderApp(api, { route: "nodes" });
    const section = await screen.findByRole("region", { name: "External endpoints" });
    const row = await within(section).findByRole("listitem", { name: "vllm-box" });
    expect(row.textContent).toContain("4 requests at once");

    const change = within(row).getByRole("button", { name: "Change requests at once for vllm-box" });
    fireEvent.click(change);
    const field = within(row).getByLabelText("Requests at once for vllm-box") as HTMLInputElement;
    expect(field.value).toBe("4");
    expect(document.activeElement).toBe(field);
    const save = within(row).getByRole("button", { name: "Save" }) as HTMLButtonElement;
    fireEvent.change(field, { target: { value: "2000" } });
    expect(field.getAttribute("aria-invalid")).toBe("true");
    expect(describedBy(field)).toContain("Requests at once must be a whole number from 1 to 1,024.");
    expect(unavailable(save)).toBe(true);

    // Cancel keeps what was there.
    fireEvent.click(within(row).getByRole("button", { name: "Cancel" }));
    expect(within(row).queryByLabelText("Requests at once for vllm-box")).toBeNull();
    expect(row.textContent).toContain("4 requests at once");
    expect(api.updateEndpoint).not.toHaveBeenCalled();

    fireEvent.click(within(row).getByRole("button", { name: "Change requests at once for vllm-box" }));
    fireEvent.change(within(row).getByLabelText("Requests at once for vllm-box"), {
      target: { value: "16" },
    });
    await act(async () => {
      fireEvent.click(within(row).getByRole("button", { name: "Save" }));
    });
    expect(api.updateEndpoint).toHaveBeenCalledWith("ep-1", { parallel: 16 });
    expect(within(row).queryByLabelText("Requests at once for vllm-box")).toBeNull();
    expect(row.textContent).toContain("16 requests at once");
    expect(document.activeElement).toBe(
      within(row).getByRole("button", { name: "Change requests at once for vllm-box" }),
    );

    // Changed with `llmlb endpoint set`: its node says so.
    events.latest.open();
    events.latest.send({ type: "node.updated", node: endpointNode({ ...endpoint, parallel: 1 }) });
    expect(row.textContent).toContain("1 request at once");
  });

  it("shows the server's refusal of a change at the field, and keeps what was typed", async () => {
    const api = fakeApi(
      {},
      {
        listEndpoints: vi.fn(async () => ({ data: [endpoint] })),
        updateEndpoint: vi.fn(async () => {
          throw new ApiError("There is no endpoint named or with id ep-1.", 404, "endpoint.not_found");
        }),
      },
    );
    renderApp(api, { route: "nodes" });
    const row = await screen.findByRole("listitem", { name: "vllm-box" });
    fireEvent.click(within(row).getByRole("button", { name: "Change requests at once for vllm-box" }));
    const field = within(row).getByLabelText("Requests at once for vllm-box") as HTMLInputElement;
    fireEvent.change(field, { target: { value: "12" } });
    await act(async () => {
      fireEvent.click(within(row).getByRole("button", { name: "Save" }));
    });
    expect(field.value).toBe("12");
    expect(describedBy(field)).toContain("There is no endpoint named or with id ep-1.");
    expect(row.textContent).not.toContain("12 requests at once");
  });
});

/** What a field's `aria-describedby` points at, as a screen reader reads it out. */
function describedBy(field: HTMLElement): string {
  return (field.getAttribute("aria-describedby") ?? "")
    .split(" ")
    .map((id) => document.getElementById(id)?.textContent ?? "")
    .join(" ");
}

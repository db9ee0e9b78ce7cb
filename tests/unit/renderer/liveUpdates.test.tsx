// @vitest-environment jsdom
import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ModelList } from "../../../src-main/contract";
import { adminTokenIn } from "../../../src-renderer/adminToken";
import { ApiError } from "../../../src-renderer/api";
import { deferred, fakeApi, model, node, onNode, renderApp, unavailable } from "./fakes";

const downloading = model("org/repo", {
  nodes: [
    onNode({
      state: "downloading",
      artifact: "model-Q4_K_M.gguf",
      bytes_done: 500_000_000,
      bytes_total: 1_000_000_000,
      bytes_per_second: 10_000_000,
    }),
  ],
});
const ready = {
  ...downloading,
  ready: true,
  nodes: [onNode({ state: "ready" as const, artifact: "model-Q4_K_M.gguf" })],
};

describe("live updates from /v0/events", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("subscribes before it reads the snapshot", async () => {
    const api = fakeApi({ models: [downloading] });
    const { events } = renderApp(api);
    expect(events.sources.length).toBe(1);
    expect(events.latest.url).toBe("/v0/events");
    await screen.findByRole("listitem", { name: "repo" });
    expect(api.listModels).toHaveBeenCalledTimes(1);
  });

  it("turns a downloading row into a ready one without reloading", async () => {
    const api = fakeApi({ models: [downloading] });
    const { events } = renderApp(api);
    const row = await screen.findByRole("listitem", { name: "repo" });
    expect(within(row).getByRole("progressbar")).toBeTruthy();

    events.latest.open();
    events.latest.send({ type: "model.updated", model: ready });

    expect(within(row).queryByRole("progressbar")).toBeNull();
    expect(within(row).getAllByText("Ready").length).toBe(2);
    expect(screen.getByText(/1 of 1 model ready/)).toBeTruthy();
    expect(api.listModels).toHaveBeenCalledTimes(1);
  });

  it("adds a model registered elsewhere at the top, and removes a deleted one", async () => {
    const { events } = renderApp(fakeApi({ models: [downloading] }));
    await screen.findByRole("listitem", { name: "repo" });
    events.latest.open();

    events.latest.send({ type: "model.updated", model: model("other/newer") });
    const names = screen.getAllByRole("heading", { level: 3 }).map((h) => h.textContent);
    expect(names).toEqual(["newer", "repo"]);

    events.latest.send({ type: "model.removed", name: "org/repo" });
    expect(screen.queryByRole("listitem", { name: "repo" })).toBeNull();
    expect(screen.getByRole("listitem", { name: "newer" })).toBeTruthy();
  });

  it("reads the snapshot again after reconnecting", async () => {
    const api = fakeApi({ models: [downloading] });
    const { events } = renderApp(api);
    await screen.findByRole("listitem", { name: "repo" });
    events.latest.open();

    events.latest.drop();
    expect(screen.getByText("Disconnected")).toBeTruthy();
    // While the page was disconnected the model finished and another was registered.
    api.listModels.mockResolvedValue({
      total: 2,
      limit: 1000,
      offset: 0,
      data: [model("org/second"), ready],
    });
    events.latest.open();

    expect(await screen.findByRole("listitem", { name: "second" })).toBeTruthy();
    expect(api.listModels).toHaveBeenCalledTimes(2);
    expect(within(screen.getByRole("listitem", { name: "repo" })).queryByRole("progressbar")).toBeNull();
    expect(screen.queryByText("Disconnected")).toBeNull();
  });

  it("looks disconnected when the server goes away: no Serving, stale badges, and how to reconnect", async () => {
    const api = fakeApi({ models: [ready], nodes: [node("gpu-0")] });
    const { events } = renderApp(api);
    const card = await screen.findByRole("listitem", { name: "repo" });
    events.latest.open();
    expect(screen.getByText("Serving")).toBeTruthy();
    // What screen readers were told, once it held for a moment.
    const spoken = () => screen.getByRole("banner").querySelector("[aria-live]")!.textContent;
    await waitFor(() => expect(spoken()).toMatch(/^Serving\./), { timeout: 4000 });

    events.latest.drop();
    const header = screen.getByRole("banner");
    expect(within(header).queryByText("Serving")).toBeNull();
    // Nor does the line screen readers find say so (the alert says the connection is lost).
    expect(spoken()).toBe("");
    expect(within(header).getByText("Disconnected")).toBeTruthy();
    // What was last known is said as such, not as the present.
    expect(header.textContent).toContain("last known: 1 of 1 model ready");
    expect(unavailable(within(header).getByRole("button", { name: /Pause/ }))).toBe(true);
    const notice = screen.getByRole("alert");
    expect(notice.textContent).toContain("Lost the connection to llmlb");
    expect(notice.textContent).toMatch(/link .*printed|Open dashboard/);
    expect(card.closest("[data-stale]")?.getAttribute("data-stale")).toBe("true");

    events.latest.open();
    expect(screen.getByText("Serving")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
    expect(card.closest("[data-stale]")?.getAttribute("data-stale")).toBe("false");
  });

  it("started again with another admin token, asks for the new one instead of retrying forever", async () => {
    const kept = new Map([["llmlb.admin-token", "llmlb_old"]]);
    const adminToken = adminTokenIn({
      getItem: (key) => kept.get(key) ?? null,
      setItem: (key, value) => void kept.set(key, value),
    });
    const api = fakeApi({ models: [ready], nodes: [node("gpu-0")] });
    const { events } = renderApp(api, { adminToken });
    await screen.findByRole("listitem", { name: "repo" });
    vi.useFakeTimers();
    events.latest.open();
    events.latest.refuse(401);

    const card = screen.getByRole("alert");
    expect(card.textContent).toContain("llmlb no longer accepts the saved token");
    expect(card.textContent).toContain("llmlb dashboard");
    expect(screen.queryByText(/Lost the connection/)).toBeNull();
    expect(within(screen.getByRole("banner")).getByText("Signed out")).toBeTruthy();
    act(() => vi.advanceTimersByTime(60_000));
    expect(events.sources.length).toBe(1);

    // The new token pasted: read with it, and live again.
    fireEvent.change(screen.getByLabelText("Admin token"), { target: { value: "llmlb_new" } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Open dashboard" }));
    });
    expect(events.sources.length).toBe(2);
    events.latest.open();
    expect(screen.getByRole("listitem", { name: "repo" })).toBeTruthy();
    expect(kept.get("llmlb.admin-token")).toBe("llmlb_new");
    expect(within(screen.getByRole("banner")).getByText("Serving")).toBeTruthy();
  });

  it("asks for the new token when a request is refused for it, without a banner beside the form", async () => {
    const api = fakeApi({ models: [ready] });
    const { events, store } = renderApp(api, { adminToken: adminTokenIn(undefined) });
    await screen.findByRole("listitem", { name: "repo" });
    events.latest.open();
    api.listModels.mockRejectedValue(new ApiError("The token is not valid for this endpoint.", 401));
    await act(async () => store.getState().loadSnapshot());
    expect(screen.getByRole("alert").textContent).toContain("Open the dashboard with its link");
    expect(screen.queryByRole("region", { name: "Notifications" })).toBeNull();
  });

  it("applies events that arrive while the snapshot loads after it, not under it", async () => {
    const snapshot = deferred<ModelList>();
    const api = fakeApi({}, { listModels: vi.fn(() => snapshot.promise) });
    const { events } = renderApp(api);
    events.latest.open();
    events.latest.send({ type: "model.updated", model: model("org/fresh") });

    await act(async () => snapshot.resolve({ total: 1, limit: 1000, offset: 0, data: [downloading] }));

    expect(screen.getByRole("listitem", { name: "fresh" })).toBeTruthy();
    expect(screen.getByRole("listitem", { name: "repo" })).toBeTruthy();
  });

  it("starts a new stream when the browser gives up on one", async () => {
    vi.useFakeTimers();
    const api = fakeApi({ models: [downloading] });
    const { events } = renderApp(api);
    await act(async () => {});
    events.latest.open();

    // A server answering 503 during a restart makes EventSource close for good.
    act(() => {
      events.latest.readyState = 2;
      events.latest.onerror?.(new Event("error"));
    });
    expect(events.sources.length).toBe(1);
    act(() => vi.advanceTimersByTime(2000));
    expect(events.sources.length).toBe(2);

    api.listModels.mockResolvedValue({ total: 1, limit: 1000, offset: 0, data: [ready] });
    events.latest.open();
    await act(async () => {});
    expect(api.listModels).toHaveBeenCalledTimes(2);
    expect(within(screen.getByRole("listitem", { name: "repo" })).queryByRole("progressbar")).toBeNull();
  });

  it("follows nodes and serving", async () => {
    const api = fakeApi({ models: [ready], nodes: [node("gpu-0")] });
    const { events } = renderApp(api, { route: "nodes" });
    await screen.findByRole("listitem", { name: "gpu-0" });
    events.latest.open();

    events.latest.send({ type: "node.updated", node: node("gpu-1", { backend: "vulkan" }) });
    expect(screen.getByRole("listitem", { name: "gpu-1" }).textContent).toContain("Vulkan");
    expect(screen.getByText(/2 nodes online/)).toBeTruthy();

    events.latest.send({ type: "node.removed", id: "id-gpu-0" });
    expect(screen.queryByRole("listitem", { name: "gpu-0" })).toBeNull();

    events.latest.send({ type: "serving", paused: true });
    expect(screen.getByText("Paused")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Resume" })).toBeTruthy();
  });

  it("ignores events it does not know", async () => {
    const { events } = renderApp(fakeApi({ models: [downloading] }));
    await screen.findByRole("listitem", { name: "repo" });
    events.latest.open();
    act(() => {
      events.latest.onmessage?.(new MessageEvent("message", { data: '{"type":"queue.changed"}' }));
      events.latest.onmessage?.(new MessageEvent("message", { data: "not json" }));
    });
    expect(screen.getByRole("listitem", { name: "repo" })).toBeTruthy();
  });
});

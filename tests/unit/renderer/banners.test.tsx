// @vitest-environment jsdom
import { act, fireEvent, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../../src-renderer/api";
import { fakeApi, model, onNode, renderApp } from "./fakes";

/** Renders the app and lets the snapshot (already-resolved fake calls) land. */
async function start(api = fakeApi()) {
  const app = renderApp(api);
  await act(async () => {});
  return app;
}

/** A model that crashed its node's worker: its card offers Retry, whose failures are error banners. */
const crashed = (name: string) =>
  model(name, {
    nodes: [onNode({ state: "error", artifact: "model-Q4_K_M.gguf", message: "It crashed.", crashed: true })],
  });

async function retry(name: string) {
  const card = screen.getByRole("listitem", { name: name.split("/")[1] });
  await act(async () => {
    fireEvent.click(within(card).getByRole("button", { name: `Retry ${name}` }));
  });
}

async function register(text: string) {
  const input = screen.getByLabelText("Add a model from Hugging Face");
  fireEvent.change(input, { target: { value: text } });
  await act(async () => {
    fireEvent.keyDown(input, { key: "Enter" });
  });
}

describe("banners", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("keeps an error until the user closes it", async () => {
    const api = fakeApi(
      { models: [crashed("org/repo")] },
      {
        retryModel: vi.fn(async () => {
          throw new ApiError("No model named org/repo is registered.", 404, "registry.not_found");
        }),
      },
    );
    await start(api);
    await retry("org/repo");

    act(() => vi.advanceTimersByTime(3900));
    expect(screen.getByRole("alert").textContent).toContain("No model named org/repo");
    act(() => vi.advanceTimersByTime(10 * 60_000));
    expect(screen.getByRole("alert").textContent).toContain("No model named org/repo");

    fireEvent.click(screen.getByRole("button", { name: "Dismiss" }));
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows the same error once however often it recurs, and closes it when the action then succeeds", async () => {
    let fail = true;
    const api = fakeApi(
      { models: [crashed("org/repo"), crashed("org/other")] },
      {
        retryModel: vi.fn(async (name: string) => {
          if (fail) throw new ApiError("llmlb is shutting down.", 503, "server.closing");
          return { model: name, nodes: [{ node_name: "gpu-0", retried: true }] };
        }),
      },
    );
    await start(api);
    await retry("org/repo");
    await retry("org/repo");
    expect(screen.getAllByRole("alert")).toHaveLength(1);

    // Another model's retry going fine says nothing about this one.
    fail = false;
    await retry("org/other");
    expect(screen.getAllByRole("alert")).toHaveLength(1);
    await retry("org/repo");
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByText("Trying org/repo again on gpu-0")).toBeTruthy();
  });

  it("shows a success banner for at least 4 s and removes it after its lifetime", async () => {
    await start();
    await register("org/repo");

    act(() => vi.advanceTimersByTime(3900));
    expect(screen.getByText("Registered org/repo")).toBeTruthy();
    act(() => vi.advanceTimersByTime(4200));
    expect(screen.queryByText("Registered org/repo")).toBeNull();
  });

  it("shows each warning as its own banner that can be closed", async () => {
    const api = fakeApi(
      {},
      {
        register: vi.fn(async () => ({
          ...model("big/model"),
          status: "registered" as const,
          warnings: ["The smallest file (80 GB) is larger than any node's memory (24 GB)."],
        })),
      },
    );
    await start(api);
    await register("big/model");

    const statuses = screen.getAllByRole("status").map((el) => el.textContent);
    expect(statuses).toContain("Registered big/model");
    expect(statuses.some((text) => text?.includes("larger than any node's memory"))).toBe(true);
    act(() => vi.advanceTimersByTime(3900));
    expect(screen.getByText(/larger than any node's memory/)).toBeTruthy();

    const warning = screen.getByText(/larger than any node's memory/).closest(".banner") as HTMLElement;
    fireEvent.click(warning.querySelector("button")!);
    expect(screen.queryByText(/larger than any node's memory/)).toBeNull();
    expect(screen.getByText("Registered big/model")).toBeTruthy();
  });

  it("does not take a banner away while the pointer rests on it", async () => {
    await start();
    await register("org/repo");
    const banner = screen.getByText("Registered org/repo").closest(".banner") as HTMLElement;

    act(() => vi.advanceTimersByTime(3000));
    fireEvent.mouseEnter(banner);
    act(() => vi.advanceTimersByTime(60_000));
    expect(screen.getByText("Registered org/repo")).toBeTruthy();

    fireEvent.mouseLeave(banner);
    act(() => vi.advanceTimersByTime(4000));
    expect(screen.getByText("Registered org/repo")).toBeTruthy();
    act(() => vi.advanceTimersByTime(1100));
    expect(screen.queryByText("Registered org/repo")).toBeNull();
  });

  it("counts a repeated error instead of stacking copies of it", async () => {
    const names = ["org/one", "org/two", "org/three"];
    const api = fakeApi(
      { models: names.map(crashed) },
      {
        retryModel: vi.fn(async () => {
          throw new ApiError("llmlb is shutting down.", 503, "server.closing");
        }),
      },
    );
    await start(api);
    // Different models, the same trouble.
    for (const name of names) await retry(name);
    const alerts = screen.getAllByRole("alert");
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.textContent).toContain("llmlb is shutting down.");
    expect(alerts[0]!.textContent).toContain("3 times");
  });

  it("shows the three newest and folds the older ones into a row that opens or closes them all", async () => {
    const names = ["a", "b", "c", "d", "e"].map((letter) => `org/${letter}`);
    const api = fakeApi(
      { models: names.map(crashed) },
      {
        retryModel: vi.fn(async (name: string) => {
          throw new ApiError(`No model named ${name} is registered.`, 404, "registry.not_found");
        }),
      },
    );
    await start(api);
    for (const name of names) await retry(name);
    expect(screen.getAllByRole("alert").map((el) => el.textContent)).toEqual([
      expect.stringContaining("org/c"),
      expect.stringContaining("org/d"),
      expect.stringContaining("org/e"),
    ]);
    const folded = screen.getByRole("group", { name: "Older notifications" });
    expect(folded.textContent).toContain("2 older notifications");

    fireEvent.click(screen.getByRole("button", { name: "Show all" }));
    expect(screen.getAllByRole("alert")).toHaveLength(5);
    fireEvent.click(screen.getByRole("button", { name: "Show fewer" }));
    expect(screen.getAllByRole("alert")).toHaveLength(3);

    // Closing one brings an older one into view; its own 4 s only start then.
    const dismiss = screen.getAllByRole("button", { name: "Dismiss" })[2]!;
    dismiss.focus();
    await act(async () => fireEvent.click(dismiss));
    expect(screen.getAllByRole("alert").map((el) => el.textContent)).toEqual([
      expect.stringContaining("org/b"),
      expect.stringContaining("org/c"),
      expect.stringContaining("org/d"),
    ]);
    // The keyboard goes on from the banner now in its place, not from the top of the page.
    expect(document.activeElement).toBe(screen.getAllByRole("button", { name: "Dismiss" })[2]);

    const all = screen.getByRole("button", { name: "Dismiss all" });
    all.focus();
    await act(async () => fireEvent.click(all));
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.queryByRole("group", { name: "Older notifications" })).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole("main"));
  });
});

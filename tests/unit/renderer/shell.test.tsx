// @vitest-environment jsdom
import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { adminTokenIn } from "../../../src-renderer/adminToken";
import { ApiError } from "../../../src-renderer/api";
import { fakeApi, model, node, onNode, renderApp, status, unavailable } from "./fakes";

describe("the app shell", () => {
  it("sums up serving in the header", async () => {
    const ready = model("org/a", { ready: true, nodes: [onNode({ state: "ready", artifact: null })] });
    renderApp(
      fakeApi({
        models: [ready, model("org/b"), { ...ready, name: "org/c" }],
        nodes: [node("gpu-0"), node("gpu-1", { status: "offline" })],
      }),
    );
    const line = await screen.findByText(/models ready/);
    expect(line.closest("p")!.textContent).toBe("Serving · 2 of 3 models ready · 1 of 2 nodes online");
  });

  it("says no node takes requests when every node online is drained or stopping", async () => {
    const ready = model("org/a", { ready: true, nodes: [onNode({ state: "ready", artifact: null })] });
    renderApp(
      fakeApi({
        models: [ready],
        nodes: [node("gpu-0", { draining: true, drained: true }), node("gpu-1", { draining: true })],
      }),
    );
    const line = await screen.findByText(/models? ready/);
    expect(line.closest("p")!.textContent).toBe(
      "No node takes requests · 1 of 1 model ready · 2 nodes online (1 drained)",
    );
  });

  it("pauses serving after asking (it stops /v1 for every client), and resumes at once", async () => {
    const api = fakeApi({ status: status({ paused: false }) });
    renderApp(api);
    const pause = await screen.findByRole("button", { name: "Pause" });
    await waitFor(() => expect(unavailable(pause)).toBe(false));
    fireEvent.click(pause);
    const dialog = screen.getByRole("dialog", { name: "Pause serving?" });
    expect(dialog.textContent).toMatch(/every client/);
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(api.setServing).not.toHaveBeenCalled();

    fireEvent.click(pause);
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Pause serving" }));
    });
    expect(api.setServing).toHaveBeenCalledWith(true);
    expect(screen.getByText("Paused")).toBeTruthy();

    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Resume" }));
    });
    expect(api.setServing).toHaveBeenLastCalledWith(false);
    expect(screen.getByText("Serving")).toBeTruthy();
  });

  it("navigates with the sidebar and marks the current page", async () => {
    renderApp(fakeApi());
    await screen.findByRole("heading", { level: 1, name: "Models" });
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(nav.querySelector('[aria-current="page"]')!.textContent).toBe("Models");

    act(() => {
      location.hash = "#/nodes";
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    });
    expect(screen.getByRole("heading", { level: 1, name: "Nodes" })).toBeTruthy();
    expect(nav.querySelector('[aria-current="page"]')!.textContent).toBe("Nodes");
    expect(document.activeElement).toBe(screen.getByRole("heading", { level: 1, name: "Nodes" }));
  });

  it("explains a failed first load and tries again", async () => {
    const api = fakeApi();
    api.listModels.mockRejectedValueOnce(new ApiError("The database is locked.", 500, "internal"));
    renderApp(api);
    expect((await screen.findByRole("alert")).textContent).toContain("The database is locked.");
    // Nothing claims to be serving while nothing is known.
    expect(screen.getByRole("banner").textContent).toContain("Not connected");
    expect(screen.getByRole("banner").textContent).not.toContain("Serving");

    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    });
    expect(screen.getByText("No models yet")).toBeTruthy();
  });

  it("opened without its token, says how to open it rather than how the API wants a header", async () => {
    const api = fakeApi();
    const refused = new ApiError(
      "This endpoint needs the admin token: send Authorization: Bearer <token>.",
      401,
      "auth.missing_token",
    );
    api.listModels.mockRejectedValueOnce(refused);
    renderApp(api);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Open the dashboard with its link");
    expect(alert.textContent).toContain("#token=");
    expect(alert.textContent).not.toContain("Authorization");
  });

  it("asks for the token on Settings too, not with the API's words", async () => {
    const api = fakeApi();
    const refused = new ApiError(
      "This endpoint needs the admin token: send Authorization: Bearer <token>.",
      401,
    );
    api.listModels.mockRejectedValueOnce(refused);
    api.settings.mockRejectedValueOnce(refused);
    renderApp(api, { route: "settings" });
    expect(await screen.findByLabelText("Admin token")).toBeTruthy();
    expect(document.body.textContent).not.toContain("Authorization");
  });

  it("takes the admin token pasted by hand, keeps it, and listens again with it", async () => {
    const api = fakeApi({ models: [model("org/a")] });
    const refused = (message: string) => new ApiError(message, 401, "auth.invalid_token");
    api.listModels
      .mockRejectedValueOnce(refused("This endpoint needs the admin token."))
      .mockRejectedValueOnce(refused("The admin token is not valid."));
    const adminToken = adminTokenIn(undefined);
    const { events } = renderApp(api, { adminToken });
    const field = await screen.findByLabelText("Admin token");

    // A wrong one: said at the field, which keeps it to correct.
    fireEvent.change(field, { target: { value: "llmlb_wrong" } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Open dashboard" }));
    });
    expect((await screen.findByText("The admin token is not valid.")).closest("[role=alert]")).toBeTruthy();
    expect(screen.getByLabelText("Admin token")).toBe(field);

    fireEvent.change(field, { target: { value: " llmlb_right " } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Open dashboard" }));
    });
    expect(await screen.findByRole("listitem", { name: "a" })).toBeTruthy();
    expect(adminToken.read()).toBe("llmlb_right");
    // The stream refused without the token is started again at once, not after its back-off.
    expect(events.sources.length).toBe(3);
    expect(events.sources.slice(0, 2).every((source) => source.closed)).toBe(true);
  });

  it("opened by a link whose token is refused, goes on with the token it kept", async () => {
    const api = fakeApi({ models: [model("org/a")] });
    api.listModels.mockRejectedValueOnce(
      new ApiError("The admin token is not valid.", 401, "auth.invalid_token"),
    );
    // This origin's storage holds the token the server took before; the link brings another.
    const items = new Map([["llmlb.admin-token", "llmlb_kept"]]);
    const adminToken = adminTokenIn({
      getItem: (key) => items.get(key) ?? null,
      setItem: (key, value) => void items.set(key, value),
    });
    adminToken.use("junk");
    const { events } = renderApp(api, { adminToken });
    expect(await screen.findByRole("listitem", { name: "a" })).toBeTruthy();
    expect(adminToken.read()).toBe("llmlb_kept");
    expect(items.get("llmlb.admin-token")).toBe("llmlb_kept");
    // The stream opened with the refused token is started again with the kept one.
    expect(events.sources.length).toBe(2);
    expect(events.sources[0]!.closed).toBe(true);
  });

  it("works with a server that has no /v0/status yet", async () => {
    const api = fakeApi(
      { models: [model("org/a")] },
      { status: vi.fn(async () => Promise.reject(new ApiError("x", 404))) },
    );
    renderApp(api);
    expect(await screen.findByRole("listitem", { name: "a" })).toBeTruthy();
    expect(screen.getByText(/0 of 1 model ready/)).toBeTruthy();
  });
});

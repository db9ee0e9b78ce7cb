// @vitest-environment jsdom
import { act, fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { RegisterResponse } from "../../../src-main/contract";
import { ApiError } from "../../../src-renderer/api";
import { deferred, fakeApi, model, renderApp, unavailable } from "./fakes";

async function input(): Promise<HTMLTextAreaElement> {
  return (await screen.findByLabelText("Add a model from Hugging Face")) as HTMLTextAreaElement;
}

describe("the register form", () => {
  it("is busy while the server answers, then clears and shows the new model", async () => {
    const answer = deferred<RegisterResponse>();
    const api = fakeApi({}, { register: vi.fn(() => answer.promise) });
    renderApp(api);
    const box = await input();

    fireEvent.change(box, { target: { value: "https://huggingface.co/org/repo" } });
    fireEvent.click(screen.getByRole("button", { name: "Register" }));

    expect(api.register).toHaveBeenCalledWith("https://huggingface.co/org/repo");
    const busy = screen.getByRole("button", { name: "Registering…" }) as HTMLButtonElement;
    expect(unavailable(busy)).toBe(true);
    expect(box.readOnly).toBe(true);

    await act(async () => answer.resolve({ ...model("org/repo"), status: "registered", warnings: [] }));

    expect(box.value).toBe("");
    expect(box.readOnly).toBe(false);
    expect(screen.getByRole("button", { name: "Register" })).toBeTruthy();
    expect(screen.getByText("Registered org/repo")).toBeTruthy();
    expect(screen.getByRole("heading", { name: "repo" })).toBeTruthy();
  });

  it("submits on Enter and not on Shift+Enter", async () => {
    const api = fakeApi();
    renderApp(api);
    const box = await input();
    fireEvent.change(box, { target: { value: "org/repo:Q4_K_M" } });

    fireEvent.keyDown(box, { key: "Enter", shiftKey: true });
    expect(api.register).not.toHaveBeenCalled();

    await act(async () => {
      fireEvent.keyDown(box, { key: "Enter" });
    });
    expect(api.register).toHaveBeenCalledWith("org/repo:Q4_K_M");
  });

  it("does nothing for an empty box", async () => {
    const api = fakeApi();
    renderApp(api);
    const box = await input();
    fireEvent.change(box, { target: { value: "   " } });
    fireEvent.keyDown(box, { key: "Enter" });
    expect(api.register).not.toHaveBeenCalled();
    expect(unavailable(screen.getByRole("button", { name: "Register" }))).toBe(true);
  });

  it("shows the server's message and keeps the text to fix", async () => {
    const api = fakeApi(
      {},
      {
        register: vi.fn(async () => {
          throw new ApiError("org/repo is already registered.", 409, "registry.duplicate");
        }),
      },
    );
    renderApp(api);
    const box = await input();
    fireEvent.change(box, { target: { value: "org/repo" } });
    await act(async () => {
      fireEvent.keyDown(box, { key: "Enter" });
    });

    expect(screen.getByRole("alert").textContent).toContain("org/repo is already registered.");
    expect(box.value).toBe("org/repo");
    expect(box.readOnly).toBe(false);
  });

  it("closes what it said about an earlier registration once another is tried", async () => {
    const api = fakeApi();
    api.register.mockResolvedValueOnce({
      ...model("org/safetensors-only"),
      status: "registered",
      warnings: ["No GGUF file in org/safetensors-only: no node can run it."],
    });
    api.register.mockRejectedValueOnce(new ApiError("org/gated is gated.", 401, "hub.unauthorized"));
    renderApp(api);
    const box = await input();
    fireEvent.change(box, { target: { value: "org/safetensors-only" } });
    await act(async () => {
      fireEvent.keyDown(box, { key: "Enter" });
    });
    expect(screen.getByText(/No GGUF file/)).toBeTruthy();
    fireEvent.change(box, { target: { value: "org/gated" } });
    await act(async () => {
      fireEvent.keyDown(box, { key: "Enter" });
    });
    expect(screen.getByRole("alert").textContent).toContain("org/gated is gated.");
    expect(screen.queryByText(/No GGUF file|Registered org\/safetensors-only/)).toBeNull();
  });

  it("tells how to set a token when the repo is gated", async () => {
    const message =
      "meta-llama/Llama-3.2-1B is gated: accept its terms on Hugging Face, then set a token in Settings.";
    const api = fakeApi(
      {},
      {
        register: vi.fn(async () => {
          throw new ApiError(message, 401, "hub.gated");
        }),
      },
    );
    renderApp(api);
    const box = await input();
    fireEvent.change(box, { target: { value: "meta-llama/Llama-3.2-1B" } });
    await act(async () => {
      fireEvent.keyDown(box, { key: "Enter" });
    });
    expect(screen.getByRole("alert").textContent).toContain(message);
  });

  it("says why the last try failed beside the field, one answer at a time, until the text changes", async () => {
    const api = fakeApi(
      {},
      {
        register: vi.fn(async (text: string) => {
          throw new ApiError(`Model repo ${text} was not found on the hub.`, 404, "hub.not_found");
        }),
      },
    );
    renderApp(api);
    const box = await input();
    const tryToRegister = async (text: string) => {
      fireEvent.change(box, { target: { value: text } });
      await act(async () => {
        fireEvent.keyDown(box, { key: "Enter" });
      });
    };

    await tryToRegister("org/one");
    await tryToRegister("org/two");
    const alerts = screen.getAllByRole("alert");
    expect(alerts.map((alert) => alert.textContent?.trim())).toEqual([
      "Model repo org/two was not found on the hub.",
    ]);
    // Under the field it is about, and read out with it.
    expect(box.closest("form")!.contains(alerts[0]!)).toBe(true);
    expect(box.getAttribute("aria-invalid")).toBe("true");
    expect(box.getAttribute("aria-describedby")).toContain(alerts[0]!.id);
    expect(screen.queryByRole("region", { name: "Notifications" })?.textContent ?? "").toBe("");

    fireEvent.change(box, { target: { value: "org/two-GGUF" } });
    expect(screen.queryByRole("alert")).toBeNull();
    expect(box.getAttribute("aria-invalid")).toBe("false");
  });

  it("tells a failure that comes once the user has gone to another page as a banner there", async () => {
    const answer = deferred<RegisterResponse>();
    const api = fakeApi({}, { register: vi.fn(() => answer.promise) });
    renderApp(api);
    const box = await input();
    fireEvent.change(box, { target: { value: "org/slow" } });
    fireEvent.keyDown(box, { key: "Enter" });
    act(() => {
      location.hash = "#/nodes";
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    });

    await act(async () => answer.reject(new ApiError("The Hugging Face hub cannot be reached.", 424)));
    const banner = screen.getByRole("region", { name: "Notifications" });
    expect(within(banner).getByRole("alert").textContent).toContain(
      "The Hugging Face hub cannot be reached.",
    );

    // Back on Models: the form holds no text, and no answer to it.
    act(() => {
      location.hash = "#/models";
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    });
    const again = await input();
    expect(again.value).toBe("");
    expect(again.closest("form")!.querySelector("[role=alert]")).toBeNull();
  });
});

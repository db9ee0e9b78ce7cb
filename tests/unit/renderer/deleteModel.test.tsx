// @vitest-environment jsdom
import { act, fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../../src-renderer/api";
import { fakeApi, lastBanner, model, renderApp } from "./fakes";

async function openDialog() {
  const button = await screen.findByRole("button", { name: "Delete org/repo" });
  button.focus(); // as a click or a keyboard user would
  fireEvent.click(button);
  return screen.getByRole("dialog", { name: "Delete repo?" });
}

describe("deleting a model", () => {
  it("asks first, in the app, with focus on Cancel; Cancel keeps the model", async () => {
    const api = fakeApi({ models: [model("org/repo")] });
    renderApp(api);
    const dialog = await openDialog();

    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Cancel" }));

    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.getByRole("listitem", { name: "repo" })).toBeTruthy();
    expect(api.removeModel).not.toHaveBeenCalled();
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Delete org/repo" }));
  });

  it("closes on Escape without deleting", async () => {
    const api = fakeApi({ models: [model("org/repo")] });
    renderApp(api);
    const dialog = await openDialog();
    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(api.removeModel).not.toHaveBeenCalled();
  });

  it("keeps Tab inside the dialog", async () => {
    renderApp(fakeApi({ models: [model("org/repo")] }));
    const dialog = await openDialog();
    const confirm = screen.getByRole("button", { name: "Delete" });
    confirm.focus();
    fireEvent.keyDown(dialog, { key: "Tab" });
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Cancel" }));
    fireEvent.keyDown(dialog, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(confirm);
  });

  it("deletes on confirm and the row disappears", async () => {
    const api = fakeApi({ models: [model("org/repo"), model("org/other")] });
    renderApp(api);
    await openDialog();
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    });

    expect(api.removeModel).toHaveBeenCalledWith("org/repo");
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.queryByRole("listitem", { name: "repo" })).toBeNull();
    expect(screen.getByRole("listitem", { name: "other" })).toBeTruthy();
    // Said politely; the keyboard goes on from the next card, not from the top of the page.
    expect(lastBanner().textContent).toContain("Deleted org/repo");
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "other" }));
  });

  it("after deleting the last card, goes on from the one before it, then from the register box", async () => {
    const api = fakeApi({ models: [model("org/first"), model("org/repo")] });
    renderApp(api);
    await openDialog();
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    });
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "first" }));

    fireEvent.click(screen.getByRole("button", { name: "Delete org/first" }));
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    });
    expect(screen.getByText("No models yet")).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByLabelText("Add a model from Hugging Face"));
  });

  it("keeps the row and says why when the server refuses", async () => {
    const api = fakeApi(
      { models: [model("org/repo")] },
      {
        removeModel: vi.fn(async () => {
          throw new ApiError("The registry is busy; try again.", 503, "registry.busy");
        }),
      },
    );
    renderApp(api);
    await openDialog();
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    });
    expect(screen.getByRole("alert").textContent).toContain("The registry is busy; try again.");
    expect(screen.getByRole("listitem", { name: "repo" })).toBeTruthy();
  });
});

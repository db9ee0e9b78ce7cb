// @vitest-environment jsdom
import { act, fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { fakeApi, notFound, renderApp, settings, status } from "./fakes";

describe("the settings page", () => {
  it.each([
    ["keychain", "encrypted by the operating system"],
    ["file", "in a file only your user can read (0600) in /home/ada/.config/llmlb"],
  ] as const)("says where a %s token is kept", async (storage, words) => {
    renderApp(fakeApi({ settings: settings({ hf_token: { set: true, storage } }) }), { route: "settings" });
    const status = await screen.findByText(/Token set/);
    expect(status.parentElement!.textContent).toContain(words);
    expect(screen.getByRole("button", { name: "Forget token" })).toBeTruthy();
  });

  it("shows a token from the environment as read-only", async () => {
    renderApp(fakeApi({ settings: settings({ hf_token: { set: true, storage: "env" } }) }), {
      route: "settings",
    });
    const status = await screen.findByText(/Token set/);
    expect(status.parentElement!.textContent).toContain("from HF_TOKEN in the environment (read-only here)");
    expect(screen.queryByLabelText(/token/i, { selector: "input" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Forget token" })).toBeNull();
  });

  it("saves a token, clears the field and says so", async () => {
    const api = fakeApi({ settings: settings() });
    api.updateSettings.mockResolvedValue(settings({ hf_token: { set: true, storage: "keychain" } }));
    renderApp(api, { route: "settings" });
    expect((await screen.findByText(/No token set/)).parentElement!.textContent).toContain(
      "encrypted by the operating system",
    );

    const field = screen.getByLabelText("Token") as HTMLInputElement;
    expect(field.type).toBe("password");
    fireEvent.change(field, { target: { value: "hf_secret" } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Save token" }));
    });

    expect(api.updateSettings).toHaveBeenCalledWith({ hf_token: "hf_secret" });
    expect((screen.getByLabelText("Replace token") as HTMLInputElement).value).toBe("");
    expect(screen.getByText("Hugging Face token saved")).toBeTruthy();
    expect(screen.getByText(/Token set/)).toBeTruthy();
  });

  it("forgets a token", async () => {
    const api = fakeApi({ settings: settings({ hf_token: { set: true, storage: "file" } }) });
    api.updateSettings.mockResolvedValue(settings({ hf_token: { set: false, storage: "file" } }));
    renderApp(api, { route: "settings" });
    const forget = await screen.findByRole("button", { name: "Forget token" });
    await act(async () => {
      fireEvent.click(forget);
    });
    expect(api.updateSettings).toHaveBeenCalledWith({ hf_token: null });
    expect(screen.getByText(/No token set/)).toBeTruthy();
  });

  it("saves the port and says it applies after a restart", async () => {
    const api = fakeApi({ settings: settings() });
    api.updateSettings.mockResolvedValue(settings({ port: 9090, restart_required: true }));
    renderApp(api, { route: "settings" });
    const port = (await screen.findByLabelText("Port")) as HTMLInputElement;
    expect(port.value).toBe("8080");
    expect((screen.getByRole("button", { name: "Save" }) as HTMLButtonElement).disabled).toBe(true);

    fireEvent.change(port, { target: { value: "9090" } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Save" }));
    });

    expect(api.updateSettings).toHaveBeenCalledWith({ port: 9090 });
    expect(screen.getByText(/Restart llmlb to apply your changes/)).toBeTruthy();
  });

  it("refuses a port that is not one", async () => {
    renderApp(fakeApi({ settings: settings() }), { route: "settings" });
    fireEvent.change(await screen.findByLabelText("Port"), { target: { value: "70000" } });
    expect(screen.getByText("A number from 0 to 65535.")).toBeTruthy();
    expect((screen.getByRole("button", { name: "Save" }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("offers start at login only where it applies", async () => {
    renderApp(fakeApi({ settings: settings({ start_at_login: null }) }), { route: "settings" });
    await screen.findByLabelText("Port");
    expect(screen.queryByLabelText("Start llmlb when I log in")).toBeNull();
  });

  it("saves start at login when ticked", async () => {
    const api = fakeApi({ settings: settings({ start_at_login: false }) });
    api.updateSettings.mockResolvedValue(settings({ start_at_login: true }));
    renderApp(api, { route: "settings" });
    const box = (await screen.findByLabelText("Start llmlb when I log in")) as HTMLInputElement;
    expect(box.checked).toBe(false);
    await act(async () => {
      fireEvent.click(box);
    });
    expect(api.updateSettings).toHaveBeenCalledWith({ start_at_login: true });
    expect(box.checked).toBe(true);
  });

  it("explains when the server has no settings", async () => {
    renderApp(fakeApi({}, { settings: vi.fn(async () => Promise.reject(notFound())) }), {
      route: "settings",
    });
    expect(await screen.findByText(/does not offer settings here/)).toBeTruthy();
  });

  it("quits llmlb after asking, and says it is quitting", async () => {
    const api = fakeApi({ settings: settings(), status: status({ can_quit: true }) });
    renderApp(api, { route: "settings" });
    fireEvent.click(await screen.findByRole("button", { name: "Quit llmlb" }));
    const dialog = screen.getByRole("dialog", { name: "Quit llmlb?" });
    expect(dialog.textContent).toContain("running requests finish first");
    // Cancel quits nothing.
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(api.quit).not.toHaveBeenCalled();

    fireEvent.click(screen.getByRole("button", { name: "Quit llmlb" }));
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Quit" }));
    });
    expect(api.quit).toHaveBeenCalledTimes(1);
    expect(screen.getByRole("status").textContent).toMatch(/llmlb is quitting/);
    expect(screen.queryByRole("button", { name: "Quit llmlb" })).toBeNull();
  });

  it("offers no Quit where the server cannot be quit from here", async () => {
    renderApp(fakeApi({ settings: settings(), status: status({ can_quit: false }) }), { route: "settings" });
    await screen.findByText(/No token set/);
    expect(screen.queryByRole("button", { name: "Quit llmlb" })).toBeNull();
  });

  it("says where a port set on the command line comes from, and asks for no restart", async () => {
    renderApp(fakeApi({ settings: settings({ port: 8080, overridden: ["port"] }) }), { route: "settings" });
    const field = (await screen.findByLabelText("Port")) as HTMLInputElement;
    expect(field.value).toBe("8080");
    expect(field.readOnly).toBe(true);
    expect(screen.getByText(/Set by --port or LLMLB_PORT/)).toBeTruthy();
    expect(screen.queryByText(/Restart llmlb to apply/)).toBeNull();
  });

  it("says when HF_TOKEN in the environment hides the token saved here", async () => {
    renderApp(
      fakeApi({ settings: settings({ hf_token: { set: true, storage: "env", saved_ignored: true } }) }),
      {
        route: "settings",
      },
    );
    const status = await screen.findByText(/Token set/);
    expect(status.parentElement!.textContent).toContain(
      "The token saved here is not used while HF_TOKEN is set",
    );
  });
});

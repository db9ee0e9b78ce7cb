// @vitest-environment jsdom
import { act, fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../../src-renderer/api";
import { fakeApi, notFound, renderApp, settings, status, unavailable } from "./fakes";

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

  it("says the token goes to the hub llmlb downloads from, a mirror HF_ENDPOINT names included", async () => {
    renderApp(fakeApi({ settings: settings() }), { route: "settings" });
    const card = await screen.findByRole("region", { name: "Hugging Face token" });
    expect(card.textContent).toContain("sent only to the hub llmlb downloads from");
    expect(card.textContent).toContain("the mirror HF_ENDPOINT names");
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
    // The button is gone: the keyboard goes on from the field that takes a new token.
    expect(document.activeElement).toBe(screen.getByLabelText("Token"));
  });

  it("saves the port and says it applies after a restart", async () => {
    const api = fakeApi({ settings: settings() });
    api.updateSettings.mockResolvedValue(settings({ port: 9090, restart_required: true }));
    renderApp(api, { route: "settings" });
    const port = (await screen.findByLabelText("Port")) as HTMLInputElement;
    expect(port.value).toBe("8080");
    expect(unavailable(screen.getByRole("button", { name: "Save" }))).toBe(true);

    fireEvent.change(port, { target: { value: "9090" } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Save" }));
    });

    expect(api.updateSettings).toHaveBeenCalledWith({ port: 9090 });
    expect(screen.getByText(/Restart llmlb to apply your changes/)).toBeTruthy();
  });

  it("says when its port was in use at this start and it serves on another", async () => {
    renderApp(fakeApi({ settings: settings({ port: 8080, listening_port: 8081 }) }), { route: "settings" });
    const port = await screen.findByLabelText("Port");
    expect(describedBy(port)).toContain("Port 8080 was in use when llmlb started: it serves on 8081");
  });

  it.each([
    settings({ listening_port: 8080 }),
    settings({ port: 9090, listening_port: 8080, restart_required: true }),
  ])(
    "says nothing of a port in use where it serves on its own, or a new one waits for a restart",
    async (given) => {
      renderApp(fakeApi({ settings: given }), { route: "settings" });
      expect(describedBy(await screen.findByLabelText("Port"))).not.toContain("was in use");
    },
  );

  it.each(["70000", "0x50", "1e3", "8080.0", "-1", "80 80"])(
    "refuses %j as a port, saying so at the field",
    async (value) => {
      renderApp(fakeApi({ settings: settings() }), { route: "settings" });
      const port = await screen.findByLabelText("Port");
      fireEvent.change(port, { target: { value } });
      expect(port.getAttribute("aria-invalid")).toBe("true");
      expect(describedBy(port)).toContain("Port must be a whole number from 0 to 65535, in digits.");
      expect(unavailable(screen.getByRole("button", { name: "Save" }))).toBe(true);
    },
  );

  it("refuses an empty or relative cache folder, saying why at the field", async () => {
    const api = fakeApi({ settings: settings() });
    renderApp(api, { route: "settings" });
    const folder = await screen.findByLabelText("Model cache folder");
    const save = screen.getByRole("button", { name: "Save" }) as HTMLButtonElement;

    fireEvent.change(folder, { target: { value: "  " } });
    expect(folder.getAttribute("aria-invalid")).toBe("true");
    expect(describedBy(folder)).toContain("Model cache folder must not be empty");
    expect(unavailable(save)).toBe(true);

    fireEvent.change(folder, { target: { value: "models/hub" } });
    expect(describedBy(folder)).toContain("Model cache folder must be a full path");
    expect(unavailable(save)).toBe(true);

    fireEvent.change(folder, { target: { value: "/srv/hf" } });
    expect(folder.getAttribute("aria-invalid")).not.toBe("true");
    expect(describedBy(folder)).not.toContain("must");
    expect(unavailable(save)).toBe(false);
  });

  it("shows the server's refusal of a field under that field, in its own words", async () => {
    const api = fakeApi({ settings: settings() });
    api.updateSettings.mockRejectedValue(
      new ApiError(
        "hub_cache_dir: The cache folder must be an absolute path.",
        400,
        "input.invalid",
        "hub_cache_dir",
      ),
    );
    renderApp(api, { route: "settings" });
    const folder = await screen.findByLabelText("Model cache folder");
    fireEvent.change(folder, { target: { value: "C:\\models" } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Save" }));
    });
    expect(api.updateSettings).toHaveBeenCalledWith({ hub_cache_dir: "C:\\models" });
    expect(folder.getAttribute("aria-invalid")).toBe("true");
    expect(describedBy(folder)).toContain("The cache folder must be an absolute path.");
    expect(screen.getByRole("alert").textContent).not.toContain("hub_cache_dir");
    // No banner: no Notifications landmark either.
    expect(screen.queryByRole("region", { name: "Notifications" })).toBeNull();

    // Mended: the refusal was about what was typed before.
    fireEvent.change(folder, { target: { value: "/srv/hf" } });
    expect(describedBy(folder)).not.toContain("absolute");
  });

  it("reads the settings again after reconnecting, so a restart's notice goes", async () => {
    const api = fakeApi({ settings: settings({ restart_required: true }) });
    const { events } = renderApp(api, { route: "settings" });
    expect(await screen.findByText(/Restart llmlb to apply your changes/)).toBeTruthy();
    events.latest.open();
    events.latest.drop();
    // llmlb restarted on the same address: the saved change is in effect.
    api.settings.mockResolvedValue(settings());
    events.latest.open();
    await act(async () => {});
    expect(screen.queryByText(/Restart llmlb to apply your changes/)).toBeNull();
  });

  it("reads the settings again after reconnecting when they could not be read", async () => {
    const down = new ApiError("Can't reach the llmlb server. Is it still running?", 0);
    const api = fakeApi({}, { settings: vi.fn(async () => Promise.reject(down)) });
    const { events } = renderApp(api, { route: "settings" });
    expect((await screen.findByRole("alert")).textContent).toContain("Could not read settings");
    events.latest.drop();
    api.settings.mockResolvedValue(settings());
    events.latest.open();
    expect(await screen.findByText(/No token set/)).toBeTruthy();
    expect(screen.queryByText(/Could not read settings/)).toBeNull();
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
    expect(within(screen.getByRole("region", { name: "Quit" })).getByRole("status").textContent).toMatch(
      /llmlb is quitting/,
    );
    expect(screen.queryByRole("button", { name: "Quit llmlb" })).toBeNull();
  });

  it("once quit, says calmly that llmlb has quit and how to start it, and stops trying to reach it", async () => {
    const api = fakeApi({ settings: settings(), status: status({ can_quit: true }) });
    const { events } = renderApp(api, { route: "settings" });
    events.latest.open();
    fireEvent.click(await screen.findByRole("button", { name: "Quit llmlb" }));
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Quit" }));
    });
    vi.useFakeTimers();
    try {
      // llmlb exits: its event stream ends.
      events.latest.refuse(503);
      act(() => vi.advanceTimersByTime(60_000));
      expect(events.sources.length).toBe(1);
      expect(screen.queryByRole("alert")).toBeNull();
      const notice = screen.getAllByRole("status").find((element) => /has quit/.test(element.textContent!))!;
      expect(notice.textContent).toContain("llmlb has quit, as asked.");
      expect(notice.textContent).toContain("llmlb serve");
      expect(within(screen.getByRole("banner")).getByText("Quit")).toBeTruthy();
    } finally {
      vi.useRealTimers();
    }
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

  it("says where a cache folder HF_HUB_CACHE or HF_HOME set comes from, read-only", async () => {
    renderApp(
      fakeApi({ settings: settings({ hub_cache_dir: "/data/hf/hub", overridden: ["hub_cache_dir"] }) }),
      { route: "settings" },
    );
    const field = (await screen.findByLabelText("Model cache folder")) as HTMLInputElement;
    expect(field.value).toBe("/data/hf/hub");
    expect(field.readOnly).toBe(true);
    expect(screen.getByText(/Set by HF_HUB_CACHE or HF_HOME when llmlb started/)).toBeTruthy();
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

/** What a screen reader says after a field's name: the texts its aria-describedby points to. */
function describedBy(field: HTMLElement): string {
  return (field.getAttribute("aria-describedby") ?? "")
    .split(" ")
    .map((id) => document.getElementById(id)?.textContent ?? "")
    .join(" ");
}

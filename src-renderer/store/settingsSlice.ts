import type { Settings, SettingsUpdate } from "../../src-main/contract";
import { isNotFound } from "../api";
import { messageOf, type Slice, type SliceDeps } from "./types";

export type LoadState = "idle" | "loading" | "ready" | "unavailable" | "failed";

export interface SettingsSlice {
  settings: Settings | undefined;
  /** `unavailable`: the server has no settings route. */
  settingsState: LoadState;
  settingsError: string | undefined;
  savingSettings: boolean;
  loadSettings(): Promise<void>;
  /** Saves the given fields; true when saved. */
  saveSettings(update: SettingsUpdate, done: string): Promise<boolean>;
}

export const createSettingsSlice =
  ({ api }: SliceDeps): Slice<SettingsSlice> =>
  (set, get) => ({
    settings: undefined,
    settingsState: "idle",
    settingsError: undefined,
    savingSettings: false,
    async loadSettings() {
      if (get().settingsState === "idle" || get().settingsState === "failed") {
        set({ settingsState: "loading" });
      }
      try {
        set({ settings: await api.settings(), settingsState: "ready", settingsError: undefined });
      } catch (error) {
        if (isNotFound(error)) set({ settingsState: "unavailable" });
        else set({ settingsState: "failed", settingsError: messageOf(error) });
      }
    },
    async saveSettings(update, done) {
      set({ savingSettings: true });
      try {
        const settings = await api.updateSettings(update);
        set({ settings, settingsState: "ready" });
        get().pushBanner("success", done, "settings");
        return true;
      } catch (error) {
        get().pushBanner("error", messageOf(error), "settings");
        return false;
      } finally {
        set({ savingSettings: false });
      }
    },
  });

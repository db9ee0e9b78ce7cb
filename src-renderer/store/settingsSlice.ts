import type { Settings, SettingsUpdate } from "../../src-main/contract";
import { isNotFound } from "../api";
import { fieldRefusal, messageOf, type Slice, type SliceDeps } from "./types";

export type LoadState = "idle" | "loading" | "ready" | "unavailable" | "failed";

/** The server refused a setting a form shows: said under that field, not in a banner. */
export interface SettingsRefusal {
  field: keyof SettingsUpdate;
  message: string;
}

export interface SettingsSlice {
  settings: Settings | undefined;
  /** `unavailable`: the server has no settings route. */
  settingsState: LoadState;
  settingsError: string | undefined;
  savingSettings: boolean;
  /** The last save's refusal of one of the fields its form shows; gone at the next save or edit. */
  settingsRefusal: SettingsRefusal | undefined;
  loadSettings(): Promise<void>;
  /**
   * Saves the given fields; true when saved. A refusal is a banner, unless it is about one of
   * `fieldsShown` (the form's own fields): then it is `settingsRefusal`, for the form to say there.
   */
  saveSettings(
    update: SettingsUpdate,
    done: string,
    fieldsShown?: readonly (keyof SettingsUpdate)[],
  ): Promise<boolean>;
  clearSettingsRefusal(): void;
}

export const createSettingsSlice =
  ({ api }: SliceDeps): Slice<SettingsSlice> =>
  (set, get) => ({
    settings: undefined,
    settingsState: "idle",
    settingsError: undefined,
    savingSettings: false,
    settingsRefusal: undefined,
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
    async saveSettings(update, done, fieldsShown = []) {
      set({ savingSettings: true, settingsRefusal: undefined });
      try {
        const settings = await api.updateSettings(update);
        set({ settings, settingsState: "ready" });
        get().pushBanner("success", done, "settings");
        return true;
      } catch (error) {
        const refusal = fieldRefusal(error, fieldsShown);
        if (refusal) set({ settingsRefusal: refusal });
        else get().pushBanner("error", messageOf(error), "settings");
        return false;
      } finally {
        set({ savingSettings: false });
      }
    },
    clearSettingsRefusal() {
      if (get().settingsRefusal) set({ settingsRefusal: undefined });
    },
  });

import { createStore } from "zustand/vanilla";
import type { Model } from "../src-main/contract";
import { api } from "./api";

export interface Banner {
  id: number;
  kind: "success" | "error" | "warning";
  text: string;
}

export interface AppState {
  models: Model[];
  loadError: string | undefined;
  busy: boolean;
  banners: Banner[];
  refresh(): Promise<void>;
  register(input: string): Promise<boolean>;
  remove(id: string): Promise<void>;
  dismiss(id: number): void;
}

let nextBannerId = 1;

/** A fresh store per app (and per test). */
export function createAppStore() {
  return createStore<AppState>()((set, get) => {
    const banner = (kind: Banner["kind"], text: string) =>
      set({ banners: [...get().banners, { id: nextBannerId++, kind, text }] });
    return {
      models: [],
      loadError: undefined,
      busy: false,
      banners: [],
      async refresh() {
        try {
          const list = await api.listModels();
          set({ models: list.data, loadError: undefined });
        } catch (error) {
          set({ loadError: (error as Error).message });
        }
      },
      async register(input) {
        set({ busy: true });
        try {
          const model = await api.register(input);
          banner("success", `Registered ${model.name}`);
          for (const warning of model.warnings) banner("warning", warning);
          await get().refresh();
          return true;
        } catch (error) {
          banner("error", (error as Error).message);
          return false;
        } finally {
          set({ busy: false });
        }
      },
      async remove(id) {
        try {
          await api.remove(id);
          set({ models: get().models.filter((m) => m.name !== id) });
        } catch (error) {
          banner("error", (error as Error).message);
        }
      },
      dismiss(id) {
        set({ banners: get().banners.filter((b) => b.id !== id) });
      },
    };
  });
}

export type AppStore = ReturnType<typeof createAppStore>;

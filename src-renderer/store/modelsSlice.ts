import type { Model, RegisterResponse } from "../../src-main/contract";
import { isNotFound } from "../api";
import { messageOf, type Slice, type SliceDeps } from "./types";

export interface ModelsSlice {
  /** Newest first, as the server lists them (`ORDER BY rowid DESC`). */
  models: Model[];
  /** How many the server has; more than `models.length` only past its 1000-row page. */
  modelsTotal: number;
  registering: boolean;
  /** Registers whatever was pasted; true when it was registered. Outcomes are told by banners. */
  register(input: string): Promise<boolean>;
  /** Deletes a model; true when it is gone. */
  removeModel(name: string): Promise<boolean>;
  upsertModel(model: Model): void;
  dropModel(name: string): void;
}

/** A registration answer is a model plus `status`, `warnings` and `stale`: keep the model's fields. */
function modelOf(response: RegisterResponse): Model {
  const { status: _status, warnings: _warnings, stale: _stale, ...model } = response;
  return model;
}

export const createModelsSlice =
  ({ api }: SliceDeps): Slice<ModelsSlice> =>
  (set, get) => ({
    models: [],
    modelsTotal: 0,
    registering: false,
    async register(input) {
      const text = input.trim();
      if (!text || get().registering) return false;
      set({ registering: true });
      try {
        const response = await api.register(text);
        get().upsertModel(modelOf(response));
        // Per input: registering another model says nothing about this one's trouble.
        const topic = `register:${text}`;
        get().pushBanner("success", `Registered ${response.name}`, topic);
        for (const warning of response.warnings) get().pushBanner("warning", warning, topic);
        return true;
      } catch (error) {
        get().pushBanner("error", messageOf(error), `register:${text}`);
        return false;
      } finally {
        set({ registering: false });
      }
    },
    async removeModel(name) {
      try {
        await api.removeModel(name);
      } catch (error) {
        // Already gone (another window, the CLI): the user's wish is met.
        if (!isNotFound(error)) {
          get().pushBanner("error", messageOf(error));
          return false;
        }
      }
      get().dropModel(name);
      return true;
    },
    upsertModel(model) {
      const models = get().models;
      const index = models.findIndex((m) => m.name === model.name);
      if (index === -1) {
        set({ models: [model, ...models], modelsTotal: get().modelsTotal + 1 });
      } else {
        set({ models: models.with(index, model) });
      }
    },
    dropModel(name) {
      const models = get().models;
      if (!models.some((m) => m.name === name)) return;
      set({ models: models.filter((m) => m.name !== name), modelsTotal: Math.max(0, get().modelsTotal - 1) });
    },
  });

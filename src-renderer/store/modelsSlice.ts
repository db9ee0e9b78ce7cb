import type { Model, ModelSettingsPatch, RegisterResponse } from "../../src-main/contract";
import { isNotFound } from "../api";
import { messageOf, type Slice, type SliceDeps } from "./types";

export interface ModelsSlice {
  /** Newest first, as the server lists them (`ORDER BY rowid DESC`). */
  models: Model[];
  /** How many the server has; more than `models.length` only past its 1000-row page. */
  modelsTotal: number;
  registering: boolean;
  /**
   * Why the last registration failed, shown at the form until the next try or an edit: the answer to
   * what was just typed belongs beside it, and only the latest one matters.
   */
  registerError: string | null;
  /**
   * Registers whatever was pasted; true when it was registered. A success and its warnings are banners;
   * so is a failure once the form is gone (the user went to another page meanwhile).
   */
  register(input: string): Promise<boolean>;
  clearRegisterError(): void;
  /** The form says while it is on screen, so that a failure is told where it will be seen. */
  showingRegisterForm(shown: boolean): void;
  /** Deletes a model; true when it is gone. */
  removeModel(name: string): Promise<boolean>;
  /** Changes a model's settings; the server's refusal when it refused, else null. */
  saveModelSettings(name: string, settings: ModelSettingsPatch): Promise<string | null>;
  /** Gives a model another name; the server's refusal when it refused, else null. */
  addAlias(name: string, alias: string): Promise<string | null>;
  removeAlias(name: string, alias: string): Promise<string | null>;
  /** Tries a model again where it failed or crashed a node's worker; banners tell the outcome. */
  retryModel(name: string): Promise<void>;
  /** Loads a model into a worker node's memory now; the banners say when it is, or why not. */
  loadModel(name: string, nodeName: string): Promise<void>;
  upsertModel(model: Model): void;
  dropModel(name: string): void;
}

/** A registration answer is a model plus `status`, `warnings` and `stale`: keep the model's fields. */
function modelOf(response: RegisterResponse): Model {
  const { status: _status, warnings: _warnings, stale: _stale, ...model } = response;
  return model;
}

/**
 * Where a model has just failed (its download, its verification, its worker), in words to announce:
 * the card shows it only in its own text, which is not a live region (download progress would
 * chatter). Said once, as the node enters the error.
 */
function newFailures(before: Model, after: Model): string[] {
  return after.nodes.flatMap((node) =>
    node.state === "error" && before.nodes.find((was) => was.node_id === node.node_id)?.state !== "error"
      ? [`${after.name} failed on ${node.node_name}: ${node.message}`]
      : [],
  );
}

export const createModelsSlice =
  ({ api }: SliceDeps): Slice<ModelsSlice> =>
  (set, get) => {
    /** Register forms on screen now. */
    let formsShown = 0;
    const withModel = (name: string, change: (model: Model) => Model) => {
      const model = get().models.find((m) => m.name === name);
      if (model) get().upsertModel(change(model));
    };
    return {
      models: [],
      modelsTotal: 0,
      registering: false,
      registerError: null,
      async register(input) {
        const text = input.trim();
        if (!text || get().registering) return false;
        set({ registering: true, registerError: null });
        // A new registration: what was said about earlier ones would read as about this one.
        get().dismissBannersAbout("register:");
        try {
          const response = await api.register(text);
          get().upsertModel(modelOf(response));
          // Per input: registering another model says nothing about this one's trouble.
          const topic = `register:${text}`;
          get().pushBanner("success", `Registered ${response.name}`, topic);
          for (const warning of response.warnings) get().pushBanner("warning", warning, topic);
          return true;
        } catch (error) {
          if (formsShown > 0) set({ registerError: messageOf(error) });
          else get().pushBanner("error", messageOf(error), `register:${text}`);
          return false;
        } finally {
          set({ registering: false });
        }
      },
      clearRegisterError() {
        if (get().registerError !== null) set({ registerError: null });
      },
      showingRegisterForm(shown) {
        formsShown += shown ? 1 : -1;
        // An answer to what was typed goes with the text, which a form shown again no longer holds.
        if (!shown) get().clearRegisterError();
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
        get().pushBanner("success", `Deleted ${name}`);
        return true;
      },
      async saveModelSettings(name, settings) {
        try {
          get().upsertModel(await api.updateModelSettings(name, settings));
          // The panel closes; the card shows the change, silently to a screen reader without this.
          get().announce(`Settings of ${name} saved.`);
          return null;
        } catch (error) {
          return messageOf(error);
        }
      },
      // The server's live update says the same a moment later; the card need not wait for it.
      async addAlias(name, alias) {
        try {
          await api.addAlias(name, alias);
          withModel(name, (model) => ({ ...model, aliases: [...new Set([...model.aliases, alias])].sort() }));
          get().announce(`Added alias ${alias} to ${name}.`);
          return null;
        } catch (error) {
          return messageOf(error);
        }
      },
      async removeAlias(name, alias) {
        try {
          await api.removeAlias(alias);
        } catch (error) {
          // Already gone (another window, the CLI): the user's wish is met.
          if (!isNotFound(error)) return messageOf(error);
        }
        withModel(name, (model) => ({ ...model, aliases: model.aliases.filter((a) => a !== alias) }));
        get().announce(`Removed alias ${alias} from ${name}.`);
        return null;
      },
      async retryModel(name) {
        try {
          const answer = await api.retryModel(name);
          const retried = answer.nodes.filter((node) => node.retried).map((node) => node.node_name);
          get().pushBanner(
            retried.length > 0 ? "success" : "warning",
            retried.length > 0
              ? `Trying ${name} again on ${retried.join(", ")}`
              : `${name} had not failed on any node that is online: nothing to retry.`,
            `retry:${name}`,
          );
        } catch (error) {
          get().pushBanner("error", messageOf(error), `retry:${name}`);
        }
      },
      async loadModel(name, nodeName) {
        const key = `load:${nodeName}:${name}`;
        try {
          const answer = await api.loadModel(name, nodeName);
          const node = answer.nodes[0];
          get().pushBanner(
            node?.outcome === "loaded" ? "success" : "error",
            node?.outcome === "loaded"
              ? `Loaded ${answer.model} on ${nodeName}`
              : node?.outcome === "not_ready"
                ? `${answer.model} is not ready on ${nodeName}`
                : node?.outcome === "failed"
                  ? (node.message ?? `${nodeName} could not load ${answer.model}`)
                  : `${nodeName} did not answer`,
            key,
          );
        } catch (error) {
          get().pushBanner("error", messageOf(error), key);
        }
      },
      upsertModel(model) {
        const models = get().models;
        const index = models.findIndex((m) => m.name === model.name);
        if (index === -1) {
          set({ models: [model, ...models], modelsTotal: get().modelsTotal + 1 });
        } else {
          const failures = newFailures(models[index]!, model);
          set({ models: models.with(index, model) });
          if (failures.length > 0) get().announce(failures.join(" "));
        }
      },
      dropModel(name) {
        const models = get().models;
        if (!models.some((m) => m.name === name)) return;
        set({
          models: models.filter((m) => m.name !== name),
          modelsTotal: Math.max(0, get().modelsTotal - 1),
        });
      },
    };
  };

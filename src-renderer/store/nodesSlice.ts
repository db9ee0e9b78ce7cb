import type { NodeInfo, NodeJoinInfo } from "../../src-main/contract";
import { ApiError, isNotFound } from "../api";
import { messageOf, type Slice, type SliceDeps } from "./types";

export interface NodesSlice {
  /** By name, as the server lists them. */
  nodes: NodeInfo[];
  upsertNode(node: NodeInfo): void;
  dropNode(id: string): void;
  /**
   * Removes an offline worker node for good, or with `force` another machine's online one; true when it
   * is gone (the banners say so, or why not).
   */
  removeNode(id: string, force?: boolean): Promise<boolean>;
  /** Takes a worker node out of rotation, or puts it back; the banners say so, or why not. */
  setNodeDraining(id: string, draining: boolean): Promise<void>;
  /** Frees the memory a model holds on a worker node; the banners say so, or why not. */
  unloadModel(model: string, nodeName: string): Promise<void>;
  /** How another machine joins; undefined until read, or where the server cannot say (an older one). */
  nodeJoin: NodeJoinInfo | undefined;
  loadNodeJoin(): Promise<void>;
  /** A new node token; true once replaced (the banners say so, or why not). */
  replaceNodeToken(): Promise<boolean>;
}

export const createNodesSlice =
  ({ api }: SliceDeps): Slice<NodesSlice> =>
  (set, get) => ({
    nodes: [],
    upsertNode(node) {
      const others = get().nodes.filter((n) => n.id !== node.id);
      set({ nodes: [...others, node].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) });
    },
    dropNode(id) {
      set({ nodes: get().nodes.filter((n) => n.id !== id) });
    },
    async removeNode(id, force = false) {
      const name = get().nodes.find((n) => n.id === id)?.name ?? id;
      let pinned: string[] = [];
      try {
        pinned = (await api.removeNode(id, force))?.pinned_models ?? [];
      } catch (error) {
        // Removed meanwhile (the CLI, another window): gone all the same.
        if (!(error instanceof ApiError && error.code === "node.not_found")) {
          get().pushBanner("error", messageOf(error), `node:${id}`);
          return false;
        }
      }
      get().dropNode(id);
      get().pushBanner("success", `Removed ${name}`, `node:${id}`);
      // Their pin still names it: none of them goes to another node until pinned anew.
      if (pinned.length > 0)
        get().pushBanner(
          "error",
          `The pin of ${pinned.join(", ")} still names ${name}: pin ${pinned.length === 1 ? "it" : "them"} anew in ${pinned.length === 1 ? "its" : "their"} settings (Nodes, or any).`,
          `pins:${id}`,
        );
      return true;
    },
    async setNodeDraining(id, draining) {
      try {
        const node = await api.setNodeDraining(id, draining);
        get().upsertNode(node);
        get().pushBanner(
          "success",
          draining
            ? `Drained ${node.name}: its running requests finish, nothing new goes to it`
            : `${node.name} is back in rotation`,
          `node:${id}`,
        );
      } catch (error) {
        get().pushBanner("error", messageOf(error), `node:${id}`);
      }
    },
    async unloadModel(model, nodeName) {
      const key = `unload:${nodeName}:${model}`;
      try {
        const answer = await api.unloadModel(model, nodeName);
        const node = answer.nodes[0];
        const outcome = node?.outcome;
        get().pushBanner(
          outcome === "now" || outcome === "not_loaded"
            ? "success"
            : outcome === "when_idle"
              ? "warning"
              : "error",
          outcome === "now"
            ? `Unloaded ${answer.model} from ${nodeName}`
            : outcome === "when_idle"
              ? `${answer.model} leaves ${nodeName}'s memory once its running requests end, unless another comes first`
              : outcome === "not_loaded"
                ? `${answer.model} was not loaded on ${nodeName}`
                : outcome === "failed"
                  ? (node?.message ?? `${nodeName} could not unload ${answer.model}`)
                  : `${nodeName} did not answer: ${answer.model} may still be loaded there`,
          key,
        );
      } catch (error) {
        get().pushBanner("error", messageOf(error), key);
      }
    },
    nodeJoin: undefined,
    async loadNodeJoin() {
      try {
        set({ nodeJoin: await api.nodeJoin() });
      } catch (error) {
        if (!isNotFound(error)) get().pushBanner("error", messageOf(error), "node-join");
      }
    },
    async replaceNodeToken() {
      try {
        set({ nodeJoin: await api.replaceNodeToken() });
      } catch (error) {
        get().pushBanner("error", messageOf(error), "node-join");
        return false;
      }
      get().pushBanner(
        "success",
        "Replaced the node token: machines already joined stay, new ones need the new token",
        "node-join",
      );
      return true;
    },
  });

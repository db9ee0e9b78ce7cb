import type { NodeInfo } from "../../src-main/contract";
import { ApiError } from "../api";
import { messageOf, type Slice, type SliceDeps } from "./types";

export interface NodesSlice {
  /** By name, as the server lists them. */
  nodes: NodeInfo[];
  upsertNode(node: NodeInfo): void;
  dropNode(id: string): void;
  /** Removes an offline worker node for good; true when it is gone (the banners say so, or why not). */
  removeNode(id: string): Promise<boolean>;
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
    async removeNode(id) {
      const name = get().nodes.find((n) => n.id === id)?.name ?? id;
      try {
        await api.removeNode(id);
      } catch (error) {
        // Removed meanwhile (the CLI, another window): gone all the same.
        if (!(error instanceof ApiError && error.code === "node.not_found")) {
          get().pushBanner("error", messageOf(error), `node:${id}`);
          return false;
        }
      }
      get().dropNode(id);
      get().pushBanner("success", `Removed ${name}`, `node:${id}`);
      return true;
    },
  });

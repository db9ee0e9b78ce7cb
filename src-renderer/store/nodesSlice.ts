import type { NodeInfo } from "../../src-main/contract";
import type { Slice } from "./types";

export interface NodesSlice {
  /** By name, as the server lists them. */
  nodes: NodeInfo[];
  upsertNode(node: NodeInfo): void;
  dropNode(id: string): void;
}

export const createNodesSlice = (): Slice<NodesSlice> => (set, get) => ({
  nodes: [],
  upsertNode(node) {
    const others = get().nodes.filter((n) => n.id !== node.id);
    set({ nodes: [...others, node].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) });
  },
  dropNode(id) {
    set({ nodes: get().nodes.filter((n) => n.id !== id) });
  },
});

import type { Slice } from "./types";

export type BannerKind = "success" | "warning" | "error";

export interface Banner {
  id: number;
  kind: BannerKind;
  text: string;
  /** The action it reports on (`register`, `endpoint`, …), if any. */
  topic?: string;
}

export interface BannersSlice {
  /** Oldest first; the Banners component removes them when their time is up (see bannerLifetime.ts). */
  banners: Banner[];
  /**
   * Shows a banner. With a topic, the same banner again replaces the first (no stack of copies), and
   * a success or warning closes that action's earlier errors: the trouble they reported is over.
   */
  pushBanner(kind: BannerKind, text: string, topic?: string): number;
  dismissBanner(id: number): void;
}

export const createBannersSlice = (): Slice<BannersSlice> => {
  let nextId = 1;
  return (set, get) => ({
    banners: [],
    pushBanner(kind, text, topic) {
      const id = nextId++;
      const kept =
        topic === undefined
          ? get().banners
          : get().banners.filter(
              (banner) =>
                banner.topic !== topic ||
                !(banner.kind === "error" ? kind !== "error" || banner.text === text : banner.text === text),
            );
      set({ banners: [...kept, { id, kind, text, ...(topic === undefined ? {} : { topic }) }] });
      return id;
    },
    dismissBanner(id) {
      set({ banners: get().banners.filter((banner) => banner.id !== id) });
    },
  });
};

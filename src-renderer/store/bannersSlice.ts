import type { Slice } from "./types";

export type BannerKind = "success" | "warning" | "error";

export interface Banner {
  id: number;
  kind: BannerKind;
  text: string;
  /** The action it reports on (`register`, `endpoint`, …), if any. */
  topic?: string;
  /** How many times the same thing was said: a repeat is counted, not stacked. */
  count: number;
}

export interface BannersSlice {
  /** Oldest first; the Banners component removes them when their time is up (see bannerLifetime.ts). */
  banners: Banner[];
  /**
   * Shows a banner. The same banner again (kind and text) replaces the first, counted and moved to the
   * newest place; with a topic, a success or warning also closes that action's earlier errors: the
   * trouble they reported is over.
   */
  pushBanner(kind: BannerKind, text: string, topic?: string): number;
  dismissBanner(id: number): void;
  /** Closes the banners whose topic starts with `prefix`: what they report on is over. */
  dismissBannersAbout(prefix: string): void;
  dismissAllBanners(): void;
}

export const createBannersSlice = (): Slice<BannersSlice> => {
  let nextId = 1;
  return (set, get) => ({
    banners: [],
    pushBanner(kind, text, topic) {
      const id = nextId++;
      const same = (banner: Banner) => banner.kind === kind && banner.text === text;
      const count = (get().banners.find(same)?.count ?? 0) + 1;
      const kept = get().banners.filter(
        (banner) =>
          !same(banner) &&
          (topic === undefined || banner.topic !== topic || banner.kind !== "error" || kind === "error"),
      );
      set({ banners: [...kept, { id, kind, text, count, ...(topic === undefined ? {} : { topic }) }] });
      return id;
    },
    dismissBanner(id) {
      set({ banners: get().banners.filter((banner) => banner.id !== id) });
    },
    dismissBannersAbout(prefix) {
      set({ banners: get().banners.filter((banner) => !banner.topic?.startsWith(prefix)) });
    },
    dismissAllBanners() {
      set({ banners: [] });
    },
  });
};

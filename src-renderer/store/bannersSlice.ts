import type { Slice } from "./types";

export type BannerKind = "success" | "warning" | "error";

export interface Banner {
  id: number;
  kind: BannerKind;
  text: string;
}

export interface BannersSlice {
  /** Oldest first; the Banners component removes them when their time is up (see bannerLifetime.ts). */
  banners: Banner[];
  pushBanner(kind: BannerKind, text: string): number;
  dismissBanner(id: number): void;
}

export const createBannersSlice = (): Slice<BannersSlice> => {
  let nextId = 1;
  return (set, get) => ({
    banners: [],
    pushBanner(kind, text) {
      const id = nextId++;
      set({ banners: [...get().banners, { id, kind, text }] });
      return id;
    },
    dismissBanner(id) {
      set({ banners: get().banners.filter((banner) => banner.id !== id) });
    },
  });
};

import type { Slice } from "./types";

export interface AnnouncerSlice {
  /**
   * The latest thing said to screen readers only, once, politely (the Announcer component): outcomes
   * that show on screen without a banner, such as an answer finished or a download that failed.
   */
  announcement: { id: number; text: string } | undefined;
  announce(text: string): void;
}

export const createAnnouncerSlice = (): Slice<AnnouncerSlice> => {
  let nextId = 1;
  return (set) => ({
    announcement: undefined,
    announce(text) {
      set({ announcement: { id: nextId++, text } });
    },
  });
};

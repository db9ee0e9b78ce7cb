import type { BannerKind } from "./store/bannersSlice";

/**
 * How long a banner stays on its own, the one place this is decided.
 *
 * - Nothing disappears by itself before a person could read it: never sooner than MIN_BANNER_MS.
 * - Success and warning banners go after 8 s; the clock stops while the pointer or keyboard focus is on
 *   the banner, so one being read is not pulled away.
 * - Errors stay until closed: they say what went wrong and what to do, and the user may be away.
 */
export const MIN_BANNER_MS = 4000;

export const BANNER_LIFETIME_MS: Record<BannerKind, number | null> = {
  success: Math.max(MIN_BANNER_MS, 8000),
  warning: Math.max(MIN_BANNER_MS, 8000),
  error: null,
};

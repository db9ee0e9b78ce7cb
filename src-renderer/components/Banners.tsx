import { useEffect, useRef, useState } from "react";
import { BANNER_LIFETIME_MS } from "../bannerLifetime";
import type { Banner } from "../store/bannersSlice";
import { useActions, useAppStore } from "../useAppStore";
import { IconAlert, IconCheck, IconClose, IconWarning } from "./icons";
import { ServerWords } from "./ServerWords";

/** At most this many banners are open at once: more would push the page out of sight. */
export const MAX_OPEN_BANNERS = 3;

/**
 * The stack of banners under the header: outcomes of what the user did, newest last. Older ones than
 * the newest three fold into one row that opens them all or closes them all; a folded banner's clock
 * (see bannerLifetime.ts) starts only once it is shown.
 */
export function Banners() {
  const banners = useAppStore((s) => s.banners);
  const { dismissAllBanners } = useActions();
  const [expanded, setExpanded] = useState(false);
  const folded = banners.length > MAX_OPEN_BANNERS;
  const shown = folded && !expanded ? banners.slice(-MAX_OPEN_BANNERS) : banners;
  const older = banners.length - MAX_OPEN_BANNERS;
  return (
    <section className="banners" aria-label="Notifications">
      {folded && (
        <div className="banner banner-fold" role="group" aria-label="Older notifications">
          <p className="banner-text">
            {older} older notification{older === 1 ? "" : "s"}
          </p>
          <button type="button" className="button" onClick={() => setExpanded((open) => !open)}>
            {expanded ? "Show fewer" : "Show all"}
          </button>
          <button
            type="button"
            className="button"
            onClick={() => {
              dismissAllBanners();
              setExpanded(false);
            }}
          >
            Dismiss all
          </button>
        </div>
      )}
      {shown.map((banner) => (
        <BannerItem key={banner.id} banner={banner} />
      ))}
    </section>
  );
}

const icons = { success: IconCheck, warning: IconWarning, error: IconAlert };

function BannerItem({ banner }: { banner: Banner }) {
  const { dismissBanner } = useActions();
  const lifetime = BANNER_LIFETIME_MS[banner.kind];
  const [held, setHeld] = useState({ hover: false, focus: false });
  // Time left survives pauses: hovering stops the clock, it does not restart it.
  const left = useRef(lifetime ?? 0);

  useEffect(() => {
    if (lifetime === null || held.hover || held.focus) return;
    const started = Date.now();
    const timer = setTimeout(() => dismissBanner(banner.id), left.current);
    return () => {
      clearTimeout(timer);
      left.current = Math.max(0, left.current - (Date.now() - started));
    };
  }, [lifetime, held.hover, held.focus, banner.id, dismissBanner]);

  const Icon = icons[banner.kind];
  return (
    <div
      className={`banner banner-${banner.kind}`}
      role={banner.kind === "error" ? "alert" : "status"}
      onMouseEnter={() => setHeld((h) => ({ ...h, hover: true }))}
      onMouseLeave={() => setHeld((h) => ({ ...h, hover: false }))}
      onFocus={() => setHeld((h) => ({ ...h, focus: true }))}
      onBlur={() => setHeld((h) => ({ ...h, focus: false }))}
    >
      <Icon className="banner-icon" size={18} />
      <p className="banner-text">
        <ServerWords text={banner.text} />
        {banner.count > 1 && <span className="banner-count"> ({banner.count} times)</span>}
      </p>
      <button
        type="button"
        className="icon-button"
        aria-label="Dismiss"
        onClick={() => dismissBanner(banner.id)}
      >
        <IconClose />
      </button>
    </div>
  );
}

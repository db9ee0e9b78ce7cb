import { useEffect, useRef, useState } from "react";
import { BANNER_LIFETIME_MS } from "../bannerLifetime";
import type { Banner } from "../store/bannersSlice";
import { useActions, useAppStore } from "../useAppStore";
import { useFocusHandoff } from "../useFocusHandoff";
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
    // A landmark only while there is something in it: an empty one would be listed all the time.
    <section className="banners" aria-label={banners.length > 0 ? "Notifications" : undefined}>
      {folded && (
        <FoldRow
          older={older}
          expanded={expanded}
          onToggle={() => setExpanded((open) => !open)}
          onDismissAll={() => {
            dismissAllBanners();
            setExpanded(false);
          }}
        />
      )}
      {shown.map((banner) => (
        <BannerItem key={banner.id} banner={banner} />
      ))}
    </section>
  );
}

function FoldRow(props: { older: number; expanded: boolean; onToggle(): void; onDismissAll(): void }) {
  const { older, expanded } = props;
  const row = useFocusHandoff<HTMLDivElement>(() => nextBanner(0));
  return (
    <div ref={row} className="banner banner-fold" role="group" aria-label="Older notifications">
      <p className="banner-text">
        {older} older notification{older === 1 ? "" : "s"}
      </p>
      <button type="button" className="button" onClick={props.onToggle}>
        {expanded ? "Show fewer" : "Show all"}
      </button>
      <button type="button" className="button" onClick={props.onDismissAll}>
        Dismiss all
      </button>
    </div>
  );
}

/**
 * Once a banner with the focus has gone: the Dismiss of the banner now in its place (else of the
 * last one), so the keyboard can go on closing them; with none left, the page.
 */
function nextBanner(index: number): () => HTMLElement | null {
  return () => {
    const dismisses = [...document.querySelectorAll<HTMLElement>(".banners .banner-dismiss")];
    return dismisses[index] ?? dismisses.at(-1) ?? document.getElementById("main");
  };
}

const icons = { success: IconCheck, warning: IconWarning, error: IconAlert };

function BannerItem({ banner }: { banner: Banner }) {
  const { dismissBanner } = useActions();
  const lifetime = BANNER_LIFETIME_MS[banner.kind];
  const [held, setHeld] = useState({ hover: false, focus: false });
  // Time left survives pauses: hovering stops the clock, it does not restart it.
  const left = useRef(lifetime ?? 0);
  const item = useFocusHandoff<HTMLDivElement>((element) =>
    nextBanner(
      [...document.querySelectorAll(".banners .banner-dismiss")].indexOf(
        element.querySelector(".banner-dismiss")!,
      ),
    ),
  );

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
      ref={item}
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
        className="icon-button banner-dismiss"
        aria-label="Dismiss"
        onClick={() => dismissBanner(banner.id)}
      >
        <IconClose />
      </button>
    </div>
  );
}

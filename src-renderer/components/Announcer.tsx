import { useAppStore } from "../useAppStore";

/**
 * Where the store's announcements are said: a polite status region, always there (a region added
 * with its text is not reliably read), seen by no one. The same words twice differ by a trailing
 * no-break space, so the second is said too.
 */
export function Announcer() {
  const announcement = useAppStore((s) => s.announcement);
  return (
    <p className="visually-hidden" role="status">
      {announcement && `${announcement.text}${announcement.id % 2 === 0 ? "\u00a0" : ""}`}
    </p>
  );
}

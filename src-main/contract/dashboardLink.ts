/**
 * The dashboard's link carries the admin token in its fragment (`/#token=…`): browsers never send a
 * fragment to a server, so no log or proxy sees it, and the page keeps the token for its own origin.
 * Imports nothing, so the dashboard may bundle it.
 */
const tokenFragment = /^#token=([^&]*)$/;

/** The dashboard's link: `http://127.0.0.1:8080/#token=…`; with base "", the path `/#token=…`. */
export function dashboardLink(base: string, adminToken: string): string {
  return `${base}/#token=${encodeURIComponent(adminToken)}`;
}

/** The token in a link's fragment (`location.hash`), if it carries one. */
export function tokenInFragment(hash: string): string | undefined {
  const match = tokenFragment.exec(hash);
  if (!match) return undefined;
  try {
    const token = decodeURIComponent(match[1]!);
    return token === "" ? undefined : token;
  } catch {
    return undefined;
  }
}

import { tokenInFragment } from "../src-main/contract/dashboardLink";

/** Where this origin keeps the admin token. */
const storageKey = "llmlb.admin-token";

/**
 * The admin token the dashboard sends as `Authorization: Bearer`. It is kept in this origin's
 * localStorage, which is this server's port alone (a cookie for 127.0.0.1 went to every port there),
 * and in memory where the browser keeps no storage.
 */
export interface AdminToken {
  read(): string | undefined;
  save(token: string): void;
}

export function adminTokenIn(storage: Pick<Storage, "getItem" | "setItem"> | undefined): AdminToken {
  let held: string | undefined;
  return {
    read() {
      if (held !== undefined) return held;
      try {
        return storage?.getItem(storageKey) ?? undefined;
      } catch {
        return undefined;
      }
    },
    save(token) {
      held = token;
      try {
        storage?.setItem(storageKey, token);
      } catch {
        // Storage refused (a private window's quota, a policy): the token lasts as long as the page.
      }
    },
  };
}

/** This origin's localStorage, where the browser allows one. */
export function originStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

/**
 * Takes the token from the link the page was opened with (`/#token=…`) and drops it from the address
 * bar and the history, so it is not shown, bookmarked or shared with the address.
 */
export function takeTokenFromLink(
  token: AdminToken,
  location: Pick<Location, "hash" | "pathname" | "search">,
  history: Pick<History, "replaceState">,
): void {
  const given = tokenInFragment(location.hash);
  if (given === undefined) return;
  token.save(given);
  history.replaceState(null, "", location.pathname + location.search);
}

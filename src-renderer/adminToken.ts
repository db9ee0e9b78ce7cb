import { tokenInFragment } from "../src-main/contract/dashboardLink";

/** Where this origin keeps the admin token. */
const storageKey = "llmlb.admin-token";

/**
 * The admin token the dashboard sends as `Authorization: Bearer`. One given by a link or pasted is
 * used for this page until the server takes it, and only then kept, in this origin's localStorage
 * (this scheme, host and port; a cookie for 127.0.0.1 went to every port there): a link another page
 * opens with a token of its own cannot replace the one kept.
 */
export interface AdminToken {
  /** The token to send: the one given, else the one kept. */
  read(): string | undefined;
  /** A token from a link or pasted by hand: sent from now on, kept once the server takes it. */
  use(token: string): void;
  /** The server took the token sent: keep it. */
  keep(): void;
  /** The server refused a token given: go back to the one kept. Whether there is one to try. */
  fallBack(): boolean;
}

export function adminTokenIn(storage: Pick<Storage, "getItem" | "setItem"> | undefined): AdminToken {
  let given: string | undefined;
  const kept = () => {
    try {
      return storage?.getItem(storageKey) ?? undefined;
    } catch {
      return undefined;
    }
  };
  return {
    read: () => given ?? kept(),
    use(token) {
      given = token;
    },
    keep() {
      if (given === undefined || storage === undefined) return;
      try {
        storage.setItem(storageKey, given);
        given = undefined;
      } catch {
        // Storage refused (a private window's quota, a policy): the token lasts as long as the page.
      }
    },
    fallBack() {
      if (given === undefined) return false;
      given = undefined;
      return kept() !== undefined;
    },
  };
}

/** `Authorization` with the token to send, or nothing before there is one (the server then says so). */
export function authorization(token: AdminToken): Record<string, string> {
  const held = token.read();
  return held === undefined ? {} : { authorization: `Bearer ${held}` };
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
 * bar, so it is not shown, bookmarked or shared with the address. Returns the token taken.
 */
export function takeTokenFromLink(
  token: AdminToken,
  location: Pick<Location, "hash" | "pathname" | "search">,
  history: Pick<History, "replaceState">,
): string | undefined {
  const given = tokenInFragment(location.hash);
  if (given === undefined) return undefined;
  token.use(given);
  history.replaceState(null, "", location.pathname + location.search);
  return given;
}

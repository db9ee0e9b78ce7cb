import { useSyncExternalStore } from "react";

export const routes = ["models", "nodes", "requests", "endpoint", "playground", "settings"] as const;
export type Route = (typeof routes)[number];

function current(): Route {
  const name = location.hash.replace(/^#\/?/, "").split(/[/?]/)[0];
  return (routes as readonly string[]).includes(name ?? "") ? (name as Route) : "models";
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener("hashchange", onChange);
  return () => window.removeEventListener("hashchange", onChange);
}

/** The page in the address's hash (`#/nodes`); no router library for six pages. */
export function useHashRoute(): Route {
  return useSyncExternalStore(subscribe, current, () => "models");
}

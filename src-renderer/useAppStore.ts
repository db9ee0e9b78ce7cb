import { createContext, useContext } from "react";
import { useStore } from "zustand";
import type { AppStore } from "./store/createAppStore";
import type { AppState } from "./store/types";

export const StoreContext = createContext<AppStore | null>(null);

export function useAppStoreApi(): AppStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error("useAppStore needs a StoreContext provider");
  return store;
}

/** Select one field (or one derived value that is stable between renders) from the app store. */
export function useAppStore<T>(selector: (state: AppState) => T): T {
  return useStore(useAppStoreApi(), selector);
}

/** The store's actions: stable functions, read without subscribing. */
export function useActions(): AppState {
  return useAppStoreApi().getState();
}

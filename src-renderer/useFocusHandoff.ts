import { useLayoutEffect, useRef } from "react";

/**
 * Where the keyboard goes when an element that holds it leaves the page (a banner dismissed, a Retry
 * that goes once the model is tried again), instead of falling to <body> and starting over at the
 * top. `prepare` runs while the element is still there, to note what it needs (its neighbours); the
 * function it returns runs once the element is gone, and names what takes the focus. Returns the ref
 * for the element.
 */
export function useFocusHandoff<T extends HTMLElement>(
  prepare: (element: T) => () => HTMLElement | null | undefined,
) {
  const ref = useRef<T>(null);
  const latest = useRef(prepare);
  useLayoutEffect(() => {
    latest.current = prepare;
  });
  useLayoutEffect(() => {
    const element = ref.current;
    // Runs before React takes the element out, while it still has the focus.
    return () => {
      if (!element || !element.contains(document.activeElement)) return;
      const next = latest.current(element);
      // After the whole change is applied: siblings that go at the same time are gone by then.
      queueMicrotask(() => {
        const active = document.activeElement;
        if (active && active !== document.body && active.isConnected) return;
        next()?.focus();
      });
    };
  }, []);
  return ref;
}

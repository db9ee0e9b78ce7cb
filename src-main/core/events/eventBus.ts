import type { ServerEvent } from "../../contract";

export type EventListener = (event: ServerEvent) => void;

/** Model, node and serving changes, fanned out to whoever listens (the dashboard's streams, the tray). */
export interface EventBus {
  publish(event: ServerEvent): void;
  /** Returns the function that stops listening. */
  subscribe(listener: EventListener): () => void;
  listenerCount(): number;
}

export function createEventBus(): EventBus {
  const listeners = new Set<EventListener>();
  return {
    publish(event) {
      for (const listener of listeners) listener(event);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    listenerCount: () => listeners.size,
  };
}

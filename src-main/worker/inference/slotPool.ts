/**
 * A fixed set of reusable slots (a context's sequences) handed out first come, first served: a request
 * that finds none free waits for one rather than failing, and stops waiting when its signal aborts.
 */
export interface SlotPool<T> {
  /** Resolves with a free slot; rejects with the signal's reason if it aborts first. */
  acquire(signal: AbortSignal): Promise<T>;
  /** Gives a slot back: to the longest waiter, else to the free list. */
  release(slot: T): void;
  /** Runs `work` with a slot and releases it however `work` ends. */
  use<R>(signal: AbortSignal, work: (slot: T) => Promise<R>): Promise<R>;
  readonly size: number;
  readonly busy: number;
  readonly waiting: number;
  /** Rejects every waiter and every later acquire with `reason`. */
  close(reason: Error): void;
}

interface Waiter<T> {
  resolve(slot: T): void;
  reject(reason: unknown): void;
}

export function createSlotPool<T>(slots: readonly T[]): SlotPool<T> {
  const free = [...slots];
  const waiters: Waiter<T>[] = [];
  let closed: Error | undefined;

  const pool: SlotPool<T> = {
    acquire(signal) {
      if (closed) return Promise.reject(closed);
      if (signal.aborted) return Promise.reject(signal.reason);
      const slot = free.shift();
      if (slot !== undefined) return Promise.resolve(slot);
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => {
          const index = waiters.indexOf(waiter);
          if (index >= 0) waiters.splice(index, 1);
          reject(signal.reason);
        };
        const waiter: Waiter<T> = {
          resolve: (given) => {
            signal.removeEventListener("abort", onAbort);
            resolve(given);
          },
          reject: (reason) => {
            signal.removeEventListener("abort", onAbort);
            reject(reason);
          },
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiters.push(waiter);
      });
    },
    release(slot) {
      const waiter = waiters.shift();
      if (waiter) waiter.resolve(slot);
      else free.push(slot);
    },
    async use(signal, work) {
      const slot = await pool.acquire(signal);
      try {
        return await work(slot);
      } finally {
        pool.release(slot);
      }
    },
    get size() {
      return slots.length;
    },
    get busy() {
      return slots.length - free.length;
    },
    get waiting() {
      return waiters.length;
    },
    close(reason) {
      closed = reason;
      for (const waiter of waiters.splice(0)) waiter.reject(reason);
    },
  };
  return pool;
}

import { AppError } from "../../shared/errors";

export interface AdmissionOptions {
  /** Requests waiting per model for a free slot before new ones get 503. Default: 64. */
  queueSize?: number;
  /** How long a request waits for a slot before it gets 503. Default: 30000 ms. */
  queueTimeoutMs?: number;
}

/**
 * A bounded admission queue per model: at most `capacity` requests run at once (the ready nodes'
 * slots), at most `queueSize` wait, in order, and the rest are told to come back later (503,
 * Retry-After).
 */
export interface Admission {
  /** A release function if the request may run now; undefined if it would have to wait. */
  tryEnter(model: string, capacity: number): (() => void) | undefined;
  /** Resolves with a release function once the request may run. */
  enter(model: string, capacity: number, signal: AbortSignal): Promise<() => void>;
  /** The capacity of a model with requests waiting changed (nodes came, or left): they go in as it allows. */
  setCapacity(model: string, capacity: number): void;
  /** Every request waiting for the model is answered `error` now (it is served here no more). */
  dismiss(model: string, error: unknown): void;
  depth(model: string): { running: number; waiting: number };
  /** Every model with requests running or waiting. */
  depths(): { model: string; running: number; waiting: number }[];
}

interface Gate {
  running: number;
  /** The latest capacity seen: nodes come and go, and the queue follows. */
  capacity: number;
  waiting: { admit: () => void; refuse: (error: unknown) => void }[];
}

export function createAdmission(options: AdmissionOptions = {}): Admission {
  const queueSize = options.queueSize ?? 64;
  const timeoutMs = options.queueTimeoutMs ?? 30_000;
  const gates = new Map<string, Gate>();

  /** Lets waiters in, in order, while there are free slots. */
  function pump(gate: Gate): void {
    while (gate.waiting.length > 0 && gate.running < gate.capacity) gate.waiting.shift()!.admit();
  }

  function forgetIfIdle(model: string, gate: Gate): void {
    if (gate.running === 0 && gate.waiting.length === 0 && gates.get(model) === gate) gates.delete(model);
  }

  function releaser(model: string, gate: Gate): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      gate.running--;
      pump(gate);
      forgetIfIdle(model, gate);
    };
  }

  /**
   * Retry-After from 1 to 3 s, drawn for each: clients turned away together (the SDKs wait just what
   * it says, with no jitter of their own) come back spread out, not all into the same full queue.
   */
  const overloaded = (model: string, why: string) =>
    new AppError("balancer.overloaded", `Model ${model} is busy: ${why}. Retry shortly.`, {
      retryAfter: 1 + Math.floor(Math.random() * 3),
    });

  function gateOf(model: string, capacity: number): Gate {
    let gate = gates.get(model);
    if (!gate) gates.set(model, (gate = { running: 0, capacity, waiting: [] }));
    gate.capacity = capacity;
    pump(gate);
    return gate;
  }

  function tryEnter(model: string, capacity: number): (() => void) | undefined {
    const gate = gateOf(model, capacity);
    if (gate.running >= gate.capacity || gate.waiting.length > 0) return undefined;
    gate.running++;
    return releaser(model, gate);
  }

  return {
    tryEnter,
    enter(model, capacity, signal) {
      const admitted = tryEnter(model, capacity);
      if (admitted) return Promise.resolve(admitted);
      // Called off before it could wait (llmlb stopping, serving paused): it does not queue.
      if (signal.aborted) return Promise.reject(signal.reason);
      const open = gateOf(model, capacity);
      if (open.waiting.length >= queueSize) return Promise.reject(overloaded(model, "the queue is full"));
      return new Promise((resolve, reject) => {
        const entry: Gate["waiting"][number] = {
          refuse: () => {},
          admit: () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", onAbort);
            open.running++;
            resolve(releaser(model, open));
          },
        };
        const leave = (error: unknown) => {
          const at = open.waiting.indexOf(entry);
          // Let in meanwhile: it is not waiting any more (its release is the caller's).
          if (at < 0) return;
          open.waiting.splice(at, 1);
          signal.removeEventListener("abort", onAbort);
          pump(open);
          forgetIfIdle(model, open);
          reject(error);
        };
        const onAbort = () => (clearTimeout(timer), leave(signal.reason));
        entry.refuse = (error) => (clearTimeout(timer), leave(error));
        const timer = setTimeout(
          () => leave(overloaded(model, `no slot freed within ${timeoutMs} ms`)),
          timeoutMs,
        );
        signal.addEventListener("abort", onAbort, { once: true });
        open.waiting.push(entry);
      });
    },
    setCapacity(model, capacity) {
      const gate = gates.get(model);
      if (!gate) return;
      gate.capacity = capacity;
      pump(gate);
    },
    dismiss(model, error) {
      const gate = gates.get(model);
      for (const entry of [...(gate?.waiting ?? [])]) entry.refuse(error);
    },
    depths: () =>
      [...gates].map(([model, gate]) => ({ model, running: gate.running, waiting: gate.waiting.length })),
    depth(model) {
      const gate = gates.get(model);
      return { running: gate?.running ?? 0, waiting: gate?.waiting.length ?? 0 };
    },
  };
}

import { AppError } from "../errors";

export interface AdmissionOptions {
  /** Requests waiting per model for a free slot before new ones get 503. Default: 64. */
  queueSize?: number;
  /** How long a request waits for a slot before it gets 503. Default: 30000 ms. */
  queueTimeoutMs?: number;
}

/**
 * A bounded admission queue per model: at most `capacity` requests run at once (the ready nodes'
 * slots), at most `queueSize` wait, and the rest are told to come back later (503, Retry-After).
 */
export interface Admission {
  /** Resolves with a release function once the request may run. */
  enter(model: string, capacity: number, signal: AbortSignal): Promise<() => void>;
  depth(model: string): { running: number; waiting: number };
  /** Every model with requests running or waiting. */
  depths(): { model: string; running: number; waiting: number }[];
}

interface Gate {
  running: number;
  waiting: { capacity: number; admit: () => void }[];
}

export function createAdmission(options: AdmissionOptions = {}): Admission {
  const queueSize = options.queueSize ?? 64;
  const timeoutMs = options.queueTimeoutMs ?? 30_000;
  const gates = new Map<string, Gate>();

  function gateOf(model: string): Gate {
    let gate = gates.get(model);
    if (!gate) gates.set(model, (gate = { running: 0, waiting: [] }));
    return gate;
  }

  function releaser(model: string, gate: Gate): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      gate.running--;
      const next = gate.waiting[0];
      if (next && gate.running < next.capacity) {
        gate.waiting.shift();
        next.admit();
      } else if (gate.running === 0 && gate.waiting.length === 0) {
        gates.delete(model);
      }
    };
  }

  const overloaded = (model: string, why: string) =>
    new AppError("balancer.overloaded", `Model ${model} is busy: ${why}. Retry shortly.`, { retryAfter: 1 });

  return {
    enter(model, capacity, signal) {
      const gate = gateOf(model);
      if (gate.running < capacity && gate.waiting.length === 0) {
        gate.running++;
        return Promise.resolve(releaser(model, gate));
      }
      if (gate.waiting.length >= queueSize) return Promise.reject(overloaded(model, "the queue is full"));
      return new Promise((resolve, reject) => {
        const entry = {
          capacity,
          admit: () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", onAbort);
            gate.running++;
            resolve(releaser(model, gate));
          },
        };
        const leave = (error: unknown) => {
          gate.waiting.splice(gate.waiting.indexOf(entry), 1);
          signal.removeEventListener("abort", onAbort);
          reject(error);
        };
        const onAbort = () => (clearTimeout(timer), leave(signal.reason));
        const timer = setTimeout(
          () => leave(overloaded(model, `no slot freed within ${timeoutMs} ms`)),
          timeoutMs,
        );
        signal.addEventListener("abort", onAbort, { once: true });
        gate.waiting.push(entry);
      });
    },
    depths: () =>
      [...gates].map(([model, gate]) => ({ model, running: gate.running, waiting: gate.waiting.length })),
    depth(model) {
      const gate = gates.get(model);
      return { running: gate?.running ?? 0, waiting: gate?.waiting.length ?? 0 };
    },
  };
}

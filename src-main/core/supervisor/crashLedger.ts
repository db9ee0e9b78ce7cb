import { formatDuration } from "../../contract/units";
import type { CrashedModel } from "../../contract/workerMessages";

export interface CrashLedgerOptions {
  /** Deaths of one worker with one model, within the window, that bar the model there. Default: 2. */
  threshold?: number;
  /** How far back deaths count. Default: 5 minutes. */
  windowMs?: number;
}

export interface CrashLedger {
  /** A worker died (signal, non-zero exit) while loading or serving these models. */
  record(node: string, models: string[], cause: string, at: number): void;
  /** The models that crashed this node's worker too often: its next process does not load them. */
  crashed(node: string): CrashedModel[];
  /** Starts the model's count on this node over (a retry, a new registration). */
  clear(node: string, model: string): void;
}

interface Deaths {
  at: number[];
  cause: string;
}

/**
 * Which model keeps killing which worker. Kept by the supervisor, in memory: a restart of llmlb
 * starts every count over, as does a retry or a new registration of the model.
 */
export function createCrashLedger(options: CrashLedgerOptions = {}): CrashLedger {
  const threshold = options.threshold ?? 2;
  const windowMs = options.windowMs ?? 5 * 60_000;
  /** By node, then model: when it died with the model, and the latest cause. */
  const deaths = new Map<string, Map<string, Deaths>>();

  return {
    record(node, models, cause, at) {
      const byModel = deaths.get(node) ?? new Map<string, Deaths>();
      deaths.set(node, byModel);
      for (const model of models) {
        const entry = byModel.get(model) ?? { at: [], cause };
        entry.at = [...entry.at.filter((time) => at - time < windowMs), at];
        entry.cause = cause;
        byModel.set(model, entry);
      }
    },
    crashed(node) {
      return [...(deaths.get(node) ?? [])]
        .filter(([, entry]) => entry.at.length >= threshold)
        .map(([model, entry]) => ({
          model,
          message:
            `It crashed this node's worker ${entry.at.length} times in ${formatDuration((entry.at.at(-1)! - entry.at[0]!) / 1000)} ` +
            `(${entry.cause}), so this node no longer loads it. Retry with \`llmlb model retry ${model}\` ` +
            "(or Retry on the Models page) once the cause is fixed; restarting llmlb also retries it.",
        }));
    },
    clear(node, model) {
      deaths.get(node)?.delete(model);
    },
  };
}

/**
 * What a dead worker said last, for the crash's cause: llama.cpp's abort message rather than the
 * structured log lines before it, without the source path it starts with.
 */
export function lastWords(lines: readonly string[]): string | undefined {
  const plain = lines
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("{") && !line.startsWith("at "));
  const last = plain.at(-1);
  if (!last) return undefined;
  const text = last.replace(/^\S+\.(?:c|cc|cpp|cu|h|m|mm):\d+: /, "");
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

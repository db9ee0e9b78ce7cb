import fs from "node:fs";
import path from "node:path";
import type { InUse } from "../contract/workerMessages";

export interface InUseFile {
  /**
   * A request for (or a load of) `model` starts; call the answer when it ends. `served: false` (a
   * load, which decodes nothing): it does not count as a request the model answered. Default: true.
   */
  enter(model: string): (options?: { served?: boolean }) => void;
  /** The worker stops on its own terms: nothing it did is to blame on a model. */
  remove(): void;
}

/**
 * Writes down which models this worker has in use (and which have finished a request), at each
 * change, synchronously: should
 * llama.cpp abort the process in the middle of a decode, its supervisor reads here which model it died
 * with (see `inUseFileOf`). Written to a temporary file and renamed, so it is never read half-written.
 */
export function createInUseFile(
  file: string,
  /** A write failed (a full disk): requests go on, and a crash meanwhile may be blamed on no model. */
  onWriteFailed: (error: Error) => void = () => {},
): InUseFile {
  const uses = new Map<string, number>();
  const served = new Set<string>();
  const temporary = `${file}.tmp`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const write = () => {
    const state: InUse = { in_use: [...uses.keys()], served: [...served] };
    try {
      fs.writeFileSync(temporary, JSON.stringify(state));
      fs.renameSync(temporary, file);
    } catch (error) {
      // What it said before is no longer so: gone (removing needs no room), a crash meanwhile is
      // blamed on no model rather than on one that no longer ran.
      for (const stale of [temporary, file]) {
        try {
          fs.rmSync(stale, { force: true });
        } catch {
          // Not a file to remove (or not ours): left as it is.
        }
      }
      onWriteFailed(error as Error);
    }
  };
  write();
  return {
    enter(model) {
      const count = uses.get(model) ?? 0;
      uses.set(model, count + 1);
      if (count === 0) write();
      let left = false;
      return ({ served: answered = true } = {}) => {
        if (left) return;
        left = true;
        const remaining = uses.get(model)! - 1;
        const firstServed = answered && !served.has(model);
        if (answered) served.add(model);
        if (remaining > 0) uses.set(model, remaining);
        else uses.delete(model);
        if (remaining === 0 || firstServed) write();
      };
    },
    remove() {
      fs.rmSync(file, { force: true });
    },
  };
}

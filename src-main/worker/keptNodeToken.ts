import fs from "node:fs";
import path from "node:path";
import { writePrivateFile } from "../shared/privateFile";

/**
 * The token the control plane gave this worker at its last registration, kept so that the worker,
 * started again (a crash, an update of its models), registers with it rather than with the node token
 * it was launched with: a machine that joined stays joined after the control plane's node token is
 * replaced. Only this user reads it (0600), beside the worker's other state.
 */
export interface KeptNodeToken {
  read(): string | undefined;
  write(token: string): void;
  /** It no longer works (the node was removed there, or the control plane is another one). */
  forget(): void;
}

/**
 * The token kept in `file`. Keeping it is a convenience: where it cannot be written (a full disk, a
 * folder another user owns), `onWriteError` is told and the worker goes on without it.
 */
export function keptNodeToken(file: string, onWriteError?: (error: unknown) => void): KeptNodeToken {
  return {
    read() {
      try {
        return fs.readFileSync(file, "utf8").trim() || undefined;
      } catch {
        return undefined;
      }
    },
    write(token) {
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        writePrivateFile(file, `${token}\n`);
      } catch (error) {
        onWriteError?.(error);
      }
    },
    forget() {
      try {
        fs.rmSync(file, { force: true });
      } catch (error) {
        onWriteError?.(error);
      }
    },
  };
}

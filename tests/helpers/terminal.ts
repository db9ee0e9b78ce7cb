import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { waitFor } from "./waitFor";

const root = path.resolve(import.meta.dirname, "../..");

export interface TerminalSession {
  /** What the terminal has shown so far, escape sequences and carriage returns taken out. */
  screen(): string;
  /** Waits until the screen (from `from` on) matches; resolves to the index just past the match. */
  waitForScreen(pattern: RegExp, from?: number): Promise<number>;
  /** Types keys: `\r` is Enter, `\x03` Ctrl+C, `\x04` Ctrl+D. */
  type(keys: string): void;
  /** Resolves to the exit code once `llmlb` has ended. */
  exited(): Promise<number | null>;
  child: ChildProcess;
}

/* eslint-disable no-control-regex -- a terminal's escape sequences are what is taken out */
const escapes = /\u001b\[[0-9;?]*[A-Za-z]|\r/g;
/* eslint-enable no-control-regex */

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * `llmlb <args>` from the sources at a real terminal: a pseudo-terminal made by `script` (util-linux),
 * so its standard input is a TTY, keys go through a terminal's line discipline and Ctrl+C is a key.
 */
export function runCliInTerminal(args: string[], env: NodeJS.ProcessEnv): TerminalSession {
  const command = [process.execPath, "--import", "tsx", path.join(root, "src-main/cli/main.ts"), ...args]
    .map(shellQuote)
    .join(" ");
  const child = spawn("script", ["--quiet", "--flush", "--return", "--command", command, "/dev/null"], {
    env: { ...process.env, ...env, SHELL: "/bin/sh", TERM: "xterm" },
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let raw = "";
  child.stdout!.on("data", (chunk: Buffer) => (raw += chunk.toString("utf8")));
  child.stderr!.on("data", (chunk: Buffer) => (raw += chunk.toString("utf8")));
  const exit = once(child, "exit").then(([code]) => code as number | null);
  const screen = () => raw.replace(escapes, "");
  return {
    child,
    screen,
    async waitForScreen(pattern, from = 0) {
      try {
        return await waitFor(`the terminal to show ${pattern}`, () => {
          const match = pattern.exec(screen().slice(from));
          return match ? from + match.index + match[0].length : undefined;
        });
      } catch (error) {
        throw new Error(`${(error as Error).message}; it shows: ${JSON.stringify(screen().slice(from))}`);
      }
    },
    type(keys) {
      child.stdin!.write(keys);
    },
    exited: () => exit,
  };
}

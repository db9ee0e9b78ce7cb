// A stand-in for Electron's `utilityProcess` that runs the child under plain Node and behaves the way
// Electron's does where that matters to a launcher:
// - `pid` is undefined until the `spawn` event, and again from the `exit` event on;
// - with `stdio: "pipe"`, `stdout` and `stderr` are streams whose listeners are all removed right
//   after `exit` is emitted, so output still in flight then is lost (here it is always in flight for
//   `outputDelayMs`, as it may be in Electron);
// - `postMessage` reaches the child's `process.parentPort` (see parentPort.mjs), and what the child
//   posts arrives as `message` events with the data itself;
// - `kill()` sends SIGTERM and does nothing before `spawn`; `exit` carries only a code;
// - a process that aborts (V8's fatal errors do) gets an `error` event ("FatalError") before `exit`.
import { fork as forkNode } from "node:child_process";
import { EventEmitter } from "node:events";
import os from "node:os";
import { PassThrough } from "node:stream";

const parentPortShim = new URL("./parentPort.mjs", import.meta.url).href;

class StandInUtilityProcess extends EventEmitter {
  #child;
  #pid;
  #queued = [];

  constructor(modulePath, args, options, settings) {
    super();
    const pipe = options.stdio === "pipe";
    this.stdout = pipe ? new PassThrough() : null;
    this.stderr = pipe ? new PassThrough() : null;
    const start = () => {
      const child = forkNode(modulePath, args ?? [], {
        env: options.env ?? process.env,
        execArgv: ["--import", parentPortShim],
        stdio: pipe ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "inherit", "inherit", "ipc"],
      });
      this.#child = child;
      for (const name of ["stdout", "stderr"]) {
        child[name]?.on("data", (chunk) =>
          setTimeout(() => this[name]?.write(chunk), settings.outputDelayMs),
        );
      }
      child.on("message", (data) => this.emit("message", data));
      child.once("spawn", () => {
        this.#pid = child.pid;
        for (const message of this.#queued.splice(0)) child.send(message);
        this.emit("spawn");
      });
      child.once("exit", (code, signal) => {
        this.#pid = undefined;
        // Electron reports a V8 fatal error (the process aborts) as an `error` event before `exit`;
        // like any EventEmitter's, one no one listens to is thrown.
        if (signal === "SIGABRT") this.emit("error", "FatalError", "stand-in: the process aborted", "");
        try {
          this.emit("exit", code ?? 128 + (os.constants.signals[signal] ?? 0));
        } finally {
          for (const name of ["stdout", "stderr"]) {
            this[name]?.removeAllListeners();
            this[name] = null;
          }
        }
      });
    };
    const held = settings.hold?.(modulePath, args ?? []);
    if (held) void held.then(start);
    else setImmediate(start);
  }

  get pid() {
    return this.#pid;
  }

  postMessage(message) {
    if (this.#pid !== undefined) this.#child.send(message);
    else if (!this.#child) this.#queued.push(message);
  }

  kill() {
    if (this.#pid === undefined) return false;
    return this.#child.kill("SIGTERM");
  }
}

/**
 * `settings.outputDelayMs`: how long each chunk of output is in flight (default 50 ms).
 * `settings.hold(modulePath, args)`: may return a promise the process waits for before it starts.
 */
export function createUtilityProcessStandIn(settings = {}) {
  const resolved = { outputDelayMs: 50, ...settings };
  return {
    fork: (modulePath, args, options = {}) => new StandInUtilityProcess(modulePath, args, options, resolved),
  };
}

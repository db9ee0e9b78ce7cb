/**
 * sha256 of the partial file, computed once, in order, while it downloads, on a worker thread: the bytes
 * are read back from the page cache right behind the download, so hashing (the costliest step per byte)
 * never holds up receiving. On resume the existing prefix is hashed first, the same way. The worker shares
 * our file descriptor; it is plain JavaScript given as source, so it runs the same under tsx, vitest and
 * the bundled app.
 */
import type { FileHandle } from "node:fs/promises";
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { readSync } = require("node:fs");
const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
let hash = createHash("sha256");
let hashed = 0;
// Hashes up to "to"; false when the file is shorter (it was truncated for a restart: a reset follows).
function advance(to) {
  while (hashed < to) {
    const read = readSync(workerData.fd, buffer, 0, Math.min(buffer.length, to - hashed), hashed);
    if (read <= 0) return false;
    hash.update(buffer.subarray(0, read));
    hashed += read;
  }
  return true;
}
parentPort.on("message", (message) => {
  try {
    if (message.type === "reset") {
      hash = createHash("sha256");
      hashed = 0;
    } else if (message.type === "advance") {
      advance(message.to);
    } else if (message.type === "digest") {
      if (advance(message.to)) parentPort.postMessage({ type: "digest", hex: hash.digest("hex") });
      else parentPort.postMessage({ type: "error", message: "the partial file ends at " + hashed + ", before its recorded progress" });
    }
  } catch (error) {
    parentPort.postMessage({ type: "error", message: String((error && error.message) || error) });
  }
});
`;

type Reply = { type: "digest"; hex: string } | { type: "error"; message: string };

export class FileHasher {
  private readonly worker: Worker;
  private posted = 0;
  private failure: Error | undefined;
  private pending: { resolve: (hex: string) => void; reject: (error: Error) => void } | undefined;

  /** `frontier()`: how many bytes from offset 0 are complete on disk. */
  constructor(
    file: Pick<FileHandle, "fd">,
    private readonly frontier: () => number,
  ) {
    // Not unref'd: a running download keeps its process alive; stop() always ends the thread.
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { fd: file.fd } });
    this.worker.on("message", (reply: Reply) => {
      const pending = this.pending;
      this.pending = undefined;
      if (reply.type === "digest") pending?.resolve(reply.hex);
      else this.fail(new Error(`hashing the download failed: ${reply.message}`), pending);
    });
    this.worker.on("error", (error) => this.fail(error, this.pending));
    this.worker.on("exit", () => this.fail(new Error("the hashing thread stopped"), this.pending));
  }

  /** To be called after every completed write (and once at the start, for a resumed prefix). */
  advance(): void {
    const to = this.frontier();
    if (to <= this.posted || this.failure !== undefined) return;
    this.posted = to;
    this.worker.postMessage({ type: "advance", to });
  }

  /** The file restarted from zero. */
  reset(): void {
    this.posted = 0;
    this.worker.postMessage({ type: "reset" });
  }

  /** The hex digest of the file up to the frontier (all of it, once complete). */
  digest(): Promise<string> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage({ type: "digest", to: this.frontier() });
    });
  }

  /** Ends the thread; call before closing the file, which it reads. */
  async stop(): Promise<void> {
    this.failure ??= new Error("the hasher was stopped");
    await this.worker.terminate();
  }

  private fail(error: Error, pending: typeof this.pending): void {
    this.failure ??= error;
    pending?.reject(error);
  }
}

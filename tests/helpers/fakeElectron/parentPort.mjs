// Loaded with --import into a worker that the utility-process stand-in starts: gives it Electron's
// `process.parentPort` over Node's IPC channel and takes away `process.send`, so the worker runs its
// Electron code path (a utility process has a parent port and no IPC channel).
import { EventEmitter } from "node:events";

if (process.send) {
  const send = process.send.bind(process);
  const port = new EventEmitter();
  port.postMessage = (message) => send(message);
  port.start = () => undefined;
  process.on("message", (data) => port.emit("message", { data, ports: [] }));
  // A parent port does not keep a utility process alive.
  process.channel?.unref();
  Object.defineProperty(process, "parentPort", { value: port });
  process.send = undefined;
}

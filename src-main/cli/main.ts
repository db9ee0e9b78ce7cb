import { printable } from "./format";
import { run } from "./program";
import type { Output } from "./modelCommands";

// `llmlb model list | head -1`: a reader that stops reading is not an error of ours. Nothing more is
// written there; the command ends as it would have (a server keeps serving and stops cleanly).
const gone = new Set<NodeJS.WriteStream>();
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    gone.add(stream);
  });
}
const writeTo = (stream: NodeJS.WriteStream) => (line: string) => {
  if (!gone.has(stream)) stream.write(printable(line) + "\n");
};

const io: Output = {
  out: writeTo(process.stdout),
  err: writeTo(process.stderr),
  // Back to the line's start, the line cleared, the new one written.
  ...(process.stderr.isTTY
    ? {
        // Cut to the terminal's width: a line that wraps would leave its first rows behind.
        live: (line: string) =>
          gone.has(process.stderr) ||
          process.stderr.write(`\r\u001b[2K${printable(line).slice(0, (process.stderr.columns || 80) - 1)}`),
      }
    : {}),
};
process.exitCode = await run(process.argv.slice(2), io, process.env);

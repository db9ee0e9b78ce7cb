import { run } from "./program";
import type { Output } from "./modelCommands";

const io: Output = {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
};
process.exitCode = await run(process.argv.slice(2), io, process.env);

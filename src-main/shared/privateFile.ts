import fs from "node:fs";

/**
 * Writes `text` to `file` for this user alone (0600), whole: into a temporary file beside it, then
 * renamed over it, so no reader ever sees it half-written. A temporary file left by a failed write is
 * removed, and the error thrown.
 */
export function writePrivateFile(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, text, { mode: 0o600 });
    // The mode above applies only to a file it creates (one left by a crash keeps its own).
    fs.chmodSync(temp, 0o600);
    fs.renameSync(temp, file);
  } catch (error) {
    try {
      fs.rmSync(temp, { force: true });
    } catch {
      // Its folder is not there either: nothing was written.
    }
    throw error;
  }
}

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

/**
 * Makes `file` (created empty where it is not there) readable by this user alone: a database that
 * holds API keys and conversations, whose journal files SQLite creates with its mode. One another user
 * owns is left as it is.
 */
export function keepPrivate(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, "wx", 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  if (process.platform === "win32") return;
  const { uid, mode } = fs.statSync(file);
  if (uid !== process.getuid?.() || (mode & 0o077) === 0) return;
  try {
    fs.chmodSync(file, 0o600);
  } catch (error) {
    // A file system without Unix modes (vfat, exFAT, a share) keeps its own: the folder's are what hold.
    if (!["EPERM", "ENOTSUP", "EOPNOTSUPP"].includes((error as NodeJS.ErrnoException).code ?? ""))
      throw error;
  }
}

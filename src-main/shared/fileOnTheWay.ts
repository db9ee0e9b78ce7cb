import fs from "node:fs";
import path from "node:path";

/**
 * The nearest of `dir` and the folders above it that exists: for a folder path that runs into a file
 * (`/etc/passwd/hub`), that file, which is what the user must change.
 */
export function fileOnTheWay(dir: string): string {
  let current = dir;
  while (!fs.existsSync(current) && path.dirname(current) !== current) current = path.dirname(current);
  return current;
}

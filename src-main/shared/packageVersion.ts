import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The installed package's root: the nearest folder above this file whose package.json is llmlb's. */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "llmlb") return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("llmlb's package.json was not found above " + from);
    dir = parent;
  }
}

/** The llmlb this is (its package.json's version): what a control plane and its nodes tell each other. */
export function packageVersion(root = packageRoot()): string {
  return JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version as string;
}

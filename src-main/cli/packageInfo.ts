import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../shared/packageVersion";

export { packageRoot, packageVersion } from "../shared/packageVersion";

/** The built dashboard, when `npm run build` has made it. */
export function rendererDir(root = packageRoot()): string {
  return path.join(root, "out", "renderer");
}

/**
 * The worker entry beside this CLI: `out/main/worker.js` when running the build, the TypeScript
 * source under tsx when running from the sources (tests, `npx llmlb` before a build).
 */
export function workerEntry(here = path.dirname(fileURLToPath(import.meta.url))): {
  entry: string;
  execArgv: string[];
} {
  const root = packageRoot(here);
  // This code runs from the build when it lies under out/ (the bundler may put it in out/main/chunks).
  const built = path.join(root, "out", "main", "worker.js");
  const fromBuild = here.startsWith(path.join(root, "out") + path.sep);
  if (fromBuild && fs.existsSync(built)) return { entry: built, execArgv: [] };
  return {
    entry: path.join(root, "src-main", "worker", "main.ts"),
    execArgv: ["--import", "tsx"],
  };
}

#!/usr/bin/env node
// The `llmlb` command: the built CLI when present (after `npm install` or `npm run build`),
// else the TypeScript sources through tsx, for a checkout that has not been built.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

// better-sqlite3 13 needs Node 22.12 or newer (on Node 20 it crashes the process). An older Node hands
// over to the Node this project brings (`npm install` puts it in node_modules), else says what to do.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  const own = ["bin/node", "bin/node.exe"]
    .map((name) => fileURLToPath(new URL(`../node_modules/node/${name}`, import.meta.url)))
    .find((file) => existsSync(file));
  if (!own) {
    process.stderr.write(
      `llmlb needs Node.js 22.12 or newer; this is ${process.version}. Install Node 22 or 24 LTS, ` +
        "or run `npm install` in the llmlb folder, which brings its own.\n",
    );
    process.exit(1);
  }
  const child = spawn(own, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  child.on("error", (error) => {
    process.stderr.write(`llmlb could not start the Node it brings (${own}): ${error.message}\n`);
    process.exit(1);
  });
  // A signal sent to this process is passed on (from a terminal the child has it too: llmlb takes a
  // second one calmly).
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => {
    if (!signal) process.exit(code ?? 1);
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
} else {
  const built = new URL("../out/main/cli.js", import.meta.url);
  if (existsSync(built)) {
    await import(built.href);
  } else {
    const { register } = await import("tsx/esm/api");
    register();
    await import(new URL("../src-main/cli/main.ts", import.meta.url).href);
  }
}

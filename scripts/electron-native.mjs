#!/usr/bin/env node
// Builds better-sqlite3 for Electron's ABI in a copy beside the Node build, so one install serves
// both `llmlb serve` (and the tests) and the desktop app. Runs before `npm start`; a no-op when the
// build for this Electron version exists. Prints the path of the built addon.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const electronVersion = require("electron/package.json").version;
const source = path.dirname(require.resolve("better-sqlite3/package.json"));
const root = path.resolve(source, "..", "..");
const target = path.join(
  root,
  "node_modules",
  ".cache",
  "llmlb",
  `electron-${electronVersion}`,
  "better-sqlite3",
);
const addon = path.join(target, "build", "Release", "better_sqlite3.node");

if (fs.existsSync(addon)) {
  console.log(addon);
  process.exit(0);
}

fs.rmSync(target, { recursive: true, force: true });
fs.cpSync(source, target, {
  recursive: true,
  filter: (file) => !file.startsWith(path.join(source, "build")),
});
const electronArgs = ["--runtime", "electron", "--target", electronVersion, "--arch", process.arch];
try {
  // better-sqlite3 publishes prebuilt addons for Electron; fetch the one for this version.
  execFileSync(process.execPath, [require.resolve("prebuild-install/bin.js"), ...electronArgs], {
    cwd: target,
    stdio: "inherit",
  });
} catch {
  // No prebuilt one: compile against Electron's headers (needs a C++ toolchain).
  // npm tells its scripts where its own node-gyp is.
  const nodeGyp = process.env.npm_config_node_gyp;
  if (!nodeGyp) {
    console.error(
      "No prebuilt better-sqlite3 for Electron was found; run this through `npm start` to compile one.",
    );
    process.exit(1);
  }
  execFileSync(
    process.execPath,
    [
      nodeGyp,
      "rebuild",
      "--release",
      `--target=${electronVersion}`,
      "--runtime=electron",
      "--dist-url=https://electronjs.org/headers",
      `--arch=${process.arch}`,
    ],
    // A configured nodedir points at Node's headers; Electron's must come from its dist-url.
    { cwd: target, stdio: "inherit", env: { ...process.env, npm_config_nodedir: "" } },
  );
}
if (!fs.existsSync(addon)) {
  console.error(`better-sqlite3 for Electron ${electronVersion} was not built (${addon} is missing).`);
  process.exit(1);
}
console.log(addon);

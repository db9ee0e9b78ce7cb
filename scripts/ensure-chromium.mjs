#!/usr/bin/env node
// The dashboard's end-to-end tests drive Debian's Chromium through playwright-core (never a browser
// downloaded by Playwright). This makes sure it is there: LLMLB_CHROMIUM names another binary; on a
// Debian or Ubuntu machine where we are root, apt installs it; otherwise we say what to install.
import { execFileSync } from "node:child_process";
import fs from "node:fs";

const wanted = process.env.LLMLB_CHROMIUM || "/usr/bin/chromium";

function run(command, args) {
  execFileSync(command, args, {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

if (fs.existsSync(wanted)) process.exit(0);
const canApt = fs.existsSync("/usr/bin/apt-get") && process.getuid?.() === 0;
if (!canApt || process.env.LLMLB_CHROMIUM) {
  console.error(
    `Chromium for the dashboard's browser tests was not found at ${wanted}.\n` +
      "Install it (Debian/Ubuntu: apt-get install chromium) or set LLMLB_CHROMIUM to a Chromium binary.",
  );
  process.exit(1);
}
console.log("Installing Debian's chromium for the dashboard's browser tests…");
try {
  run("apt-get", ["install", "-y", "--no-install-recommends", "chromium"]);
} catch {
  // The package lists may be missing or stale on a fresh machine.
  run("apt-get", ["update"]);
  run("apt-get", ["install", "-y", "--no-install-recommends", "chromium"]);
}
if (!fs.existsSync(wanted)) {
  console.error(`apt installed chromium, but ${wanted} is still missing.`);
  process.exit(1);
}

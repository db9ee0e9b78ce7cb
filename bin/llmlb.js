#!/usr/bin/env node
// The `llmlb` command: the built CLI when present (after `npm install` or `npm run build`),
// else the TypeScript sources through tsx, for a checkout that has not been built.
import { existsSync } from "node:fs";

const built = new URL("../out/main/cli.js", import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src-main/cli/main.ts", import.meta.url).href);
}

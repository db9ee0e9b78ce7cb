import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's Chromium (installed by scripts/ensure-chromium.mjs before `npm test`), or LLMLB_CHROMIUM. */
export const chromiumPath = process.env.LLMLB_CHROMIUM || "/usr/bin/chromium";

/** Headless Chromium with nothing of its own talking to the network: only our loopback server. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
}

/** Screenshots are test artifacts: test-results/screenshots/<name>.png (ignored by git). */
export const screenshotDir = path.resolve(import.meta.dirname, "../../test-results/screenshots");

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  // What the window shows, as a user sees it (the sidebar stays in view while the page scrolls).
  await page.screenshot({ path: file });
  return file;
}

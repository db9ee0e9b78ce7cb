import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll } from "vitest";

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
/** Stops a browser test at once, saying why, when the app it drives has not been built. */
export function requireBuiltApp(): void {
  const root = path.resolve(import.meta.dirname, "../..");
  if (
    !fs.existsSync(path.join(root, "out/renderer/index.html")) ||
    !fs.existsSync(path.join(root, "out/main/cli.js"))
  ) {
    throw new Error(
      "The app is not built: run `npm run build` (npm install does it) before the browser tests.",
    );
  }
}

export const screenshotDir = path.resolve(import.meta.dirname, "../../test-results/screenshots");

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  // What the window shows, as a user sees it (the sidebar stays in view while the page scrolls).
  await page.screenshot({ path: file });
  return file;
}

/**
 * One headless Chromium page for a test file: opened before the file's own `beforeAll` hooks (call
 * this first), photographed after each test that fails (test-results/screenshots/failed-<test>.png),
 * closed after the file's own `afterAll` hooks.
 */
export function browserPageForFile(viewport = { width: 1280, height: 860 }): {
  readonly page: Page;
  readonly browser: Browser;
} {
  let browser: Browser | undefined;
  let page: Page | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
    page = await browser.newPage({ viewport });
  }, 30_000);
  afterEach(async ({ task }) => {
    if (task.result?.state === "fail" && page)
      await screenshot(page, `failed-${task.name.replace(/\W+/g, "-")}`);
  });
  afterAll(async () => {
    await browser?.close();
  });
  const opened = <T>(value: T | undefined): T => {
    if (!value) throw new Error("The browser is opened by beforeAll: use it inside hooks and tests.");
    return value;
  };
  return {
    get page() {
      return opened(page);
    },
    get browser() {
      return opened(browser);
    },
  };
}

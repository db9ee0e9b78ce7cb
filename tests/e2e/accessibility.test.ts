import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { browserPageForFile, screenshot, requireBuiltApp } from "../helpers/browser";
import { serveInTempDir, type ServedInTempDir } from "../helpers/serveInTempDir";

// What a keyboard or screen-reader user notices in the built dashboard, in headless Chromium against
// the built `llmlb serve` with one CPU worker: where the focus goes, what is announced, what the
// sticky header hides, contrast, and reflow at 320 px. Screenshots land in test-results/screenshots.
const model = "acme/a11y-chat-GGUF";
const broken = "acme/a11y-broken-GGUF";
let hub: FakeHub;
let served: ServedInTempDir;
let page: Page;
let dashboardLink: string;
const view = browserPageForFile();

beforeAll(async () => {
  requireBuiltApp();
  hub = await startFakeHub({
    repos: [
      { id: model, files: [{ path: "a11y-chat-Q4_K_M.gguf", content: generateTinyGguf({ seed: 7 }) }] },
      { id: broken, files: [{ path: "a11y-broken-Q4_K_M.gguf", content: generateTinyGguf({ seed: 8 }) }] },
    ],
  });
  // The cache folder saved, not set by HF_HUB_CACHE: Settings may change it (a test does, for banners).
  served = await serveInTempDir({
    hubUrl: hub.url,
    args: ["--port", "0", "--workers", "1"],
    built: true,
    cacheInConfig: true,
  });
  dashboardLink = served.serve.output
    .find((line) => line.includes("Dashboard:"))!
    .split("Dashboard:")[1]!
    .trim();
  page = view.page;
  await page.goto(dashboardLink);
  await page.getByText("1 node online").waitFor({ timeout: 30_000 });
}, 90_000);

/** Opens the dashboard by its link in a page of its own (its own storage), then goes to `route`. */
async function openAt(target: Page, route: string) {
  await target.goto(dashboardLink);
  await target.goto(new URL(route, dashboardLink).href);
}

afterAll(async () => {
  await served?.close();
  await hub?.close();
});

/** The focused element, as a user would name it: tag, label and text. */
function focused(on: Page = page) {
  return on.evaluate(() => {
    const element = document.activeElement;
    return {
      tag: element?.tagName ?? "none",
      text: (element?.getAttribute("aria-label") ?? element?.textContent ?? "").trim(),
    };
  });
}

/** WCAG contrast of `text`'s colour on `behind`'s background colour (both opaque rgb); default: its own. */
async function contrastOf(text: Locator, behind: Locator = text): Promise<number> {
  const color = await text.evaluate((element) => getComputedStyle(element).color);
  const background = await behind.evaluate((element) => getComputedStyle(element).backgroundColor);
  const luminance = (css: string) => {
    const [r, g, b] = css
      .match(/[\d.]+/g)!
      .slice(0, 3)
      .map((c) => Number(c) / 255);
    const linear = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    return 0.2126 * linear(r!) + 0.7152 * linear(g!) + 0.0722 * linear(b!);
  };
  const [light, dark] = [luminance(color), luminance(background)].sort((x, y) => y - x);
  return (light! + 0.05) / (dark! + 0.05);
}

describe("the dashboard for keyboard and screen-reader users", () => {
  it("keeps the focus after Register, Dismiss and Clear search are pressed from the keyboard", async () => {
    const input = page.getByLabel("Add a model from Hugging Face");
    await input.fill(model);
    await page.keyboard.press("Tab");
    expect(await focused()).toMatchObject({ tag: "BUTTON", text: "Register" });
    await page.keyboard.press("Enter");
    const registered = page.getByRole("status").filter({ hasText: `Registered ${model}` });
    await registered.waitFor();
    // Not <body>: the next Tab does not start over at "Skip to content".
    expect(await focused()).toMatchObject({ tag: "TEXTAREA" });

    await registered.getByRole("button", { name: "Dismiss" }).focus();
    await page.keyboard.press("Enter");
    await registered.waitFor({ state: "detached" });
    expect((await focused()).tag).not.toBe("BODY");

    const search = page.getByLabel("Search models");
    await search.fill("nothing like it");
    await page.keyboard.press("Tab");
    expect(await focused()).toMatchObject({ tag: "BUTTON", text: "Clear search" });
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "a11y-chat-GGUF" }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute("type"))).toBe("search");
  }, 60_000);

  it("announces the answer once it is complete, and keeps the streaming conversation out of any live region", async () => {
    await page.getByText("1 of 1 model ready").waitFor({ timeout: 60_000 });
    await page.getByRole("link", { name: "Playground" }).click();
    const message = page.getByLabel("Message");
    await message.fill("Hello");
    await message.press("Enter");
    const complete = page.getByRole("status").filter({ hasText: /Answer complete/ });
    await complete.waitFor({ timeout: 30_000 });
    expect(await complete.count()).toBe(1);
    const log = page.getByRole("list", { name: "Messages" });
    expect(await log.evaluate((element) => element.closest("[aria-live]") === null)).toBe(true);
    // Nothing that counts seconds or streams words sits in a live region.
    const live = await page.evaluate(() =>
      [...document.querySelectorAll("[aria-live], [role=status], [role=log]")].map(
        (e) => e.textContent ?? "",
      ),
    );
    expect(live.filter((text) => text.includes("Hello") || /· \d+ s/.test(text))).toEqual([]);
  }, 60_000);

  it.each([
    { name: "200% zoom", viewport: { width: 640, height: 430 }, deviceScaleFactor: 2 },
    { name: "390 px", viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 },
  ])(
    "at $name, a field focused by Shift+Tab is not under the sticky header and its banners",
    async (config) => {
      const narrow = await view.browser.newPage({
        viewport: config.viewport,
        deviceScaleFactor: config.deviceScaleFactor,
      });
      try {
        await openAt(narrow, "#/settings");
        const token = narrow.getByLabel("Token", { exact: true });
        await token.waitFor();
        // Three banners: the header grows to about half the window at 200% zoom.
        await token.fill("hf_a11y");
        await token.press("Enter");
        await narrow.getByRole("button", { name: "Forget token" }).click();
        await narrow.getByRole("status").filter({ hasText: "Hugging Face token forgotten" }).waitFor();
        const cache = narrow.getByLabel("Model cache folder");
        const folder = await cache.inputValue();
        await cache.fill(`${folder}-a11y`);
        await cache.press("Enter");
        await narrow.getByRole("status").filter({ hasText: "Settings saved" }).waitFor();
        await cache.fill(folder);
        await cache.press("Enter");
        // Back up the page by keyboard, from its foot: the token field has to be scrolled to.
        await narrow.getByLabel("Port").focus();
        await narrow.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
        const tokenFocused = () => token.evaluate((element) => element === document.activeElement);
        for (let presses = 0; presses < 6 && !(await tokenFocused()); presses++) {
          await narrow.keyboard.press("Shift+Tab");
        }
        expect(await tokenFocused()).toBe(true);
        const head = (await narrow.locator(".workspace-head").boundingBox())!;
        const field = (await token.boundingBox())!;
        await screenshot(narrow, `focus-not-obscured-${config.name.replace(/\W+/g, "-")}`);
        expect(head.height, "the banners are up").toBeGreaterThan(config.viewport.height / 4);
        expect(field.y, "the focused field's top is below the sticky header").toBeGreaterThanOrEqual(
          head.y + head.height,
        );
        expect(field.y + field.height).toBeLessThanOrEqual(config.viewport.height);
      } finally {
        await narrow.close();
      }
    },
    60_000,
  );

  it("has AA contrast on the dark-mode Delete, hints, code in hints and the Ready badge", async () => {
    for (const colorScheme of ["light", "dark"] as const) {
      const themed = await view.browser.newPage({ viewport: { width: 1280, height: 860 }, colorScheme });
      try {
        await openAt(themed, "#/models");
        const card = themed
          .getByRole("listitem")
          .filter({ has: themed.getByRole("heading", { name: "a11y-chat-GGUF" }) });
        const badge = card.locator(".badge").filter({ hasText: "Ready" });
        await badge.waitFor();
        expect(await contrastOf(badge), `${colorScheme} Ready badge`).toBeGreaterThanOrEqual(4.5);
        const code = themed.locator("form.register .hint code").first();
        expect(await contrastOf(code), `${colorScheme} code in a hint`).toBeGreaterThanOrEqual(4.5);

        await card.getByRole("button", { name: `Edit settings of ${model}` }).click();
        const hint = card.locator(".model-settings .hint").first();
        // The hint has no background of its own: the panel's is behind it.
        expect(
          await contrastOf(hint, card.locator(".model-settings")),
          `${colorScheme} hint in the settings panel`,
        ).toBeGreaterThanOrEqual(4.5);
        await themed.keyboard.press("Escape");

        await card.getByRole("button", { name: `Delete ${model}` }).click();
        const remove = themed.getByRole("dialog").getByRole("button", { name: "Delete" });
        expect(await contrastOf(remove), `${colorScheme} Delete`).toBeGreaterThanOrEqual(4.5);
        await screenshot(themed, `delete-dialog-${colorScheme}`);
        await themed.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
      } finally {
        await themed.close();
      }
    }
  }, 60_000);

  it("announces a failed download once, with the model's name, and names its Retry", async () => {
    await page.goto(new URL("#/models", dashboardLink).href);
    await page.getByRole("heading", { name: "Models", level: 1 }).waitFor();
    hub.setFaults({ flipByteAt: 100 });
    try {
      const input = page.getByLabel("Add a model from Hugging Face");
      await input.fill(broken);
      await input.press("Enter");
      const said = page.getByRole("status").filter({ hasText: `${broken} failed on` });
      await said.waitFor({ timeout: 60_000 });
      expect(await said.textContent()).toContain("failed verification");
      const retry = page.getByRole("button", { name: `Retry ${broken}` });
      await retry.waitFor({ timeout: 60_000 });
      await screenshot(page, "failed-download-announced");
      await retry.focus();
      await page.keyboard.press("Enter");
      await page
        .getByRole("status")
        .filter({ hasText: `Trying ${broken} again` })
        .waitFor();
      await retry.waitFor({ state: "detached", timeout: 30_000 });
      expect((await focused()).tag, "the focus went to <body> with the Retry").not.toBe("BODY");
    } finally {
      hub.clearFaults();
    }
  }, 150_000);

  // After the failed download: its error, with a sha256, is on the Models page.
  it("fits 320 px (400% zoom) without scrolling sideways", async () => {
    await page.setViewportSize({ width: 320, height: 640 });
    try {
      for (const name of ["Models", "Nodes", "Requests", "Endpoint", "Playground", "Settings"]) {
        await page.goto(new URL(`#/${name.toLowerCase()}`, dashboardLink).href);
        await page.getByRole("heading", { name, level: 1 }).waitFor();
        await page.waitForTimeout(300);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        await screenshot(page, `reflow-320-${name.toLowerCase()}`);
        expect(overflow, `${name} scrolls sideways by ${overflow} px`).toBeLessThanOrEqual(0);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  }, 60_000);
});

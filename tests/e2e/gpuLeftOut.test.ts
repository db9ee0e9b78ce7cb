import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { browserPageForFile, screenshot } from "../helpers/browser";
import { serveInTempDir, type ServedInTempDir } from "../helpers/serveInTempDir";

// The built `llmlb serve --workers vulkan` on this machine, which has no Vulkan loader: the probe
// leaves Vulkan out for real and a CPU worker serves. Its dashboard in headless Chromium, at a desktop
// width and at 420 px. Screenshots land in test-results/screenshots.
let served: ServedInTempDir;
let dashboard: string;
const browser = browserPageForFile();

beforeAll(async () => {
  const hub: FakeHub = await startFakeHub({ repos: [] });
  served = await serveInTempDir({
    hubUrl: hub.url,
    args: ["--port", "0", "--workers", "vulkan"],
    // Only Node on PATH: whatever this machine has installed, the build below is refused, not run.
    env: { PATH: path.dirname(process.execPath) },
    built: true,
    alsoClose: () => hub.close(),
  });
  dashboard = served.serve.output
    .find((line) => line.includes("Dashboard:"))!
    .split("Dashboard:")[1]!
    .trim();
}, 90_000);

afterAll(async () => {
  await served?.close();
});

describe("a GPU backend left out, in a browser", () => {
  it("shows on the Nodes page why Vulkan is not used, and Settings offers to build it and says what is missing", async () => {
    const { page } = browser;
    for (const width of [1280, 420]) {
      await page.setViewportSize({ width, height: 860 });
      await page.goto(dashboard);
      await page.getByRole("link", { name: "Nodes" }).click();
      const note = page.getByRole("note", { name: /GPU backends left out on / });
      await note.waitFor();
      expect(await note.textContent()).toContain("Vulkan did not load");
      expect(await note.textContent()).toContain("libvulkan1");
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `the Nodes page scrolls sideways by ${overflow} px`).toBeLessThanOrEqual(0);
      await screenshot(page, `gpu-left-out-nodes-${width}`);
    }

    await page.getByRole("link", { name: "Settings" }).click();
    const card = page.getByRole("region", { name: "GPU kernels" });
    await card.waitFor();
    expect(await card.getByLabel("Build for").inputValue()).toBe("vulkan");
    await card.getByRole("button", { name: "Build for this GPU" }).click();
    // No Vulkan SDK (nor git, nor a compiler) on its PATH: the server's refusal says what to install.
    const refusal = card.getByRole("alert");
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/^Cannot build llama.cpp for vulkan here; missing: .*glslc/);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `Settings scrolls sideways by ${overflow} px`).toBeLessThanOrEqual(0);
    await screenshot(page, "gpu-build-refused-420");
  }, 60_000);
});

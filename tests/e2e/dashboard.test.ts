import fs from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { browserPageForFile, screenshot, requireBuiltApp } from "../helpers/browser";
import { adminRequest, startServeProcess, type ServeProcess } from "../helpers/cliProcess";
import { serveInTempDir, type ServedInTempDir } from "../helpers/serveInTempDir";

// The built dashboard in headless Chromium against the built `llmlb serve` (what `npm run serve`
// runs) with one CPU worker, models from the fake hub. Screenshots land in test-results/screenshots.
const model = "acme/e2e-chat-GGUF";
let hub: FakeHub;
let served: ServedInTempDir;
/** The running server: the one `served` started, then the one started again on its port. */
let serve: ServeProcess;
let browser: Browser;
let page: Page;
let adminToken: string;
const view = browserPageForFile();

beforeAll(async () => {
  requireBuiltApp();
  hub = await startFakeHub({
    repos: [
      {
        id: model,
        // Padded so the download lasts long enough to be seen in progress.
        files: [
          {
            path: "e2e-chat-Q4_K_M.gguf",
            content: Buffer.concat([generateTinyGguf({ seed: 5 }), Buffer.alloc(6 * 1024 * 1024)]),
          },
        ],
      },
    ],
  });
  served = await serveInTempDir({ hubUrl: hub.url, args: ["--port", "0", "--workers", "1"], built: true });
  serve = served.serve;
  adminToken = fs.readFileSync(path.join(served.dataDir, "admin-token"), "utf8").trim();
  ({ browser, page } = view);
}, 90_000);

afterAll(async () => {
  await serve?.stop();
  await served?.close();
  await hub?.close();
});

describe("the dashboard in a browser", () => {
  it("opened without its link, says how to open it, and claims nothing", async () => {
    const stranger = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    try {
      await stranger.goto(`${serve.url}/`);
      const card = stranger.getByRole("alert");
      await card.getByText("Open the dashboard with its link").waitFor();
      expect(await card.textContent()).toContain("#token=");
      expect(await stranger.getByRole("banner").textContent()).toContain("Not connected");
      await screenshot(stranger, "signed-out");
      // The token pasted by hand (from the data directory's admin-token file) opens it.
      await stranger.getByLabel("Admin token").fill(adminToken);
      await stranger.getByRole("button", { name: "Open dashboard" }).click();
      await stranger.getByText("1 node online").waitFor();
    } finally {
      await stranger.close();
    }
  });

  it("takes the token from the link's fragment, keeps it for this origin alone, and drops it from the address bar", async () => {
    // The link `llmlb serve` prints.
    const printed = serve.output.find((line) => line.includes("Dashboard:"))!;
    expect(printed).toContain(`/#token=${encodeURIComponent(adminToken)}`);
    await page.goto(printed.split("Dashboard:")[1]!.trim());
    await page.getByText("Paste any of these").waitFor();
    expect(page.url()).toBe(`${serve.url}/`);
    // No cookie, which every port of 127.0.0.1 would receive; the origin's storage is this port's.
    expect(await page.context().cookies()).toEqual([]);
    await page.getByText("1 node online").waitFor();
    // Opened again without the link (a bookmark, a reload), it still reads.
    await page.goto(`${serve.url}/#/nodes`);
    await page.reload();
    await page.getByRole("heading", { name: "Nodes", level: 1 }).waitFor();
    await page.getByText("1 node online").waitFor();
    // Another page sends this one to a link with a token of its own: refused, it replaces nothing.
    await page.goto(`${serve.url}/#token=llmlb_not_the_admin_token`);
    await page.waitForFunction(() => location.hash === "");
    await page.reload();
    await page.getByText("1 node online").waitFor();
    await page.goto(`${serve.url}/`);
    await page.getByText("Paste any of these").waitFor();
    await screenshot(page, "models-empty");
  });

  it("registers a pasted URL, shows its download and readiness live, and deletes it", async () => {
    hub.setFaults({ throttleBytesPerSecond: 512 * 1024 });
    const input = page.getByLabel("Add a model from Hugging Face");
    await input.fill(`https://huggingface.co/${model}`);
    await input.press("Enter");

    const success = page.getByRole("status").filter({ hasText: `Registered ${model}` });
    await success.waitFor();
    await expect(input.inputValue()).resolves.toBe("");
    const card = page
      .getByRole("listitem")
      .filter({ has: page.getByRole("heading", { name: "e2e-chat-GGUF" }) });
    await card.waitFor();

    // Live, without reloading: the node's download with a progress bar, then ready.
    const progress = card.getByRole("progressbar");
    await progress.waitFor({ timeout: 30_000 });
    expect(Number(await progress.getAttribute("aria-valuenow"))).toBeGreaterThanOrEqual(0);
    await screenshot(page, "models-downloading");
    hub.clearFaults();
    await card.getByText("Ready").first().waitFor({ timeout: 60_000 });
    await screenshot(page, "models-ready");

    // The success banner goes by itself (the component tests pin its lifetime with fake timers).
    await success.waitFor({ state: "detached", timeout: 20_000 });

    await card.getByRole("button", { name: `Delete ${model}` }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await screenshot(page, "models-delete-dialog");
    await dialog.getByRole("button", { name: "Delete" }).click();
    await card.waitFor({ state: "detached" });
    const listed = await adminRequest<{ total: number }>(serve.url, served.dataDir, "GET", "/v0/models");
    expect(listed.body.total).toBe(0);
  }, 120_000);

  it("shows the server's error under the field when a model is registered twice, until the text changes", async () => {
    const input = page.getByLabel("Add a model from Hugging Face");
    await input.fill(model);
    await input.press("Enter");
    await page
      .getByRole("status")
      .filter({ hasText: `Registered ${model}` })
      .waitFor();
    await input.fill(model);
    await input.press("Enter");
    const form = page.locator("form.register");
    const error = form.getByRole("alert").filter({ hasText: "already registered" });
    await error.waitFor();
    expect(await input.inputValue()).toBe(model);
    await screenshot(page, "models-duplicate-error");
    await input.fill(`${model}-other`);
    await error.waitFor({ state: "detached" });
  }, 60_000);

  it.each([1280, 420])(
    "at %i px, tells only the latest failed registration, under the field, which stays in reach",
    async (width) => {
      await page.setViewportSize({ width, height: 860 });
      const input = page.getByLabel("Add a model from Hugging Face");
      for (const name of ["one", "two", "three", "four", "five"]) {
        await input.fill(`acme/missing-${name}-${width}`);
        await input.press("Enter");
        await page
          .locator("form.register")
          .getByRole("alert")
          .filter({ hasText: `missing-${name}-${width}` })
          .waitFor();
      }
      expect(await page.getByRole("alert").allTextContents()).toEqual([
        expect.stringContaining(`acme/missing-five-${width}`),
      ]);
      // The command in it reads in line with the words before it: just after them, or at the start of
      // the next line; not set apart in a column of its own.
      const command = await page
        .locator("form.register")
        .getByRole("alert")
        .locator("code")
        .first()
        .evaluate((code) => {
          const before = document.createRange();
          before.selectNodeContents(code.previousSibling!);
          const words = [...before.getClientRects()].at(-1)!;
          const start = code.getClientRects()[0]!;
          const message = code.parentElement!.getBoundingClientRect();
          return {
            sameLine: Math.abs(start.top - words.top) < 4 && Math.abs(start.left - words.right) < 4,
            nextLine: start.top > words.top && Math.abs(start.left - message.left) < 4,
          };
        });
      expect(command.sameLine || command.nextLine, JSON.stringify(command)).toBe(true);
      // Nothing covers the field: a click would reach it.
      await input.click({ trial: true, timeout: 2000 });
      await screenshot(page, `register-error-${width}`);
      await input.fill("");
      await page.setViewportSize({ width: 1280, height: 860 });
    },
  );

  it("shows nodes, the endpoint with snippets, and settings", async () => {
    await page.getByRole("link", { name: "Nodes" }).click();
    await page.getByRole("heading", { name: "Nodes", level: 1 }).waitFor();
    await page.getByText("CPU").first().waitFor();
    // Listening on loopback, it can take no other machine: said, with what to do instead.
    await page
      .getByRole("region", { name: "Add a machine" })
      .getByText(/^This llmlb listens on 127\.0\.0\.1 only, .* --host 0\.0\.0\.0/)
      .waitFor();
    await screenshot(page, "nodes");
    // Its own worker: tagged, and not removed while it runs (it would be back at once).
    await page.getByText("This machine", { exact: true }).waitFor();
    expect(await page.getByRole("button", { name: /^Remove / }).count()).toBe(0);
    // Out of rotation for maintenance, and back.
    await page.getByRole("button", { name: /^Drain / }).click();
    await page.getByText(/^Drained: its running requests finish/).waitFor();
    await page.getByText("No node takes requests").waitFor();
    await page.getByRole("button", { name: /^Put back in rotation: / }).click();
    await page.getByRole("button", { name: /^Drain / }).waitFor();
    expect(await page.getByText(/^Drained:/).count()).toBe(0);

    // The model registered again above is ready once the worker has it from its cache.
    await page.getByText("1 of 1 model ready").waitFor({ timeout: 60_000 });
    await page.getByRole("link", { name: "Endpoint" }).click();
    await page.getByRole("heading", { name: "Endpoint", level: 1 }).waitFor();
    await page.getByText(`${serve.url}/v1`).first().waitFor();
    // Ready-to-paste snippets name the ready model.
    await page.getByText(`"model": "${model}"`).waitFor();
    await screenshot(page, "endpoint");

    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("heading", { name: "Settings", level: 1 }).waitFor();
    await page.getByText("0600").first().waitFor();
    // Started with --port 0: which port this start has, not just "0".
    await page.getByText(`0 picks any free port: this start has ${new URL(serve.url).port}.`).waitFor();
    await screenshot(page, "settings");
  });

  it.each([1280, 420])(
    "at %i px, chats with the ready model in the playground, streamed and timed",
    async (width) => {
      await page.setViewportSize({ width, height: 860 });
      try {
        await page.getByRole("link", { name: "Playground" }).click();
        await page.getByRole("heading", { name: "Playground", level: 1 }).waitFor();
        expect(await page.getByLabel("Model").inputValue()).toBe(model);
        const message = page.getByLabel("Message");
        await message.fill(`Hello from ${width} px`);
        await message.press("Enter");
        await page.getByLabel("Speed of the last answer").waitFor({ timeout: 30_000 });
        const log = page.getByRole("list", { name: "Messages" });
        expect(await log.getByRole("listitem").first().textContent()).toContain(`Hello from ${width} px`);
        expect(await page.getByLabel("Speed of the last answer").textContent()).toMatch(
          /Time to first token \d+(\.\d)? m?s/,
        );
        await screenshot(page, `playground-${width}`);
        await page.getByRole("button", { name: "New chat" }).click();
      } finally {
        await page.setViewportSize({ width: 1280, height: 860 });
      }
    },
  );

  it("shows each token of an answer with its probability, when asked", async () => {
    await page.getByRole("link", { name: "Playground" }).click();
    const probabilities = page.getByRole("checkbox", { name: "Token probabilities" });
    await probabilities.check();
    const message = page.getByLabel("Message");
    await message.fill("Hello with probabilities");
    await message.press("Enter");
    // The random model's answer runs to a random length, each token scored again: up to a minute here.
    await page.getByLabel("Speed of the last answer").waitFor({ timeout: 80_000 });
    const answer = page.getByRole("list", { name: "Messages" }).getByRole("listitem").nth(1);
    await answer.getByText("Token probabilities").click();
    // A row a token, under the header, each with its probability.
    const rows = answer.getByRole("table").getByRole("row");
    expect(await rows.count()).toBeGreaterThan(1);
    expect(await rows.nth(1).getByRole("cell").nth(1).textContent()).toMatch(/^(<0\.1|\d+(\.\d)?)%$/);
    // Tinted token by token where the tokens spell the answer (this random model's may not: it samples
    // control tokens, which have no text), a span a row.
    const spans = await answer.locator("span.token").allTextContents();
    if (spans.length > 0) {
      expect(spans.join("")).toBe(await answer.locator("p.chat-text").first().textContent());
      expect(await rows.count()).toBe(spans.length + 1);
    }
    await screenshot(page, "playground-probabilities");
    await probabilities.uncheck();
    await page.getByRole("button", { name: "New chat" }).click();
  }, 90_000);

  it("keeps the end of an answer taller than the chat box in view", async () => {
    // An answer of 80 lines, which the tiny model cannot be relied on to write: what the server would stream.
    const chunk = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: "e2e", object: "chat.completion.chunk", created: 0, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const lines = Array.from({ length: 80 }, (_, index) => chunk({ content: `Line ${index + 1}\n` }));
    await page.route("**/v1/chat/completions", (route) =>
      route.fulfill({
        contentType: "text/event-stream",
        body: [...lines, chunk({}, "stop"), "data: [DONE]\n\n"].join(""),
      }),
    );
    try {
      await page.getByRole("link", { name: "Playground" }).click();
      const message = page.getByLabel("Message");
      await message.fill("Count to 80, a line each");
      await message.press("Enter");
      await page.getByLabel("Speed of the last answer").waitFor();
      const log = page.getByRole("list", { name: "Messages" });
      const left = await log.evaluate(
        (element) => element.scrollHeight - element.scrollTop - element.clientHeight,
      );
      expect(left, "pixels of the answer below the chat box's view").toBeLessThanOrEqual(1);
      await log.getByText("Line 80").waitFor();
      await screenshot(page, "playground-long-answer");
      await page.getByRole("button", { name: "New chat" }).click();
    } finally {
      await page.unroute("**/v1/chat/completions");
    }
  });

  it("lists the playground's requests on the Requests page: the node that answered, the status, the time", async () => {
    await page.getByRole("link", { name: "Requests" }).click();
    await page.getByRole("heading", { name: "Requests", level: 1 }).waitFor();
    const rows = page.getByRole("region", { name: "Latest requests" }).getByRole("row");
    // The two playground chats (one at each width), newest first.
    await rows.nth(2).waitFor();
    const first = (await rows.nth(1).getByRole("cell").allTextContents()).slice(1, 5);
    expect(first).toEqual([model, "/v1/chat/completions · stream", expect.stringMatching(/-cpu0$/), "200"]);

    // A client's typo: listed live with the name it sent, and why it failed under it.
    const typo = await fetch(`${serve.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "acme/typo-GGUF", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(typo.status).toBe(404);
    const id = typo.headers.get("x-request-id")!;
    const note = page.getByRole("row").filter({ hasText: `Request ${id}` });
    await note.waitFor();
    expect(await note.textContent()).toContain("model_not_found: ");
    await page.getByRole("checkbox", { name: "Failures only" }).check();
    const cells = rows.nth(1).getByRole("cell");
    expect((await cells.allTextContents()).slice(1, 5)).toEqual([
      "acme/typo-GGUF (not served here)",
      "/v1/chat/completions",
      "–",
      "404",
    ]);
    await screenshot(page, "requests");
    await page.getByRole("checkbox", { name: "Failures only" }).uncheck();
  });

  it("unloads the model the playground loaded from its worker's memory, on the worker's card, and loads it again from the model's", async () => {
    await page.getByRole("link", { name: "Nodes" }).click();
    const unload = page.getByRole("button", { name: new RegExp(`^Unload ${model} from `) });
    await unload.waitFor();
    await screenshot(page, "nodes-loaded");
    await unload.click();
    await page.getByText(new RegExp(`^Unloaded ${model} from `)).waitFor();
    // The worker's next report says so.
    await page.getByText("Nothing in memory").waitFor();
    expect(await unload.count()).toBe(0);
    // Loaded again from its card, ahead of any request.
    await page.getByRole("link", { name: "Models" }).click();
    await page.getByRole("button", { name: new RegExp(`^Load ${model} on `) }).click();
    await page.getByText(new RegExp(`^Loaded ${model} on `)).waitFor();
    await page.getByText("In memory", { exact: true }).waitFor();
  });

  it.each([1280, 420])(
    "at %i px, changes a model's context size and aliases in its settings panel",
    async (width) => {
      await page.setViewportSize({ width, height: 860 });
      const alias = `e2e:${width}`;
      try {
        await page.getByRole("link", { name: "Models" }).click();
        const card = page
          .getByRole("listitem")
          .filter({ has: page.getByRole("heading", { name: "e2e-chat-GGUF" }) });
        await card.getByRole("button", { name: `Edit settings of ${model}` }).click();
        const panel = card.getByRole("region", { name: `Settings of ${model}` });
        await panel.getByLabel("Context size (tokens)").fill("256");
        await panel.getByLabel("When a conversation outgrows it").selectOption("truncate_oldest");
        await panel.getByLabel("New alias for").fill(alias);
        await panel.getByRole("button", { name: "Add alias" }).click();
        await panel.getByRole("button", { name: `Remove alias ${alias}` }).waitFor();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `the panel scrolls the page sideways by ${overflow} px`).toBeLessThanOrEqual(0);
        await screenshot(page, `model-settings-${width}`);
        await panel.getByRole("button", { name: "Save settings" }).click();
        await panel.waitFor({ state: "detached" });
        await card.getByText("256 tokens").waitFor();
        expect(await card.textContent()).toContain(`Also answers to ${alias}`);
        await screenshot(page, `model-settings-saved-${width}`);

        // What the server keeps, and the alias works where clients name models.
        const saved = await adminRequest(serve.url, served.dataDir, "GET", `/v0/models/${model}`);
        expect(saved.body.settings).toMatchObject({ context_size: 256, context_overflow: "truncate_oldest" });
        expect(saved.body.aliases).toEqual([alias]);
        const byAlias = await adminRequest(serve.url, served.dataDir, "GET", `/v1/models/${alias}`);
        expect(byAlias.status).toBe(200);

        // Back to automatic, alias removed: the next test finds the model as it was.
        await card.getByRole("button", { name: `Edit settings of ${model}` }).click();
        await panel.getByLabel("Context size (tokens)").fill("");
        await panel.getByLabel("When a conversation outgrows it").selectOption("error");
        await panel.getByRole("button", { name: `Remove alias ${alias}` }).click();
        await panel.getByRole("button", { name: `Remove alias ${alias}` }).waitFor({ state: "detached" });
        await panel.getByRole("button", { name: "Save settings" }).click();
        await panel.waitFor({ state: "detached" });
        const restored = await adminRequest(serve.url, served.dataDir, "GET", `/v0/models/${model}`);
        expect(restored.body.settings).toMatchObject({ context_size: null, context_overflow: "error" });
        expect(restored.body.aliases).toEqual([]);
      } finally {
        await page.setViewportSize({ width: 1280, height: 860 });
      }
    },
    60_000,
  );

  it("at 390 px wide (a phone), shows the whole navigation, names apart, and no page scrolls sideways", async () => {
    await page.setViewportSize({ width: 390, height: 860 });
    try {
      // Each name inside its own link, with room between it and the next: not "RequestsEndpointPlayground".
      const names = await page
        .getByRole("navigation", { name: "Main" })
        .locator("a span")
        .evaluateAll((spans) =>
          spans.map((span) => span.getBoundingClientRect()).map((r) => [r.left, r.right]),
        );
      for (let index = 1; index < names.length; index++)
        expect(
          names[index]![0]! - names[index - 1]![1]!,
          `room before name ${index + 1}`,
        ).toBeGreaterThanOrEqual(4);
      for (const name of ["Models", "Nodes", "Requests", "Endpoint", "Playground", "Settings"]) {
        const link = page.getByRole("link", { name });
        const box = await link.boundingBox();
        expect(box, name).not.toBeNull();
        expect(box!.x, name).toBeGreaterThanOrEqual(0);
        expect(box!.x + box!.width, name).toBeLessThanOrEqual(390);
        await link.click();
        await page.getByRole("heading", { name, level: 1 }).waitFor();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `${name} scrolls sideways by ${overflow} px`).toBeLessThanOrEqual(0);
        await screenshot(page, `narrow-${name.toLowerCase()}`);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it("looks disconnected when the server stops, says how to reconnect, and recovers when it returns", async () => {
    await page.getByRole("link", { name: "Models" }).click();
    await page.getByText("Serving", { exact: true }).waitFor();
    const port = new URL(serve.url).port;
    expect(await serve.stop()).toBe(0);
    const notice = page.getByRole("alert").filter({ hasText: "Lost the connection to llmlb" });
    await notice.waitFor({ timeout: 15_000 });
    expect(await page.getByText("Serving", { exact: true }).count()).toBe(0);
    await page.getByText("Disconnected", { exact: true }).waitFor();
    await screenshot(page, "disconnected-1280");
    await page.setViewportSize({ width: 420, height: 860 });
    await screenshot(page, "disconnected-420");
    await page.setViewportSize({ width: 1280, height: 860 });

    // Back on the same port (same data directory, same token): the page carries on by itself.
    serve = await startServeProcess(["--port", port, "--workers", "1"], served.env, { built: true });
    await page.getByText("Serving", { exact: true }).waitFor({ timeout: 30_000 });
    await notice.waitFor({ state: "detached" });
  }, 90_000);

  it("started again with another admin token, asks for it, and goes on with it", async () => {
    const port = new URL(serve.url).port;
    expect(await serve.stop()).toBe(0);
    const newToken = "llmlb_e2e_another_admin_token_0001";
    serve = await startServeProcess(
      ["--port", port, "--workers", "1"],
      { ...served.env, LLMLB_ADMIN_TOKEN: newToken },
      { built: true },
    );
    // The event stream's next try is refused: said so, with what to do, rather than "lost".
    await page.getByText("llmlb no longer accepts the saved token").waitFor({ timeout: 30_000 });
    expect(await page.getByText(/Lost the connection/).count()).toBe(0);
    await screenshot(page, "token-refused");
    await page.getByLabel("Admin token").fill(newToken);
    await page.getByRole("button", { name: "Open dashboard" }).click();
    await page.getByText("Serving", { exact: true }).waitFor({ timeout: 30_000 });
  }, 60_000);
});

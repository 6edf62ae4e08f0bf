/**
 * The other screens, end to end against real servers: providers (a second real Hearth server
 * as the remote, chatted with through the UI), server status and snippets, settings saved to
 * disk, downloads from a local stand-in host with the progress bar moving and a cancel, the
 * confirm-before-delete dialogs, the first-run screen, and the API key prompt. Screenshots of each
 * screen in both themes.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import type { ConversationDetail, Conversation } from "../../server/history/types.js";
import { testModelPath } from "../helpers/models.js";
import {
  apiJson,
  ensureUiBuilt,
  launchBrowser,
  openApp,
  screenshotBothThemes,
  startHearth,
  type AppPage,
  type RunningHearth,
} from "./harness.js";

const LONG = 60_000;
const UPSTREAM_KEY = "upstream-secret-key-123";

/** A stand-in for a model host: serves a file slowly (so progress is visible), with HEAD and Range. */
async function startFileHost(file: string, bytesPerTick: number, tickMs: number) {
  const data = fs.readFileSync(file);
  const sockets = new Set<import("node:net").Socket>();
  const server = http.createServer((req, res) => {
    if (!req.url?.endsWith(".gguf")) {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    const headers = {
      "content-type": "application/octet-stream",
      "accept-ranges": "bytes",
      "content-length": String(data.length - start),
    };
    if (range) res.writeHead(206, { ...headers, "content-range": `bytes ${start}-${data.length - 1}/${data.length}` });
    else res.writeHead(200, headers);
    if (req.method === "HEAD") return res.end();
    let at = start;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      const end = Math.min(at + bytesPerTick, data.length);
      res.write(data.subarray(at, end));
      at = end;
      if (at >= data.length) {
        clearInterval(timer);
        res.end();
      }
    }, tickMs);
    res.on("close", () => clearInterval(timer));
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe("screens in the browser", { timeout: 400_000 }, () => {
  let main: RunningHearth;
  let upstream: RunningHearth;
  let browser: Browser;
  let app: AppPage;
  let page: Page;

  before(async () => {
    await ensureUiBuilt();
    [main, upstream] = await Promise.all([
      startHearth({ defaultMaxTokens: 32 }),
      startHearth({ defaultMaxTokens: 32, apiKey: UPSTREAM_KEY }),
    ]);
    browser = await launchBrowser();
    app = await openApp(browser, main.url);
    page = app.page;
  });

  after(async () => {
    await app?.context.close();
    await browser?.close();
    await Promise.all([main?.close(), upstream?.close()]);
  });

  test("providers: add a second Hearth server as a remote, test it, and see its models", async () => {
    await page.getByRole("link", { name: "Providers" }).click();
    await page.getByText("No providers yet.").waitFor();
    await screenshotBothThemes(page, "providers-empty");
    await page.getByRole("button", { name: "Add provider" }).click();
    const dialog = page.getByRole("dialog", { name: "Add a provider" });
    await dialog.getByLabel("Name", { exact: true }).fill("Upstream Hearth");
    assert.equal(await dialog.getByLabel("ID (prefix of its model names)").inputValue(), "upstream-hearth");
    await dialog.getByLabel("Base URL", { exact: true }).fill(`${upstream.url}/v1`);

    await dialog.getByLabel("API key", { exact: true }).fill("wrong-key-000");
    await dialog.getByRole("button", { name: "Test connection" }).click();
    await dialog.locator(".error-note").waitFor({ timeout: LONG });

    await dialog.getByLabel("API key", { exact: true }).fill(UPSTREAM_KEY);
    await dialog.getByRole("button", { name: "Test connection" }).click();
    await dialog.getByText(/Connection works .* 1 model found: stories260K/).waitFor({ timeout: LONG });
    await screenshotBothThemes(page, "providers-form");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });

    const card = page.getByRole("article", { name: "Provider Upstream Hearth" });
    await card.getByText("API key set").waitFor();
    await card.getByText("upstream-hearth/stories260K").waitFor({ timeout: LONG });
    await screenshotBothThemes(page, "providers");

    const listed = await (await fetch(`${main.url}/api/providers`)).text();
    assert.doesNotMatch(listed, new RegExp(UPSTREAM_KEY), "the key never comes back");
    assert.equal(await card.getByRole("textbox").count(), 0);

    // Before saving a new address on another server, the form says the saved key will be cleared.
    await card.getByRole("button", { name: "Edit Upstream Hearth" }).click();
    const edit = page.getByRole("dialog", { name: "Edit Upstream Hearth" });
    const warning = edit.getByRole("status", { name: "Saved credentials" });
    const baseUrl = edit.getByLabel("Base URL", { exact: true });
    await baseUrl.fill(`${upstream.url}/other/v1`);
    assert.equal(await warning.count(), 0, "the same server keeps its key");
    await baseUrl.fill("http://127.0.0.1:1/v1");
    await warning.getByText(/saving clears the saved API key/).waitFor();
    await edit.getByRole("button", { name: "Cancel" }).click();
    await edit.waitFor({ state: "detached" });
    await card.getByText("API key set").waitFor();
  });

  test("chat through the provider: the reply comes from the upstream server", async () => {
    await page.getByRole("link", { name: "New chat" }).click();
    const picker = page.getByLabel("Model", { exact: true });
    await picker.locator("option", { hasText: "stories260K" }).nth(1).waitFor({ state: "attached" });
    await picker.selectOption("upstream-hearth/stories260K");
    await page.getByLabel("Message", { exact: true }).fill("A story from far away");
    await page.keyboard.press("Enter");
    await page.locator("article.message.assistant[data-message-id]").waitFor({ timeout: LONG });
    const id = decodeURIComponent(page.url().split("#/c/")[1]!);
    const stored = await apiJson<ConversationDetail>(main.url, `/api/conversations/${id}`);
    assert.equal(stored.model, "upstream-hearth/stories260K");
    assert.equal(stored.messages[1]!.status, "complete");
    assert.ok(stored.messages[1]!.content.length > 0);
    // The upstream recorded the proxied request as API traffic: the reply really came from it.
    const upstreamChats = await apiJson<{ items: Conversation[] }>(
      upstream.url,
      "/api/conversations?source=api",
      {},
      UPSTREAM_KEY,
    );
    assert.equal(upstreamChats.items.length, 1);
    await page.getByText("Replies are generated on a remote provider.").waitFor();
  });

  test("server: status, base URL and snippets for the chosen model, live metrics", async () => {
    await page.getByRole("link", { name: "Server" }).click();
    await page.getByText("Running").waitFor();
    assert.equal(await page.locator('code[aria-label="Base URL"]').innerText(), `${main.url}/v1`);
    await page.getByLabel("Model for the snippets").selectOption("stories260K");
    assert.match(
      await page.locator("#snippet-panel").innerText(),
      new RegExp(`curl ${main.url}/v1/chat/completions[\\s\\S]*"model":"stories260K"`),
    );
    await page.getByRole("tab", { name: "OpenAI Python" }).click();
    assert.match(
      await page.locator("#snippet-panel").innerText(),
      /from openai import OpenAI[\s\S]*model="stories260K"/,
    );
    await page.getByRole("tab", { name: "OpenAI Node" }).click();
    assert.match(
      await page.locator("#snippet-panel").innerText(),
      /new OpenAI\(\{\s+baseURL: "http:\/\/127\.0\.0\.1:\d+\/v1"/,
    );
    await page.getByText(/Since start: \d+ requests, \d+ errors, [1-9]\d* generations/).waitFor({ timeout: LONG });
    await screenshotBothThemes(page, "server");
  });

  test("settings: a change is saved to settings.json and marked as needing a restart", async () => {
    await page.getByRole("link", { name: "Settings" }).click();
    const threads = page.getByLabel("CPU threads");
    await threads.waitFor();
    assert.equal(await page.getByLabel("Decode lanes").inputValue(), "0", "lanes are automatic until set");
    // A browser on `hearth serve` cannot change the settings that guard the server: they are locked, with where to change them.
    assert.equal(await page.getByLabel("Host", { exact: true }).isDisabled(), true);
    assert.equal(await page.getByLabel("CORS origins").isDisabled(), true);
    await page
      .getByText(/changes only on the command line/)
      .first()
      .waitFor();
    assert.equal(await threads.isDisabled(), false);
    await screenshotBothThemes(page, "settings");
    await threads.fill("3");
    await page.getByText("1 unsaved change").waitFor();
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Restart Hearth to apply: CPU threads" }).waitFor();
    const saved = JSON.parse(fs.readFileSync(path.join(main.dataDir, "settings.json"), "utf8")) as Record<
      string,
      unknown
    >;
    assert.equal(saved.threads, 3);

    await page.getByRole("radio", { name: "Dark" }).click();
    assert.equal(await page.evaluate(() => document.documentElement.getAttribute("data-theme")), "dark");
    await page.getByRole("radio", { name: "System" }).click();
    assert.equal(await page.evaluate(() => document.documentElement.getAttribute("data-theme")), null);
  });

  test("models: the library, and a download from a stand-in host with the progress bar moving", async () => {
    const host = await startFileHost(await testModelPath(), 16 * 1024, 100);
    try {
      await page.getByRole("link", { name: "Models" }).click();
      await page.getByRole("article", { name: "Model stories260K" }).waitFor();
      await screenshotBothThemes(page, "models");
      // Every value the bar shows is recorded in the page as it renders, whatever the test's own pace.
      await page.evaluate(() => {
        const seen: number[] = [];
        (window as unknown as { progressSeen: number[] }).progressSeen = seen;
        new MutationObserver(() => {
          const bar = document.querySelector('[aria-label="Downloading tiny-tale"]');
          const v = Number(bar?.getAttribute("aria-valuenow") ?? NaN);
          if (Number.isFinite(v) && seen[seen.length - 1] !== v) seen.push(v);
        }).observe(document.body, {
          subtree: true,
          childList: true,
          attributes: true,
          attributeFilter: ["aria-valuenow"],
        });
      });
      await page.getByLabel("Hugging Face reference or URL").fill(`${host.url}/files/tiny-tale.gguf`);
      await page.getByRole("form", { name: "Download a model" }).getByRole("button", { name: "Download" }).click();
      await page.getByRole("progressbar", { name: "Downloading tiny-tale" }).waitFor({ timeout: LONG });
      await page.locator('article[aria-label="Download tiny-tale"][data-state="completed"]').waitFor({ timeout: LONG });
      const seen = await page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
      const between = seen.filter((v) => v > 0 && v < 100);
      assert.ok(between.length >= 2, `the bar moved through several values (${seen.join(", ")})`);
      assert.deepEqual(
        between,
        [...between].sort((a, b) => a - b),
        "and only forward",
      );
      assert.equal(seen[seen.length - 1], 100);
      await page.getByRole("article", { name: "Download tiny-tale" }).locator(".progress-meta").waitFor();
      await page.getByRole("article", { name: "Model tiny-tale" }).waitFor({ timeout: LONG });
      await screenshotBothThemes(page, "models-downloaded");
    } finally {
      await host.close();
    }
  });

  test("models: a model's speculative decoding choice is saved to its settings, a draft model of the library", async () => {
    await page.getByRole("link", { name: "Models" }).click();
    const choice = page.getByLabel("Speculative decoding for stories260K");
    await choice.waitFor();
    assert.equal(await choice.inputValue(), "server", "the server's setting until one is chosen");
    const savedFor = () => {
      const file = path.join(main.dataDir, "model-settings.json");
      return fs.existsSync(file)
        ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>).stories260K
        : undefined;
    };
    const until = async (ok: () => boolean) => {
      for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(ok(), JSON.stringify(savedFor()));
    };
    // tiny-tale (downloaded above) is stories260K under another name: the same vocabulary.
    await choice.selectOption("draft:tiny-tale");
    await until(() => JSON.stringify(savedFor()) === JSON.stringify({ draftModel: "tiny-tale" }));
    await page.waitForFunction(
      () =>
        (document.querySelector('[aria-label="Speculative decoding for stories260K"]') as HTMLSelectElement | null)
          ?.value === "draft:tiny-tale",
    );
    await choice.selectOption("true");
    await until(() => JSON.stringify(savedFor()) === JSON.stringify({ promptLookup: true }));
    await choice.selectOption("server");
    await until(() => savedFor() === undefined);
  });

  test("models: a download can be cancelled", async () => {
    const host = await startFileHost(await testModelPath(), 4 * 1024, 200);
    try {
      await page.getByLabel("Hugging Face reference or URL").fill(`${host.url}/files/slow-tale.gguf`);
      await page.getByRole("form", { name: "Download a model" }).getByRole("button", { name: "Download" }).click();
      const card = page.getByRole("article", { name: "Download slow-tale" });
      await page
        .locator('article[aria-label="Download slow-tale"][data-state="downloading"]')
        .waitFor({ timeout: LONG });
      await page.waitForFunction(
        () =>
          Number(document.querySelector('[aria-label="Downloading slow-tale"]')?.getAttribute("aria-valuenow") ?? 0) >
          0,
        null,
        { timeout: LONG },
      );
      await card.getByRole("button", { name: "Cancel" }).click();
      await page.locator('article[aria-label="Download slow-tale"][data-state="cancelled"]').waitFor({ timeout: LONG });
      const list = await apiJson<{ downloads: { modelId: string; state: string }[] }>(
        main.url,
        "/api/models/downloads",
      );
      assert.equal(list.downloads.find((d) => d.modelId === "slow-tale")?.state, "cancelled");
      const models = await apiJson<{ models: { id: string }[] }>(main.url, "/api/models");
      assert.ok(!models.models.some((m) => m.id === "slow-tale"), "nothing half-written is listed");
    } finally {
      await host.close();
    }
  });

  test("confirm dialogs: Cancel has the focus, Escape and Cancel keep things, the danger button acts", async () => {
    /** Opens the dialog from `trigger` and checks its wording and where the focus is. */
    const ask = async (trigger: Locator, title: string, wording: RegExp) => {
      await trigger.click();
      const dialog = page.getByRole("dialog", { name: title });
      await dialog.getByText(wording).waitFor();
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Cancel", "Cancel is focused first");
      return dialog;
    };
    const modelIds = async () =>
      (await apiJson<{ models: { id: string }[] }>(main.url, "/api/models")).models.map((m) => m.id);

    await page.getByRole("link", { name: "Models" }).click();
    const deleteModel = page.getByRole("button", { name: "Delete tiny-tale" });
    let dialog = await ask(deleteModel, "Delete tiny-tale?", /is removed from the models folder/);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute("aria-label")),
      "Delete tiny-tale",
      "the focus goes back to the button that opened it",
    );
    dialog = await ask(deleteModel, "Delete tiny-tale?", /is removed from the models folder/);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    assert.ok((await modelIds()).includes("tiny-tale"), "Escape and Cancel delete nothing");
    dialog = await ask(deleteModel, "Delete tiny-tale?", /is removed from the models folder/);
    await dialog.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("article", { name: "Model tiny-tale" }).waitFor({ state: "detached", timeout: LONG });
    assert.ok(!(await modelIds()).includes("tiny-tale"));

    await page.getByRole("link", { name: "Providers" }).click();
    const removeProvider = page.getByRole("button", { name: "Remove Upstream Hearth" });
    dialog = await ask(removeProvider, "Remove Upstream Hearth?", /Its models disappear from the model list/);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("article", { name: "Provider Upstream Hearth" }).waitFor();
    dialog = await ask(removeProvider, "Remove Upstream Hearth?", /Its models disappear from the model list/);
    await dialog.getByRole("button", { name: "Remove", exact: true }).click();
    await page.getByText("No providers yet.").waitFor({ timeout: LONG });

    await page.getByRole("link", { name: "Settings" }).click();
    const conversationCount = async () =>
      (await apiJson<{ items: Conversation[] }>(main.url, "/api/conversations")).items.length;
    const count = await conversationCount();
    assert.ok(count > 0, "the chat through the provider is in history");
    const deleteAll = page.getByRole("button", { name: "Delete all history…" });
    dialog = await ask(deleteAll, "Delete all history?", /This cannot be undone/);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    assert.equal(await conversationCount(), count);
    dialog = await ask(deleteAll, "Delete all history?", /This cannot be undone/);
    await dialog.getByRole("button", { name: "Delete everything" }).click();
    await page.locator(".toast", { hasText: `Deleted ${count} conversation` }).waitFor({ timeout: LONG });
    assert.equal(await conversationCount(), 0);
  });

  test("the page made no request outside the server and logged no errors", () => {
    assert.deepEqual(app.problems, []);
  });
});

describe("first run with an API key", { timeout: 200_000 }, () => {
  let bare: RunningHearth;
  let browser: Browser;
  let app: AppPage;

  before(async () => {
    await ensureUiBuilt();
    bare = await startHearth({ apiKey: "the-right-key-42" }, { withModel: false });
    browser = await launchBrowser();
    app = await openApp(browser, bare.url);
  });

  after(async () => {
    await app?.context.close();
    await browser?.close();
    await bare?.close();
  });

  test("the app asks for the key, refuses a wrong one, and keeps the right one", async () => {
    const { page } = app;
    const dialog = page.getByRole("dialog", { name: "This server needs an API key" });
    await dialog.waitFor({ timeout: LONG });
    await screenshotBothThemes(page, "api-key");
    await dialog.getByLabel("API key", { exact: true }).fill("not-the-key");
    await dialog.getByRole("button", { name: "Continue" }).click();
    await dialog.getByRole("alert").waitFor();
    await dialog.getByLabel("API key", { exact: true }).fill("the-right-key-42");
    await dialog.getByRole("button", { name: "Continue" }).click();
    await dialog.waitFor({ state: "detached" });
    assert.equal(await page.evaluate(() => localStorage.getItem("hearth.apiKey")), "the-right-key-42");
  });

  test("with no model yet, the chat points to the recommended models", async () => {
    const { page } = app;
    await page.getByText("There is no model yet.", { exact: false }).waitFor({ timeout: LONG });
    assert.equal(await page.getByRole("button", { name: "Send message" }).isDisabled(), true);
    await screenshotBothThemes(page, "first-run");
    await page.getByRole("link", { name: "Get a model" }).click();
    await page.getByRole("heading", { name: "Recommended models" }).waitFor();
    await page.getByText("No model yet.").waitFor();
    assert.ok((await page.getByRole("article", { name: /^Recommended / }).count()) >= 3);
    await screenshotBothThemes(page, "models-first-run");
  });

  test("no request left the server and nothing but the expected 401s was logged", () => {
    assert.deepEqual(app.problems, []);
  });
});

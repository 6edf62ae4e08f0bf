/**
 * The chat, end to end: the real UI in Debian's Chromium against a real Hearth server with the
 * real test model. Send and watch the reply stream, stop one mid-stream, find the conversation
 * in the sidebar and through search, regenerate and switch branches, edit, rename, pin, delete.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { ConversationDetail } from "../../server/history/types.js";
import { apiJson, type AppSession, type RunningHearth, screenshotBothThemes, startSession } from "./harness.js";

const LONG = 60_000;

describe("chat in the browser", { timeout: 300_000 }, () => {
  let hearth: RunningHearth;
  let app: AppSession;
  let page: Page;
  let conversationId = "";

  before(async () => {
    // Short replies keep the test quick; the stop test raises the limit for its own turn.
    app = await startSession({ defaultMaxTokens: 48 });
    ({ hearth, page } = app);
  });

  after(async () => {
    await app?.close();
  });

  const conversation = () => apiJson<ConversationDetail>(hearth.url, `/api/conversations/${conversationId}`);
  const storedReplies = () => page.locator("article.message.assistant[data-message-id]");

  test("the empty chat offers the model and a focused message box", async () => {
    await page.getByRole("heading", { name: "What can I help with?" }).waitFor();
    // The model list and the focus arrive a render or two after the heading: wait for both (bounded).
    await page.waitForFunction(
      () =>
        (document.querySelector('[aria-label="Model"]') as HTMLSelectElement | HTMLInputElement | null)?.value ===
        "stories260K",
      undefined,
      { timeout: 10_000 },
    );
    assert.equal(await page.getByLabel("Model", { exact: true }).inputValue(), "stories260K");
    await page.waitForFunction(() => document.activeElement?.getAttribute("aria-label") === "Message", undefined, {
      timeout: 10_000,
    });
    await screenshotBothThemes(page, "chat-empty");
  });

  test("sending a message streams the reply in, then shows it stored with its stats", async () => {
    await page.getByLabel("Message", { exact: true }).fill("Once upon a time there was a dragon");
    // The reply must appear while streaming (the streaming article), before it is stored. 48 tokens
    // of the tiny model can stream in less than one of Playwright's polls, so the page itself records
    // every DOM change that shows a streaming reply.
    await page.evaluate(() => {
      const w = window as unknown as { sawStreaming: boolean };
      w.sawStreaming = false;
      new MutationObserver(() => {
        if (document.querySelector('article[data-status="streaming"] .markdown')) w.sawStreaming = true;
      }).observe(document.body, {
        subtree: true,
        childList: true,
        characterData: true,
        attributes: true,
        attributeFilter: ["data-status"],
      });
    });
    await page.keyboard.press("Enter");
    await storedReplies().first().waitFor({ timeout: LONG });
    assert.equal(
      await page.evaluate(() => (window as unknown as { sawStreaming: boolean }).sawStreaming),
      true,
      "the reply was shown while it streamed",
    );
    assert.match(page.url(), /#\/c\/conv_/);
    conversationId = decodeURIComponent(page.url().split("#/c/")[1]!.split("?")[0]!);
    const stored = await conversation();
    assert.equal(stored.messages.length, 2);
    assert.equal(stored.messages[0]!.content, "Once upon a time there was a dragon");
    assert.equal(stored.messages[1]!.status, "complete");
    const shown = (await storedReplies().first().locator(".markdown").innerText()).replace(/\s+/g, " ").trim();
    assert.ok(shown.length > 0);
    assert.equal(
      shown,
      stored.messages[1]!.content.replace(/[*_`#>]/g, "")
        .replace(/\s+/g, " ")
        .trim()
        .slice(0, shown.length),
      "the page shows what was stored",
    );
    const stats = await storedReplies().first().locator(".stats").innerText();
    assert.match(stats, /stories260K · \d+ tokens/);
    await screenshotBothThemes(page, "chat-reply");
  });

  test("the conversation appears in the sidebar under its first message", async () => {
    const item = page.locator(".conversation-item", { hasText: "Once upon a time there was a dragon" });
    await item.waitFor();
    assert.equal(await item.locator("a").getAttribute("aria-current"), "page");
  });

  test("stop ends a reply mid-stream at once and it stays, marked as stopped", async () => {
    await page.getByRole("button", { name: "Chat settings" }).click();
    await page.getByLabel("Max tokens").fill("1500");
    await page.getByRole("button", { name: "Close chat settings" }).click();
    await page.getByLabel("Message", { exact: true }).fill("Tell me a very long story");
    await page.keyboard.press("Enter");
    const streaming = page.locator('article[data-status="streaming"] .markdown');
    await streaming.waitFor({ timeout: LONG });
    await page.waitForFunction(
      () => (document.querySelector('article[data-status="streaming"] .markdown')?.textContent ?? "").length > 20,
      null,
      { timeout: LONG },
    );
    await page.getByRole("button", { name: "Stop generating" }).click();
    const stopped = page.locator('article.message.assistant[data-status="partial"]');
    await stopped.waitFor({ timeout: LONG });
    assert.equal(await stopped.locator(".message-note").innerText(), "Stopped before the end.");
    await page.getByRole("button", { name: "Send message" }).waitFor();
    const stored = await conversation();
    const last = stored.messages.at(-1)!;
    assert.equal(last.role, "assistant");
    assert.equal(last.status, "partial");
    assert.ok((last.completionTokens ?? 0) < 1500, `stopped early (${last.completionTokens} tokens)`);
    // Put the limit back for the turns that follow.
    await page.getByRole("button", { name: "Chat settings" }).click();
    await page.getByLabel("Max tokens").fill("");
    await page.getByRole("button", { name: "Close chat settings" }).click();
  });

  test("search finds the conversation as you type and lands on the message, highlighted", async () => {
    const stored = await conversation();
    const reply = stored.messages[1]!;
    const word = reply.content.match(/[A-Za-z]{5,}/)?.[0] ?? "dragon";
    await page.keyboard.press("Control+k");
    // Focus moves once React has handled the key: wait for it (a loaded machine takes a frame or two).
    await page.waitForFunction(
      () => document.activeElement?.getAttribute("aria-label") === "Search history",
      undefined,
      { timeout: 5000 },
    );
    await page.keyboard.type(word.slice(0, 4), { delay: 30 });
    const hit = page.locator(".hit", { hasText: "Once upon a time there was a dragon" }).first();
    await hit.waitFor();
    assert.ok((await hit.locator("mark").count()) > 0, "the match is highlighted");
    await screenshotBothThemes(page, "search");
    // Title hits come first and lead to the conversation, not a message; when the sampled reply's
    // word is also in the title ("there", "dragon"), the first marked hit is a title hit. Pick a
    // message hit: its snippet holds the mark.
    await page
      .locator(".hit")
      .filter({ has: page.locator(".hit-snippet mark") })
      .first()
      .click();
    await page.waitForURL(/\?m=\d+/);
    const messageId = Number(new URL(page.url().replace("#", "")).searchParams.get("m"));
    assert.ok(
      stored.messages.some((m) => m.id === messageId),
      `the hit leads to a message of the conversation (${messageId})`,
    );
    const target = page.locator(`#msg-${messageId}`);
    await target.waitFor();
    assert.match((await target.getAttribute("class")) ?? "", /highlighted/);
    assert.ok(await target.isVisible());
    await page.getByLabel("Search history").fill("");
  });

  test("regenerate makes a second version, and the arrows switch between them", async () => {
    await page.goto(`${hearth.url}/#/c/${conversationId}`);
    const firstReply = storedReplies().first();
    await firstReply.waitFor();
    const before = await conversation();
    const original = before.messages[1]!;
    await firstReply.hover();
    await firstReply.getByRole("button", { name: "Regenerate reply" }).click();
    await page.locator(".branch-count", { hasText: "2 / 2" }).waitFor({ timeout: LONG });
    const after = await conversation();
    assert.equal(after.messages.length, 2, "the regenerated reply is on a new branch of its own");
    assert.notEqual(after.messages[1]!.id, original.id);
    assert.deepEqual(after.messages[1]!.siblingIds, [original.id, after.messages[1]!.id]);
    await storedReplies().first().getByRole("button", { name: "Previous version" }).click();
    await page.locator(".branch-count", { hasText: "1 / 2" }).waitFor();
    const switched = await conversation();
    assert.equal(switched.messages[1]!.id, original.id, "the server shows the chosen branch");
    assert.equal(switched.messages.length, 4, "the older branch keeps its later turns");
  });

  test("editing a user message resends it as a new branch", async () => {
    const user = page.locator("article.message.user[data-message-id]").first();
    await user.hover();
    await user.getByRole("button", { name: "Edit message" }).click();
    const box = page.getByRole("textbox", { name: "Edit message" });
    await box.fill("Once upon a time there was a tiny fox");
    await page.getByRole("button", { name: "Save and send" }).click();
    await page.locator("article.message.user .bubble", { hasText: "tiny fox" }).waitFor({ timeout: LONG });
    await storedReplies().first().waitFor({ timeout: LONG });
    await page.locator("article.message.user .branch-count", { hasText: "2 / 2" }).waitFor({ timeout: LONG });
    const stored = await conversation();
    assert.equal(stored.messages[0]!.content, "Once upon a time there was a tiny fox");
    assert.equal(stored.messages[0]!.siblingIds.length, 2);
    assert.equal(stored.messages.length, 2);
  });

  test("rename and pin from the sidebar", async () => {
    const item = page.locator(".conversation-item").first();
    await item.hover();
    await item.getByRole("button", { name: /^Actions for/ }).click();
    await page.getByRole("menuitem", { name: "Rename" }).click();
    const input = page.getByRole("textbox", { name: "Conversation title" });
    await input.fill("Dragon stories");
    await input.press("Enter");
    await page.locator(".conversation-item", { hasText: "Dragon stories" }).waitFor();
    await page.locator(".chat-title", { hasText: "Dragon stories" }).waitFor();
    assert.equal((await conversation()).title, "Dragon stories");

    const renamed = page.locator(".conversation-item", { hasText: "Dragon stories" });
    await renamed.hover();
    await renamed.getByRole("button", { name: /^Actions for/ }).click();
    await page.getByRole("menuitem", { name: "Pin" }).click();
    await page.locator('section[aria-label="Pinned"] .conversation-item', { hasText: "Dragon stories" }).waitFor();
    assert.equal((await conversation()).pinned, true);
    await screenshotBothThemes(page, "chat-branches");
  });

  test("keyboard: a new chat with Mod+Shift+O, shortcuts help with Mod+/", async () => {
    await page.keyboard.press("Control+Shift+O");
    await page.getByRole("heading", { name: "What can I help with?" }).waitFor();
    await page.keyboard.press("Control+/");
    const dialog = page.getByRole("dialog", { name: "Keyboard shortcuts" });
    await dialog.waitFor();
    await screenshotBothThemes(page, "shortcuts");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
  });

  test("delete shows an undo, then removes the conversation from the server and from search", async () => {
    const item = page.locator(".conversation-item", { hasText: "Dragon stories" });
    await item.hover();
    await item.getByRole("button", { name: /^Actions for/ }).click();
    await page.getByRole("menuitem", { name: "Delete" }).click();
    await item.waitFor({ state: "detached" });
    const toast = page.locator(".toast", { hasText: "Deleted" });
    await toast.waitFor();
    await toast.getByRole("button", { name: "Undo" }).click();
    await item.waitFor();
    assert.equal((await conversation()).id, conversationId, "undo keeps it");

    await item.hover();
    await item.getByRole("button", { name: /^Actions for/ }).click();
    await page.getByRole("menuitem", { name: "Delete" }).click();
    await page.locator(".toast", { hasText: "Deleted" }).getByRole("button", { name: "Dismiss" }).click();
    await page.waitForFunction(
      async ([base, id]) => (await fetch(`${base}/api/conversations/${id}`)).status === 404,
      [hearth.url, conversationId] as const,
      { timeout: LONG, polling: 200 },
    );
    const search = await apiJson<{ hits: unknown[] }>(hearth.url, "/api/search?q=dragon");
    assert.equal(search.hits.length, 0);
  });

  test("the page made no request outside the server and logged no errors", () => {
    assert.deepEqual(app.problems, []);
  });
});

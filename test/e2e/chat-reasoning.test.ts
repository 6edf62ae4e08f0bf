/**
 * A thinking model in the chat, end to end: the real UI in Debian's Chromium against a real Hearth
 * server with the scripted Qwen3 models (scripts/make-test-models.ts). The thought ("Let me
 * count.") shows in a Thinking block above the answer ("Hello there!"), open while the model
 * thinks and collapsed once it answers, restored from history on reload; the chat's Reasoning
 * control set to Off gives an answer without one, and is offered before the model was ever loaded
 * (the library scan knows it thinks); history search finds the thought only when asked.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import type { Page } from "playwright-core";
import type { ConversationDetail } from "../../server/history/types.js";
import { scriptedModel, scriptedModelsDir } from "../helpers/scripted-models.js";
import { apiJson, type AppSession, type RunningHearth, startSession } from "./harness.js";

const LONG = 60_000;

describe("a thinking model in the browser", { timeout: 300_000 }, () => {
  let hearth: RunningHearth;
  let app: AppSession;
  let page: Page;
  let thinker = "";
  let forever = "";
  let conversationId = "";
  let cleanup = () => {};

  before(async () => {
    const models = scriptedModelsDir(["qwen3-think", "qwen3-think-forever"]);
    cleanup = models.cleanup;
    thinker = path.basename(scriptedModel("qwen3-think"), ".gguf");
    forever = path.basename(scriptedModel("qwen3-think-forever"), ".gguf");
    app = await startSession({ modelDirs: [models.dir], parallel: 1, defaultMaxTokens: 2000 }, { withModel: false });
    ({ hearth, page } = app);
  });

  after(async () => {
    await app?.close();
    cleanup();
  });

  const conversation = () => apiJson<ConversationDetail>(hearth.url, `/api/conversations/${conversationId}`);
  const storedReplies = () => page.locator("article.message.assistant[data-message-id]");
  const send = async (text: string) => {
    await page.getByLabel("Message", { exact: true }).fill(text);
    await page.keyboard.press("Enter");
  };
  const setReasoning = async (label: string) => {
    await page.getByRole("button", { name: "Chat settings" }).click();
    await page.getByLabel("Reasoning").selectOption({ label });
    await page.getByRole("button", { name: "Close chat settings" }).click();
  };

  test("the Reasoning control is there for a thinking model before it was ever loaded", async () => {
    await page.getByRole("heading", { name: "What can I help with?" }).waitFor();
    const listed = await apiJson<{ models: { id: string; loaded: unknown; facts: { thinks: boolean } | null }[] }>(
      hearth.url,
      "/api/models",
    );
    const model = listed.models.find((m) => m.id === forever);
    assert.equal(model?.loaded, null, "not loaded yet");
    assert.equal(model?.facts?.thinks, true, "its file says it thinks");
    await page.getByLabel("Model", { exact: true }).selectOption(forever);
    await page.getByRole("button", { name: "Chat settings" }).click();
    await page.getByLabel("Reasoning").waitFor({ timeout: LONG });
    await page.getByRole("button", { name: "Close chat settings" }).click();
  });

  test("the thought shows in a collapsed Thinking block above the answer, never in it", async () => {
    await page.getByRole("heading", { name: "What can I help with?" }).waitFor();
    await page.getByLabel("Model", { exact: true }).selectOption(thinker);
    // Whether a Thinking block was ever open beside answer text while streaming (it must close once the answer starts).
    await page.evaluate(() => {
      const w = window as unknown as { openBesideAnswer: boolean };
      w.openBesideAnswer = false;
      new MutationObserver(() => {
        const streaming = document.querySelector('article[data-status="streaming"]');
        if (streaming?.querySelector(".thinking[open]") && streaming.querySelector(".markdown")?.textContent)
          w.openBesideAnswer = true;
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await send("Hi");
    const reply = storedReplies().first();
    await reply.waitFor({ timeout: LONG });
    conversationId = decodeURIComponent(page.url().split("#/c/")[1]!.split("?")[0]!);

    const thinking = reply.locator(".thinking");
    assert.equal(await thinking.count(), 1);
    assert.equal(await thinking.getAttribute("open"), null, "collapsed once answered");
    assert.match(await thinking.locator("summary").innerText(), /^Thought for (under 1|\d+) s$/);
    assert.equal((await reply.locator(".markdown").innerText()).trim(), "Hello there!");
    assert.equal(
      await page.evaluate(() => (window as unknown as { openBesideAnswer: boolean }).openBesideAnswer),
      false,
    );
    // The thought is there, hidden until asked for, and above the answer.
    assert.equal(await thinking.locator(".thinking-text").isVisible(), false);
    await thinking.locator("summary").click();
    assert.equal((await thinking.locator(".thinking-text").innerText()).trim(), "Let me count.");
    assert.equal(await reply.locator(".thinking + .markdown").count(), 1, "the block comes before the answer");

    const stored = await conversation();
    assert.equal(stored.messages[1]!.reasoning, "Let me count.");
    assert.equal(stored.messages[1]!.content, "Hello there!");
  });

  test("after a reload the thought comes back from history", async () => {
    await page.reload();
    const reply = storedReplies().first();
    await reply.waitFor({ timeout: LONG });
    const thinking = reply.locator(".thinking");
    assert.match(await thinking.locator("summary").innerText(), /^Thought for/);
    await thinking.locator("summary").click();
    assert.equal((await thinking.locator(".thinking-text").innerText()).trim(), "Let me count.");
    assert.equal((await reply.locator(".markdown").innerText()).trim(), "Hello there!");
  });

  test("while the model thinks the block is open and says so; a stop keeps the thought so far", async () => {
    await page.getByLabel("Model", { exact: true }).selectOption(forever);
    await send("Count sheep");
    const live = page.locator('article[data-status="streaming"] .thinking[data-live][open]');
    await live.waitFor({ timeout: LONG });
    assert.equal(await live.locator("summary").innerText(), "Thinking…");
    await page.waitForFunction(
      () => (document.querySelector(".thinking[data-live] .thinking-text")?.textContent ?? "").length > 20,
      null,
      { timeout: LONG },
    );
    assert.equal(await page.locator('article[data-status="streaming"] .markdown').count(), 0, "no answer yet");
    await page.getByRole("button", { name: "Stop generating" }).click();
    const stopped = page.locator('article.message.assistant[data-status="partial"]');
    await stopped.waitFor({ timeout: LONG });
    assert.equal(await stopped.locator(".thinking").getAttribute("open"), null);
    const last = (await conversation()).messages.at(-1)!;
    assert.ok(last.reasoning?.startsWith("Counting sheep"), String(last.reasoning));
    assert.equal(last.content, "");
  });

  test("the Reasoning control set to Off answers without a Thinking block", async () => {
    await page.getByLabel("Model", { exact: true }).selectOption(thinker);
    await setReasoning("Off");
    await send("Again");
    const replies = storedReplies();
    await page.waitForFunction(
      (n) => document.querySelectorAll("article.message.assistant[data-message-id]").length === n,
      3,
      { timeout: LONG },
    );
    const reply = replies.nth(2);
    assert.equal((await reply.locator(".markdown").innerText()).trim(), "Hello there!");
    assert.equal(await reply.locator(".thinking").count(), 0);
    const stored = await conversation();
    assert.equal(stored.params.reasoningEffort, "none", "the chat keeps its setting");
    assert.equal(stored.messages.at(-1)!.reasoning, null);

    await setReasoning("Default");
    await page.getByLabel("Message", { exact: true }).click();
    for (let i = 0; i < 50 && (await conversation()).params.reasoningEffort !== undefined; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal((await conversation()).params.reasoningEffort, undefined, "Default leaves it to the model");
    assert.deepEqual(app.problems, []);
  });

  test("history search finds thoughts only when asked to", async () => {
    const box = page.getByLabel("Search history");
    // Only the first reply's thought says it ("Let me count."); "count" alone would match "Count sheep".
    await box.fill("let me");
    const results = page.getByRole("region", { name: "Search results" });
    await results.getByText("No messages match “let me”.").waitFor({ timeout: LONG });
    await page.getByLabel("Search thoughts too").check();
    const hit = results.locator(".hit").first();
    await hit.waitFor({ timeout: LONG });
    assert.match(await hit.locator(".hit-snippet").innerText(), /^Thinking: .*Let me count/);
    await box.fill("");
    assert.equal(await page.getByLabel("Search thoughts too").count(), 0, "shown only while searching");
    assert.deepEqual(app.problems, []);
  });
});

/** The sidebar with many conversations: pages load as it scrolls, and the source filter shows app or API chats. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { apiJson, startSession, type AppSession } from "./harness.js";

describe("sidebar", { timeout: 200_000 }, () => {
  let app: AppSession;
  const TOTAL = 95;

  before(async () => {
    app = await startSession(
      { defaultMaxTokens: 8 },
      {
        prepare: async (started) => {
          for (let i = 0; i < TOTAL; i++) {
            await apiJson(started.url, "/api/conversations", {
              method: "POST",
              body: JSON.stringify({ title: `Saved chat ${String(i).padStart(3, "0")}` }),
            });
          }
          // One exchange from another tool through /v1: recorded as an API conversation.
          await apiJson(started.url, "/v1/chat/completions", {
            method: "POST",
            body: JSON.stringify({ model: "stories260K", messages: [{ role: "user", content: "From a script" }] }),
          });
        },
      },
    );
  });

  after(async () => {
    await app?.close();
  });

  test("older conversations load as the list scrolls, newest first, none twice", async () => {
    const { page } = app;
    const items = page.locator(".conversation-item");
    await items.first().waitFor();
    const firstPage = await items.count();
    assert.ok(firstPage < TOTAL + 1, `not everything at once (${firstPage})`);
    while ((await items.count()) < TOTAL + 1) {
      const before = await items.count();
      await page.locator(".sidebar-scroll").evaluate((el) => el.scrollTo(0, el.scrollHeight));
      await page.waitForFunction((n) => document.querySelectorAll(".conversation-item").length > n, before, {
        timeout: 30_000,
      });
    }
    const titles = await page.locator(".conversation-title").allInnerTexts();
    assert.equal(titles.length, TOTAL + 1);
    assert.equal(new Set(titles).size, titles.length);
    assert.equal(titles[0], "From a script", "the newest first");
    assert.equal(titles[titles.length - 1], "Saved chat 000");
  });

  test("the source filter shows app chats or API chats", async () => {
    const { page } = app;
    await page.getByRole("radio", { name: "API" }).click();
    await page.waitForFunction(() => document.querySelectorAll(".conversation-item").length === 1);
    assert.deepEqual(await page.locator(".conversation-title").allInnerTexts(), ["From a script"]);
    assert.equal(await page.locator(".conversation-item .badge").innerText(), "API");
    await page.getByRole("radio", { name: "Chats" }).click();
    await page.locator(".conversation-title", { hasText: "Saved chat 094" }).waitFor();
    assert.equal(await page.locator(".conversation-title", { hasText: "From a script" }).count(), 0);
  });

  test("no request left the server and no errors were logged", () => {
    assert.deepEqual(app.problems, []);
  });
});

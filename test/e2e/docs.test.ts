/**
 * /docs in a real Chromium: reached from the Server screen's link, Swagger UI renders the
 * reference from /openapi.json (known operations of /v1 and of the Ollama port are listed, and one
 * opens with its request schema) with no request beyond the server and no console error (a
 * Content-Security-Policy violation would be one).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import {
  ensureUiBuilt,
  launchBrowser,
  openApp,
  screenshotBothThemes,
  startHearth,
  type RunningHearth,
} from "./harness.js";

let hearth: RunningHearth;
let browser: Browser;

before(async () => {
  await ensureUiBuilt();
  hearth = await startHearth({}, { withModel: false });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await hearth?.close();
});

test("the Server screen links to /docs, which renders the API reference offline", async () => {
  const { page, problems, context } = await openApp(browser, hearth.url);
  const outside: string[] = [];
  page.on("request", (req) => {
    if (!req.url().startsWith(hearth.url) && !req.url().startsWith("data:")) outside.push(req.url());
  });
  await page.getByRole("link", { name: "Server" }).click();
  await page.getByRole("link", { name: "API reference" }).click();
  await page.waitForURL(`${hearth.url}/docs`);
  const chat = page.locator('.opblock-summary-path[data-path="/v1/chat/completions"]');
  await chat.waitFor({ timeout: 30_000 });
  await page.locator('.opblock-summary-path[data-path="/api/chat"]').waitFor();
  await page.getByRole("heading", { name: "Ollama API" }).waitFor();
  assert.equal(
    await page
      .locator(".info .title")
      .first()
      .innerText()
      .then((t) => t.startsWith("Hearth API")),
    true,
  );
  await chat.click();
  const body = page.locator(".opblock.is-open .opblock-section-request-body");
  await body.waitFor();
  assert.match(await page.locator(".opblock.is-open").innerText(), /Request body[\s\S]*application\/json/);
  await screenshotBothThemes(page, "docs");
  assert.deepEqual(outside, [], "no request left the server");
  assert.deepEqual(problems, [], "no page error, console error or outside request");
  await context.close();
});

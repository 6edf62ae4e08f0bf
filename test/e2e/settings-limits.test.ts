/**
 * The limits for callers on this computer without a key (`--local-rpm`, `--local-tpm`) in the
 * Settings screen, in a real Chromium: a server started with them shows them, a change is saved to
 * settings.json for the next start, and the running limit is the one a keyless tool meets.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { ensureUiBuilt, launchBrowser, openApp, startHearth, type RunningHearth } from "./harness.js";

let hearth: RunningHearth;
let browser: Browser;

before(async () => {
  await ensureUiBuilt();
  // A browser tab of the UI is a keyless caller too (only the desktop app's window has a token), so
  // the limit leaves room for the screen's own requests.
  hearth = await startHearth({ localRpm: 600, localTpm: 0 }, { withModel: false });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await hearth?.close();
});

const saved = () => {
  const file = path.join(hearth.dataDir, "settings.json");
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>) : {};
};

test("settings: the keyless limits show what runs, and a change is saved for the next start", async () => {
  // The running limit is the one a keyless tool on this computer meets.
  const res = await fetch(`${hearth.url}/v1/models`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-ratelimit-limit-requests"), "600");

  const { page, problems, context } = await openApp(browser, hearth.url);
  await page.getByRole("link", { name: "Settings" }).click();
  const rpm = page.getByLabel("Requests per minute without a key");
  const tpm = page.getByLabel("Tokens per minute without a key");
  await rpm.waitFor();
  assert.equal(await rpm.inputValue(), "600");
  assert.equal(await tpm.inputValue(), "0");
  await rpm.fill("30");
  await tpm.fill("5000");
  await page.getByRole("button", { name: "Save" }).click();
  await page
    .getByText("Restart Hearth to apply: Requests per minute without a key, Tokens per minute without a key.")
    .waitFor();
  assert.equal(saved().localRpm, 30);
  assert.equal(saved().localTpm, 5000);
  assert.deepEqual(problems, []);
  await context.close();
});

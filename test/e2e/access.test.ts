/**
 * Sharing Hearth in the browser (issue 20): "Serve on local network" is refused without a key and
 * saved with one; a key is created (its secret shown once), used, listed with when it was last
 * used, and revoked; the Server screen shows what it used and offers the CSV. The desktop app's
 * bridge is stood in for by a page script that does what its main process does after the native
 * dialog: PUT /api/settings with the settings token.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { screenshotBothThemes, startSession, type AppSession, type RunningHearth } from "./harness.js";

const SETTINGS_TOKEN = "e2e-settings-token-0123456789abcdef0123";
const LONG = 60_000;

describe("API keys, usage and the local network in the browser", { timeout: 300_000 }, () => {
  let hearth: RunningHearth;
  let app: AppSession;
  let page: Page;
  let secret = "";

  before(async () => {
    app = await startSession({ defaultMaxTokens: 16, settingsToken: SETTINGS_TOKEN });
    ({ hearth, page } = app);
    // What the desktop app's preload offers; its main process sends the settings token after asking.
    // A string, not a function: the test's compiler adds helpers to functions that the page lacks.
    await app.context.addInitScript({
      content: `window.hearth = {
        saveSettings: async (patch) => {
          const res = await fetch("/api/settings", {
            method: "PUT",
            headers: { "content-type": "application/json", "X-Hearth-Settings-Token": ${JSON.stringify(SETTINGS_TOKEN)} },
            body: JSON.stringify(patch),
          });
          return { status: res.status, body: await res.text() };
        },
      };`,
    });
    await page.reload();
  });

  after(async () => {
    await app?.close();
  });

  const lanSwitch = () => page.getByRole("switch", { name: /Serve on local network/ });
  const settingsFile = () => path.join(hearth.dataDir, "settings.json");

  test("the local network switch is refused without a key, and nothing is saved", async () => {
    await page.getByRole("link", { name: "Settings" }).click();
    await lanSwitch().waitFor();
    assert.equal(await lanSwitch().isChecked(), false);
    await page.getByText("Only this computer can connect.").waitFor();
    await lanSwitch().click();
    await page.getByText(/Serving on the network \(0\.0\.0\.0\) needs an API key first/).waitFor({ timeout: LONG });
    assert.equal(await lanSwitch().isChecked(), false);
    assert.equal(fs.existsSync(settingsFile()), false);
  });

  test("a key is created and shown once, works, and the switch then turns on for the next start", async () => {
    const form = page.getByRole("form", { name: "Create an API key" });
    await form.getByLabel("Name").fill("laptop");
    await form.getByLabel("Requests per minute").fill("30");
    await form.getByRole("button", { name: "Create key" }).click();
    const shown = page.locator('code[aria-label="New API key"]');
    await shown.waitFor();
    secret = await shown.innerText();
    assert.match(secret, /^hk_[0-9a-f]{12}_[\w-]+$/);
    const table = page.getByRole("table", { name: "API keys" });
    await table.getByRole("cell", { name: "laptop", exact: true }).waitFor();
    await table.getByText("30 requests/min, 100,000 tokens/min").waitFor();
    assert.equal(fs.readFileSync(path.join(hearth.dataDir, "keys.json"), "utf8").includes(secret), false);
    await screenshotBothThemes(page, "settings-keys");
    await page.getByRole("button", { name: "Done" }).click();
    assert.equal((await page.content()).includes(secret), false, "the secret is gone from the page");

    const chat = await fetch(`${hearth.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
      body: JSON.stringify({ model: "stories260K", messages: [{ role: "user", content: "Once" }], max_tokens: 8 }),
    });
    assert.equal(chat.status, 200);
    assert.equal(chat.headers.get("x-ratelimit-remaining-requests"), "29");

    await lanSwitch().click();
    await page.getByText(/Saved\. Restart Hearth to listen on every network interface/).waitFor({ timeout: LONG });
    // The switch shows what /api/network says, fetched again after the save.
    await page.getByRole("switch", { name: /Serve on local network/, checked: true }).waitFor();
    await page.getByText("after restart", { exact: true }).first().waitFor();
    const saved = JSON.parse(fs.readFileSync(settingsFile(), "utf8")) as Record<string, unknown>;
    assert.equal(saved.host, "0.0.0.0");
    await page.getByText("After the restart, other computers reach Hearth at:").waitFor();
    await screenshotBothThemes(page, "settings-network");
  });

  test("the last key is kept while the network is on; revoked once it is off", async () => {
    const table = page.getByRole("table", { name: "API keys" });
    await table.getByRole("button", { name: "Revoke laptop" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
    await page.getByText(/This is the last key, and Hearth serves the local network/).waitFor({ timeout: LONG });
    await table.getByRole("cell", { name: "laptop", exact: true }).waitFor();

    await lanSwitch().click();
    await page.getByText(/Saved\. .*this computer can connect/).waitFor({ timeout: LONG });
    await page.getByRole("switch", { name: /Serve on local network/, checked: false }).waitFor();
    await table.getByRole("button", { name: "Revoke laptop" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
    await page.getByText("Revoked laptop.").waitFor({ timeout: LONG });
    await page.getByText("No keys yet.").waitFor();
    const refused = await fetch(`${hearth.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(refused.status, 401);
  });

  test("the Server screen shows the key's usage and downloads it as CSV", async () => {
    await page.getByRole("link", { name: "Server" }).click();
    const usage = page.getByRole("table", { name: "Usage by key and model" });
    const row = usage.getByRole("row").filter({ hasText: "laptop" });
    await row.waitFor({ timeout: LONG });
    assert.match(await row.innerText(), /laptop\s+stories260K\s+1\s+\d+\s+\d+\s+0\s+0/);
    await page.getByRole("img", { name: /Tokens per day over the last 14 days: [1-9][\d,]* in all/ }).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download CSV" }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^hearth-usage-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv$/);
    const text = fs.readFileSync((await download.path())!, "utf8");
    assert.match(text, /^day,keyId,keyName,model,requests,promptTokens,completionTokens,reasoningTokens,errors\r\n/);
    assert.match(text, /,laptop,stories260K,1,/);
    await screenshotBothThemes(page, "server-usage");
  });

  test("no request left the server and no unexpected error was logged", () => {
    assert.deepEqual(app.problems, []);
  });
});

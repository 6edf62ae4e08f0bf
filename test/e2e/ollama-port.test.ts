/**
 * The Ollama port in the Settings screen, in a real Chromium: a server started with it shows the
 * URL to copy (and that URL answers Ollama's API), a new port is saved to settings.json and marked
 * for the next start, and emptying the field turns it off there.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
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

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

let hearth: RunningHearth;
let browser: Browser;
let ollamaPort: number;

before(async () => {
  await ensureUiBuilt();
  ollamaPort = await freePort();
  hearth = await startHearth({ ollamaPort }, { withModel: false });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await hearth?.close();
});

const settingsFile = () => path.join(hearth.dataDir, "settings.json");
const saved = () =>
  fs.existsSync(settingsFile()) ? (JSON.parse(fs.readFileSync(settingsFile(), "utf8")) as Record<string, unknown>) : {};

test("settings: the Ollama API's URL to copy; a new port is saved for the next start, an empty one turns it off", async () => {
  const { page, problems, context } = await openApp(browser, hearth.url);
  await page.getByRole("link", { name: "Settings" }).click();
  const url = page.locator('code[aria-label="Ollama API URL"]');
  await url.waitFor();
  assert.equal(await url.innerText(), `http://127.0.0.1:${ollamaPort}`);
  const version = await fetch(`${await url.innerText()}/api/version`);
  assert.equal(version.status, 200, "the URL shown serves Ollama's API");
  assert.equal(((await version.json()) as { hearth: string }).hearth.length > 0, true);

  const field = page.getByLabel("Ollama API port");
  assert.equal(await field.inputValue(), String(ollamaPort));
  const next = await freePort();
  await field.fill(String(next));
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Restart Hearth to apply: Ollama API port.").waitFor();
  assert.equal(saved().ollamaPort, next);
  await screenshotBothThemes(page, "settings-ollama");

  await field.fill("");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("All changes saved").waitFor();
  assert.equal("ollamaPort" in saved(), false, "off in the settings file");
  assert.deepEqual(problems, []);
  await context.close();
});

test("settings: a port that could not be bound is said, not shown as a URL", async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  const port = (taken.address() as net.AddressInfo).port;
  const other = await startHearth({ ollamaPort: port }, { withModel: false });
  try {
    const { page, problems, context } = await openApp(browser, other.url);
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByText(`Not served: port ${port} could not be bound`).waitFor();
    assert.equal(await page.locator('code[aria-label="Ollama API URL"]').count(), 0);
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await other.close();
    await new Promise((resolve) => taken.close(resolve));
  }
});

/**
 * What every browser test needs: the built UI (built here when missing or older than its
 * sources), real Hearth servers started in-process on free ports with temp data dirs and the real
 * test model, Debian's Chromium driven by playwright-core, and screenshots in both themes.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { createServer, type HearthServer } from "../../server/app.js";
import { loadConfig, type ConfigInput } from "../../server/config.js";
import { testModelPath } from "../helpers/models.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const UI_DIR = path.join(repoRoot, "dist", "renderer");
export const SCREENSHOT_DIR = path.join(repoRoot, "test-results", "screenshots");
export const CHROMIUM = process.env.HEARTH_CHROMIUM ?? "/usr/bin/chromium";

function newestMtime(p: string): number {
  const stat = fs.statSync(p);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}

function uiIsFresh(): boolean {
  const index = path.join(UI_DIR, "index.html");
  if (!fs.existsSync(index)) return false;
  const sources = Math.max(
    newestMtime(path.join(repoRoot, "renderer")),
    newestMtime(path.join(repoRoot, "vite.config.ts")),
  );
  return fs.statSync(index).mtimeMs >= sources;
}

/**
 * Builds the UI with Vite unless dist/renderer is newer than every source. Test files run in
 * parallel, so the build happens under a lock directory and freshness is checked again inside it.
 */
export async function ensureUiBuilt(): Promise<string> {
  if (uiIsFresh()) return UI_DIR;
  const lock = path.join(repoRoot, "dist", ".renderer-build.lock");
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 300_000;
  while (true) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // A lock left by a killed run is older than any build takes.
      if (Date.now() - fs.statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 300_000)
        fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${lock}`, { cause: err });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (!uiIsFresh()) {
      const vite = path.join(repoRoot, "node_modules", "vite", "bin", "vite.js");
      const result = spawnSync(process.execPath, [vite, "build", "--logLevel", "warn"], {
        cwd: repoRoot,
        encoding: "utf8",
      });
      if (result.status !== 0) throw new Error(`vite build failed:\n${result.stdout}\n${result.stderr}`);
    }
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
  return UI_DIR;
}

export interface RunningHearth {
  server: HearthServer;
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

/** A real Hearth server with the test model, on a free loopback port, with its own temp data dir. */
export async function startHearth(
  overrides: Partial<ConfigInput> = {},
  options: { withModel?: boolean } = {},
): Promise<RunningHearth> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-e2e-"));
  const config = loadConfig({
    env: {},
    overrides: {
      port: 0,
      dataDir,
      uiDir: UI_DIR,
      logLevel: "silent",
      parallel: 2,
      ...(options.withModel === false ? {} : { model: await testModelPath() }),
      ...overrides,
    },
  });
  const server = createServer(config);
  const url = await server.start();
  return {
    server,
    url,
    dataDir,
    async close() {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

export interface AppPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors and console errors seen so far (a test asserts there are none). */
  problems: string[];
}

/**
 * A fresh browser context on the app. Requests to anything but the server are refused and
 * recorded, which is how the tests prove the UI loads nothing from the network.
 */
export async function openApp(
  browser: Browser,
  url: string,
  options: { colorScheme?: "light" | "dark"; hash?: string } = {},
): Promise<AppPage> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    colorScheme: options.colorScheme ?? "light",
    reducedMotion: "reduce",
  });
  const problems: string[] = [];
  const origin = new URL(url).origin;
  await context.route("**/*", (route) => {
    const target = route.request().url();
    if (target.startsWith(origin) || target.startsWith("data:") || target.startsWith("blob:")) return route.continue();
    problems.push(`network request outside the server: ${target}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    // A refused request (401 before the key is entered, 404 of a feature a server lacks) is logged by the browser itself; the UI handles those.
    if (msg.type() === "error" && !/Failed to load resource/.test(msg.text()))
      problems.push(`console error: ${msg.text()}`);
  });
  await page.goto(`${url}/${options.hash ?? ""}`);
  return { context, page, problems };
}

/** Saves `<name>-light.png` and `<name>-dark.png` of the page as it is now. */
/** A Hearth, a browser and the app open in it: what most screen tests share. */
export interface AppSession extends AppPage {
  hearth: RunningHearth;
  browser: Browser;
  /** Closes the page's context, the browser and the server (each only if it started). */
  close(): Promise<void>;
}

/**
 * Builds the UI if needed, starts a Hearth with `overrides`, lets `prepare` write into its data
 * folder (an `mcp.json`, say) before the app opens, and opens the app in a fresh browser.
 */
export async function startSession(
  overrides: Partial<ConfigInput> = {},
  options: { withModel?: boolean; prepare?: (hearth: RunningHearth) => void | Promise<void> } = {},
): Promise<AppSession> {
  await ensureUiBuilt();
  const hearth = await startHearth(overrides, options.withModel === false ? { withModel: false } : {});
  let browser: Browser | undefined;
  try {
    await options.prepare?.(hearth);
    browser = await launchBrowser();
    const app = await openApp(browser, hearth.url);
    const opened = browser;
    return {
      ...app,
      hearth,
      browser: opened,
      close: async () => {
        await app.context.close();
        await opened.close();
        await hearth.close();
      },
    };
  } catch (error) {
    await browser?.close();
    await hearth.close();
    throw error;
  }
}

export async function screenshotBothThemes(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
    // Let the theme's transition-free repaint land before the capture.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-${scheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: "light", reducedMotion: "reduce" });
}

/** JSON from the server under test, the way a script would call it (for checking what the UI did). */
export async function apiJson<T>(base: string, p: string, init: RequestInit = {}, apiKey?: string): Promise<T> {
  const res = await fetch(`${base}${p}`, {
    ...init,
    headers: {
      "content-type": "application/json",
      ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
      ...(init.headers as Record<string, string> | undefined),
    },
  });
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${p}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

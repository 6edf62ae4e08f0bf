/**
 * The UI's weight and start-up: bytes of the built bundle (raw and gzip, all of it and what the
 * first screen needs), and time to interactive in Debian's Chromium against a real server — from
 * navigation start to the message box being on screen and enabled, cold cache each time.
 * Run with `npm run bench -- ui` (or `--quick`).
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { chromium } from "playwright-core";
import { ensureUiBuilt, startHearth, CHROMIUM } from "../test/e2e/harness.js";
import type { BenchOptions, BenchResult } from "./types.js";

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

const gzip = (buf: Buffer) => zlib.gzipSync(buf, { level: 9 }).length;

function bundleSizes(uiDir: string): BenchResult {
  const all = files(uiDir).filter((f) => !path.basename(f).startsWith("."));
  const sum = (list: string[], size: (b: Buffer) => number) => list.reduce((n, f) => n + size(fs.readFileSync(f)), 0);
  const html = fs.readFileSync(path.join(uiDir, "index.html"), "utf8");
  // What index.html loads before anything can show: its entry script, preloads and stylesheets.
  const initial = [
    "index.html",
    ...[...html.matchAll(/(?:src|href)="\.\/([^"]+\.(?:js|css))"/g)].map((m) => m[1]!),
  ].map((f) => path.join(uiDir, f));
  const js = all.filter((f) => f.endsWith(".js"));
  const markdown = js.filter((f) => path.basename(f).startsWith("Markdown-"));
  return {
    name: "bundle size",
    metrics: {
      total_bytes: sum(all, (b) => b.length),
      total_gzip_bytes: sum(all, gzip),
      js_gzip_bytes: sum(js, gzip),
      css_gzip_bytes: sum(
        all.filter((f) => f.endsWith(".css")),
        gzip,
      ),
      first_screen_bytes: sum(initial, (b) => b.length),
      first_screen_gzip_bytes: sum(initial, gzip),
      markdown_chunk_gzip_bytes: sum(markdown, gzip),
      files: all.length,
    },
    notes:
      "first_screen = index.html and what it references; Markdown + highlight.js load lazily after the first paint.",
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function timeToInteractive(runs: number): Promise<BenchResult> {
  const hearth = await startHearth({}, { withModel: false });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const tti: number[] = [];
  const fcp: number[] = [];
  const dcl: number[] = [];
  try {
    for (let i = 0; i < runs + 1; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(hearth.url, { waitUntil: "commit" });
      // Interactive: the message box exists, is enabled or says why not, and the sidebar is drawn.
      const ready = await page.waitForFunction(
        () => {
          const box = document.querySelector('textarea[aria-label="Message"]');
          const nav = document.querySelector("nav.sidebar");
          return box && nav && document.querySelector(".welcome") ? performance.now() : false;
        },
        null,
        { polling: "raf", timeout: 30_000 },
      );
      const at = (await ready.jsonValue()) as number;
      const timing = await page.evaluate(() => ({
        fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN,
        dcl:
          (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined)
            ?.domContentLoadedEventEnd ?? NaN,
      }));
      await context.close();
      if (i === 0) continue; // The first run warms Chromium itself, not the page.
      tti.push(at);
      if (Number.isFinite(timing.fcp)) fcp.push(timing.fcp);
      dcl.push(timing.dcl);
    }
  } finally {
    await browser.close();
    await hearth.close();
  }
  return {
    name: "time to interactive (cold cache, loopback)",
    // Headless Chromium does not always report paint timings; FCP is listed only when it does.
    metrics: {
      tti_ms_p50: median(tti),
      tti_ms_max: Math.max(...tti),
      ...(fcp.length > 0 ? { fcp_ms_p50: median(fcp) } : {}),
      dom_content_loaded_ms_p50: median(dcl),
      runs,
    },
    notes:
      "From navigation start to the chat screen with its message box, in headless Chromium with a fresh profile per run.",
  };
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const uiDir = await ensureUiBuilt();
  return [bundleSizes(uiDir), await timeToInteractive(opts.quick ? 3 : 10)];
}

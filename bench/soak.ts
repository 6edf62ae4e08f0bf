/**
 * `npm run soak [-- --minutes 30] [-- --quick]`: a long run against `hearth serve` as a separate
 * process, with twice as many concurrent streaming clients as the model has parallel sequences,
 * so half of them always wait in the queue. Clients loop over /v1/chat/completions (recorded in
 * history), /v1/completions and the app's own /api chats, with random lengths.
 *
 * Pass criteria (printed, and the exit code is 1 when one fails): 0 server errors (no 5xx, no
 * stream ending in an error event, no connection failure), every request answered or refused
 * with 429 and Retry-After, and the server's resident memory after warm-up (the first 20% of the
 * run; half of runs under 10 minutes) growing by less than 5%. Reported: p95 time to first token per time slice, /health/live
 * latency, throughput. Results go to bench/results/soak-<time>.json; BENCHMARKS.md has a section.
 *
 * History starts at `historyMiB` of existing chats, as a person's would, and warm-up reads all of
 * it once (an export): SQLite's page cache (better-sqlite3 builds with cache_size -16000, 16 MiB)
 * otherwise fills with every page the run writes, and a 30-minute run writes about as much as the
 * cache holds, so memory would still be "growing" toward that fixed cap when the run ends
 * (measured: RSS follows the file's size until ~20 MiB, then stays flat while it grows to 53 MiB).
 *
 * As a module, `run({quick})` returns BenchResult[] like the other benchmarks (quick = 1 minute).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { HistoryStore } from "../server/history/store.js";
import { load1, percentile } from "./_stats.js";
import type { BenchOptions, BenchResult } from "./types.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..");

export interface SoakOptions {
  minutes: number;
  /** Parallel sequences of the model; clients are twice this. Defaults to 4. */
  parallel?: number;
  /**
   * Requests that may wait for a sequence. Defaults to half the parallel sequences, so with twice as
   * many clients as sequences some always find the queue full: the 429 + Retry-After path is soaked too.
   */
  maxQueue?: number;
  /** Model file. Defaults to the test model (stories260K). */
  model?: string;
  /** Slices of the run for the p95-TTFT-over-time table. Defaults to 10. */
  slices?: number;
  /** MiB of chat history the data folder starts with. Defaults to 24; 0 starts empty. */
  historyMiB?: number;
}

export interface SoakReport {
  minutes: number;
  parallel: number;
  maxQueue: number;
  clients: number;
  requests: number;
  completed: number;
  rejected429: number;
  rejected429WithoutRetryAfter: number;
  serverErrors: number;
  errorSamples: string[];
  tokens: number;
  rssWarmMiB: number;
  rssEndMiB: number;
  rssGrowthPct: number;
  rssMaxMiB: number;
  historyStartMiB: number;
  historyEndMiB: number;
  ttftP50Ms: number;
  ttftP95Ms: number;
  ttftP95BySliceMs: number[];
  healthP50Ms: number;
  healthP95Ms: number;
  healthMaxMs: number;
  load1: number;
  passed: boolean;
}

function modelPath(): string {
  const dir = process.env.HEARTH_MODELS_DIR ?? path.resolve(repoRoot, "..", "shared", "models");
  return path.join(dir, "stories260K.gguf");
}

function historyBytes(dataDir: string): number {
  const file = path.join(dataDir, "history.sqlite");
  const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
  return size(file) + size(`${file}-wal`);
}

/** Writes generated chats through the real store until the history file holds `mib` MiB. */
function seedHistory(dataDir: string, mib: number): void {
  if (mib <= 0) return;
  const words =
    "once upon a time there was little fox bear owl who lived in the big forest by river and every day went home with friend happy sad".split(
      " ",
    );
  let seed = 11;
  const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const text = (n: number) => Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(" ");
  // In batches, each closed (which checkpoints): until then the WAL, not the file, holds the writes.
  for (let c = 0; historyBytes(dataDir) < mib * 2 ** 20;) {
    const store = HistoryStore.open(path.join(dataDir, "history.sqlite"));
    try {
      for (const end = c + 500; c < end; c++) {
        const conversation = store.createConversation({ title: `Earlier chat ${c}`, source: "ui" });
        let parentId: number | null = null;
        for (let m = 0; m < 10; m++)
          parentId = store.appendMessage(conversation.id, {
            role: m % 2 ? "assistant" : "user",
            content: text(60),
            parentId,
          }).id;
      }
    } finally {
      store.close();
    }
  }
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

async function startServer(
  model: string,
  parallel: number,
  maxQueue: number,
  dataDir: string,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "server/cli.ts",
      "serve",
      "--model",
      model,
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--threads",
      "1",
      "--parallel",
      String(parallel),
      "--ctx-size",
      "2048",
      "--max-queue",
      String(maxQueue),
    ],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HEARTH_LOG_LEVEL: "warn" } },
  );
  let out = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /Hearth is ready at (http:\/\/\S+?) /.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`hearth exited ${code}: ${err}`)));
  });
  return { child, url };
}

interface Outcome {
  at: number;
  status: number;
  ttftMs: number | null;
  tokens: number;
  error: string | null;
  retryAfter: boolean;
}

/** One streaming request; `error` is set for anything that is not a normal end or a 429. */
function streamOnce(url: string, pathname: string, body: unknown): Promise<Outcome> {
  const u = new URL(url);
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: "POST",
        path: pathname,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let ttft: number | null = null;
        let raw = "";
        res.on("data", (d: Buffer) => {
          const text = d.toString();
          raw += text;
          if (ttft === null && /"(content|text)":"[^"]/.test(text)) ttft = performance.now() - started;
        });
        res.on("end", () => {
          // Streamed chunks (about one token each).
          const tokens = (raw.match(/^data: \{/gm) ?? []).length;
          const status = res.statusCode ?? 0;
          let error: string | null = null;
          if (status >= 500) error = `${status} ${raw.slice(0, 200)}`;
          else if (status === 200 && !raw.trimEnd().endsWith("data: [DONE]"))
            error = `stream did not end with [DONE]: ${raw.slice(-200)}`;
          else if (status === 200 && /data: \{"error"/.test(raw))
            error = `error event: ${raw.slice(raw.indexOf('data: {"error"'), raw.indexOf('data: {"error"') + 200)}`;
          else if (status !== 200 && status !== 429) error = `${status} ${raw.slice(0, 200)}`;
          resolve({
            at: Date.now(),
            status,
            ttftMs: ttft,
            tokens,
            error,
            retryAfter: res.headers["retry-after"] !== undefined,
          });
        });
        res.on("error", (e) =>
          resolve({
            at: Date.now(),
            status: 0,
            ttftMs: null,
            tokens: 0,
            error: `response: ${e.message}`,
            retryAfter: false,
          }),
        );
      },
    );
    req.setTimeout(300_000, () => req.destroy(new Error("no answer in 300 s")));
    req.on("error", (e) =>
      resolve({
        at: Date.now(),
        status: 0,
        ttftMs: null,
        tokens: 0,
        error: `request: ${e.message}`,
        retryAfter: false,
      }),
    );
    req.end(JSON.stringify(body));
  });
}

async function getJson(url: string): Promise<{ status: number; ms: number; body: unknown }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = await res.json().catch(() => null);
  return { status: res.status, ms: performance.now() - t0, body };
}

/** Runs the soak and returns its report. */
export async function soak(options: SoakOptions): Promise<SoakReport> {
  const parallel = options.parallel ?? 4;
  const clients = parallel * 2;
  const slices = options.slices ?? 10;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-soak-"));
  seedHistory(dataDir, options.historyMiB ?? 24);
  const historyStart = historyBytes(dataDir);
  const maxQueue = options.maxQueue ?? Math.max(1, Math.floor(parallel / 2));
  const { child, url } = await startServer(options.model ?? modelPath(), parallel, maxQueue, dataDir);
  const durationMs = options.minutes * 60_000;
  const started = Date.now();
  const end = started + durationMs;
  const outcomes: Outcome[] = [];
  const rss: { at: number; bytes: number }[] = [];
  const health: number[] = [];
  let seed = 7;
  const rand = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const conv = (await (
    await fetch(`${url}/api/conversations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    })
  ).json()) as { id: string };
  // Part of warm-up: a person scrolls, searches or exports their history; every page is read once.
  await (await fetch(`${url}/api/export`)).arrayBuffer();

  const sampler = setInterval(() => {
    try {
      rss.push({ at: Date.now(), bytes: rssOf(child.pid!) });
    } catch {
      // the process is gone; the clients will report it
    }
    void getJson(`${url}/health/live`).then(
      (h) => health.push(h.ms),
      () => health.push(Number.POSITIVE_INFINITY),
    );
  }, 2000);

  const client = async (c: number) => {
    for (let n = 0; Date.now() < end; n++) {
      const maxTokens = 32 + Math.floor(rand() * 400);
      const kind = rand();
      let outcome: Outcome;
      if (kind < 0.5) {
        outcome = await streamOnce(url, "/v1/chat/completions", {
          model: "stories260K",
          messages: [{ role: "user", content: `Client ${c} story ${n}` }],
          max_tokens: maxTokens,
          stream: true,
          temperature: 1,
        });
      } else if (kind < 0.8) {
        outcome = await streamOnce(url, "/v1/completions", {
          model: "stories260K",
          prompt: `Once upon a time, client ${c} number ${n}`,
          max_tokens: maxTokens,
          stream: true,
        });
      } else {
        // The app's own chat: one conversation per client, a new root each time so prompts stay short.
        outcome = await streamOnce(url, `/api/conversations/${conv.id}/messages`, {
          content: `Turn ${c}.${n}`,
          parentId: null,
          params: { maxTokens },
        });
      }
      outcomes.push(outcome);
      if (outcome.status === 429) await new Promise((r) => setTimeout(r, 1000));
    }
  };
  const progress = setInterval(() => {
    const done = outcomes.length;
    const errors = outcomes.filter((o) => o.error).length;
    const last = rss.at(-1)?.bytes ?? 0;
    process.stderr.write(
      `soak: ${((Date.now() - started) / 60_000).toFixed(1)} min, ${done} requests, ${errors} errors, rss ${(last / 2 ** 20).toFixed(0)} MiB\n`,
    );
  }, 60_000);
  let historyEnd: number;
  try {
    await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  } finally {
    clearInterval(sampler);
    clearInterval(progress);
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    historyEnd = historyBytes(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }

  // Memory: median RSS of the 10% of the run that follows warm-up, against the median of the last
  // 10%. Warm-up is the first 20% of a long run; short runs are all warm-up, so they use half.
  const warmEnd = started + durationMs * (options.minutes < 10 ? 0.5 : 0.2);
  const window = durationMs * 0.1;
  const med = (from: number, to: number) =>
    percentile(
      rss.filter((s) => s.at >= from && s.at <= to).map((s) => s.bytes),
      50,
    );
  const rssWarm = med(warmEnd, warmEnd + window);
  const rssEnd = med(end - window, end + 5000);
  const ttfts = outcomes.flatMap((o) => (o.ttftMs === null || o.status !== 200 ? [] : [o.ttftMs]));
  const sliceMs = durationMs / slices;
  const bySlice = Array.from({ length: slices }, (_, i) => {
    const values = outcomes
      .filter((o) => o.ttftMs !== null && o.at >= started + i * sliceMs && o.at < started + (i + 1) * sliceMs)
      .map((o) => o.ttftMs!);
    return Math.round(percentile(values, 95));
  });
  const errors = outcomes.filter((o) => o.error);
  const rejected = outcomes.filter((o) => o.status === 429);
  const growth = ((rssEnd - rssWarm) / rssWarm) * 100;
  const finiteHealth = health.filter(Number.isFinite);
  const report: SoakReport = {
    minutes: options.minutes,
    parallel,
    maxQueue,
    clients,
    requests: outcomes.length,
    completed: outcomes.filter((o) => o.status === 200 && !o.error).length,
    rejected429: rejected.length,
    rejected429WithoutRetryAfter: rejected.filter((o) => !o.retryAfter).length,
    serverErrors: errors.length + (health.length - finiteHealth.length),
    errorSamples: [...new Set(errors.map((e) => e.error!))].slice(0, 5),
    tokens: outcomes.reduce((s, o) => s + o.tokens, 0),
    rssWarmMiB: Math.round(rssWarm / 2 ** 20),
    rssEndMiB: Math.round(rssEnd / 2 ** 20),
    rssGrowthPct: Math.round(growth * 100) / 100,
    rssMaxMiB: Math.round(Math.max(...rss.map((s) => s.bytes)) / 2 ** 20),
    historyStartMiB: Math.round(historyStart / 2 ** 20),
    historyEndMiB: Math.round(historyEnd / 2 ** 20),
    ttftP50Ms: Math.round(percentile(ttfts, 50)),
    ttftP95Ms: Math.round(percentile(ttfts, 95)),
    ttftP95BySliceMs: bySlice,
    healthP50Ms: Math.round(percentile(finiteHealth, 50) * 10) / 10,
    healthP95Ms: Math.round(percentile(finiteHealth, 95) * 10) / 10,
    healthMaxMs: Math.round(Math.max(...finiteHealth) * 10) / 10,
    load1: load1(),
    passed: false,
  };
  report.passed = report.serverErrors === 0 && report.rejected429WithoutRetryAfter === 0 && report.rssGrowthPct < 5;
  return report;
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const r = await soak({ minutes: opts.quick ? 1 : 30 });
  const { errorSamples, ttftP95BySliceMs, passed, ...numbers } = r;
  return [
    {
      name: `soak ${r.minutes} min, ${r.clients} streams on ${r.parallel} sequences`,
      metrics: { ...numbers, passed: passed ? 1 : 0 },
      notes: `p95 TTFT by slice (ms): ${ttftP95BySliceMs.join(", ")}${errorSamples.length ? `; errors: ${errorSamples.join(" / ")}` : ""}`,
    },
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--minutes");
  const quick = args.includes("--quick") || process.env.CI === "true";
  const minutes = at >= 0 ? Number(args[at + 1]) : quick ? 1 : 30;
  const pAt = args.indexOf("--parallel");
  const report = await soak({ minutes, ...(pAt >= 0 ? { parallel: Number(args[pAt + 1]) } : {}) });
  const lines = [
    `Soak: ${report.minutes} min, ${report.clients} concurrent streams on ${report.parallel} sequences, queue ${report.maxQueue} (load ${report.load1})`,
    `requests ${report.requests}: ${report.completed} completed, ${report.rejected429} answered 429 (${report.rejected429WithoutRetryAfter} without Retry-After), ${report.serverErrors} server errors`,
    `resident memory after warm-up ${report.rssWarmMiB} MiB -> at the end ${report.rssEndMiB} MiB (${report.rssGrowthPct}%), max ${report.rssMaxMiB} MiB; history ${report.historyStartMiB} -> ${report.historyEndMiB} MiB`,
    `time to first token p50 ${report.ttftP50Ms} ms, p95 ${report.ttftP95Ms} ms; p95 by tenth of the run: ${report.ttftP95BySliceMs.join(", ")} ms`,
    `/health/live p50 ${report.healthP50Ms} ms, p95 ${report.healthP95Ms} ms, max ${report.healthMaxMs} ms`,
    ...(report.errorSamples.length ? [`error samples: ${report.errorSamples.join(" | ")}`] : []),
    report.passed ? "PASS" : "FAIL",
  ];
  console.log(lines.join("\n"));
  fs.mkdirSync(path.join(here, "results"), { recursive: true });
  fs.writeFileSync(
    path.join(here, "results", `soak-${new Date().toISOString().replaceAll(":", "-")}.json`),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  process.exit(report.passed ? 0 : 1);
}

/**
 * Issue 2's benchmark: the real server (`createServer`, port 0, `--parallel 8`) against node-llama-cpp
 * called directly in the same process.
 *
 * 1. One stream, HTTP/SSE vs bare LlamaCompletion loop, same model, threads, context shape, prompt,
 *    sampling and seed, interleaved and repeated (medians): what the HTTP path costs.
 * 2. Concurrency 1, 2, 4, 8, 16, streaming and not: aggregate generated tokens/s, time to first
 *    token, p50/p95/p99 latency. The load generator is a separate process, like any real client.
 *
 * Targets (issue 2): HTTP costs < 5% of single-stream throughput; at concurrency 8 at least 2x the
 * single-stream tokens/s with p95 latency within 1.5x of p50. Speed is measured here, never asserted
 * in tests. `npm run bench -- server` (add `--quick` for a short run).
 *
 * `HEARTH_BENCH_KEY=compare` runs only issue 20's question instead: what a named key with rate
 * limits (server/access/) costs at concurrency 8, streaming, against no key, in interleaved rounds
 * on one server (target < 1% of throughput). Limits are set far above what the run uses, so every
 * request goes through the guard, the sliding windows, the headers and the usage write, and none
 * is refused.
 */
import { fork, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { KeyStore } from "../server/access/keys.js";
import { createServer, type HearthServer } from "../server/app.js";
import { loadConfig, type ConfigInput } from "../server/config.js";
import type { EngineBinary } from "../server/engine/runtime.js";
import { createLogger } from "../server/logger.js";
import { modelPath } from "../test/helpers/models.js";
import { BareEngine, streamTokensPerSecond } from "./_bare.js";
import type { LoadPlan, LoadResult } from "./_loadgen.js";
import { cpuDiff, cpuSample } from "./_cpu.js";
import { load1, median, percentile, round } from "./_stats.js";
import type { BenchOptions, BenchResult } from "./types.js";

const here = path.dirname(fileURLToPath(import.meta.url));

export const MODELS = ["stories260K.gguf", "bench-86M-q4_k_m.gguf"] as const;

interface Settings {
  /** Tokens per request. */
  maxTokens: number;
  /** Interleaved bare/HTTP single-stream pairs. */
  pairs: number;
  levels: number[];
  modes: boolean[];
  /** Requests at each level: max(minRequests, 2 x concurrency). */
  minRequests: number;
}

const FULL: Settings = { maxTokens: 128, pairs: 12, levels: [1, 2, 4, 8, 16], modes: [true, false], minRequests: 8 };
const QUICK: Settings = { maxTokens: 32, pairs: 3, levels: [1, 8, 16], modes: [true, false], minRequests: 4 };

export class LoadGenerator {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<LoadGenerator> {
    const child = fork(path.join(here, "_loadgen.ts"), ["--serve"], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`load generator exited with ${code}`)));
    });
    return new LoadGenerator(child);
  }

  run(plan: LoadPlan): Promise<LoadResult> {
    return new Promise((resolve) => {
      this.child.once("message", (result: LoadResult) => resolve(result));
      this.child.send(plan);
    });
  }

  close(): void {
    this.child.disconnect();
  }
}

/**
 * The engine under test: HEARTH_BENCH_THREADS and HEARTH_BENCH_LANES (default 0 = the server's own
 * default) and HEARTH_BENCH_BINARY (auto|prebuilt|local, default auto), so one checkout can compare
 * threads, lanes and binaries; the bare loop always copies what the server reports.
 */
const benchThreads = Number(process.env.HEARTH_BENCH_THREADS ?? 0);
const benchLanes = Number(process.env.HEARTH_BENCH_LANES ?? 0);
const benchBinary = (process.env.HEARTH_BENCH_BINARY ?? "auto") as EngineBinary;

export async function startServer(
  model: string,
  parallel: number,
  lanes = benchLanes,
  overrides: Partial<Pick<ConfigInput, "ctxSize" | "promptLookup" | "draftModel" | "draftMax">> = {},
): Promise<{ server: HearthServer; dataDir: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-"));
  const config = loadConfig({
    env: {},
    overrides: {
      model,
      port: 0,
      parallel,
      threads: benchThreads,
      lanes,
      engineBinary: benchBinary,
      logLevel: "warn",
      dataDir,
      recordApi: false,
      ...overrides,
    },
  });
  const server = createServer(config, { logger: createLogger("warn") });
  await server.start();
  return { server, dataDir };
}

interface Health {
  engine: { build: string; threads: number; lanes: number } | null;
  models: { id: string; contextSize: number; parallel: number }[];
}

export function levelMetrics(
  result: LoadResult,
  stream: boolean,
): Record<string, number> & { aggregate_tok_s: number; tokens: number } {
  const latencies = result.requests.map((r) => r.latencyMs);
  const ttfts = result.requests.map((r) => r.ttftMs).filter((v) => Number.isFinite(v));
  const tokens = result.requests.reduce((n, r) => n + r.tokens, 0);
  const p50 = percentile(latencies, 50);
  const p95 = percentile(latencies, 95);
  return {
    requests: result.requests.length,
    tokens,
    aggregate_tok_s: round((tokens * 1000) / result.wallMs),
    ...(stream ? { ttft_p50_ms: round(percentile(ttfts, 50)), ttft_p95_ms: round(percentile(ttfts, 95)) } : {}),
    latency_p50_ms: round(p50),
    latency_p95_ms: round(p95),
    latency_p99_ms: round(percentile(latencies, 99)),
    p95_over_p50: round(p95 / p50, 2),
    ...(stream
      ? {
          tokens_per_event: round(
            tokens /
              Math.max(
                1,
                result.requests.reduce((n, r) => n + r.events, 0),
              ),
            2,
          ),
        }
      : {}),
  };
}

async function benchModel(file: string, s: Settings, loadgen: LoadGenerator): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const model = await modelPath(file);
  const name = file.replace(/\.gguf$/, "");
  const { server, dataDir } = await startServer(model, 8);
  let bare: BareEngine | null = null;
  try {
    const health = (await (await fetch(`${server.url}/health`)).json()) as Health;
    const threads = health.engine?.threads ?? 1;
    const info = health.models[0];
    if (!info) throw new Error("the server loaded no model");
    // Same binary, threads and context shape as the server, so only the path around the engine differs.
    bare = await BareEngine.open({
      modelPath: model,
      threads,
      sequences: info.parallel,
      contextSize: info.contextSize,
      binary: health.engine?.build === "localBuild" ? "local" : "prebuilt",
    });
    const engineNote = `engine ${health.engine?.build}, ${threads} thread(s), ${health.engine?.lanes ?? 1} lane(s), parallel ${info.parallel}, ctx ${info.contextSize}`;

    const plan = (concurrency: number, stream: boolean, requestsPerWorker: number, firstRequest: number): LoadPlan => ({
      url: server.url,
      model: info.id,
      endpoint: "completions",
      stream,
      concurrency,
      requestsPerWorker,
      maxTokens: s.maxTokens,
      firstRequest,
    });
    let request = 0;
    // Warm both paths (first decode pages the weights in, spins up threads).
    await bare.round(1, 8, 1_000_000);
    await loadgen.run({ ...plan(1, true, 1, 1_000_001), maxTokens: 8 });

    // 1. One stream: bare vs HTTP, interleaved pairs.
    const loadBefore = load1();
    const pairs: {
      bareTps: number;
      httpTps: number;
      bareTtft: number;
      httpTtft: number;
      bareE2e: number;
      httpE2e: number;
      tokens: number;
      bareJs: number;
      httpJs: number;
      engine: number;
    }[] = [];
    for (let i = 0; i < s.pairs; i++) {
      const n = request++;
      const c0 = cpuSample();
      const b = (await bare.round(1, s.maxTokens, n)).streams[0]!;
      const c1 = cpuSample();
      const h = (await loadgen.run(plan(1, true, 1, n))).requests[0];
      const c2 = cpuSample();
      if (!h) throw new Error("the HTTP request failed");
      const bareCpu = cpuDiff(c0, c1);
      const httpCpu = cpuDiff(c1, c2);
      // The same seed and prompt give the same tokens, so stream rates compare like for like.
      const httpTps = h.tokens > 1 ? ((h.tokens - 1) * 1000) / (h.latencyMs - h.ttftMs) : 0;
      pairs.push({
        bareTps: streamTokensPerSecond(b),
        httpTps,
        bareTtft: b.ttftMs,
        httpTtft: h.ttftMs,
        bareE2e: (b.tokens * 1000) / b.totalMs,
        httpE2e: (h.tokens * 1000) / h.latencyMs,
        tokens: h.tokens,
        bareJs: bareCpu ? bareCpu.mainNs / 1000 / b.tokens : Number.NaN,
        httpJs: httpCpu ? httpCpu.mainNs / 1000 / h.tokens : Number.NaN,
        engine: bareCpu ? bareCpu.otherNs / 1000 / b.tokens : Number.NaN,
      });
    }
    const med = (k: keyof (typeof pairs)[number]) => median(pairs.map((p) => p[k]));
    results.push({
      name: `${name} single stream: HTTP/SSE vs bare node-llama-cpp`,
      metrics: {
        bare_tok_s: round(med("bareTps")),
        http_tok_s: round(med("httpTps")),
        // Both: a pair's ratio cancels slow drifts of the machine, the medians' ratio single outliers.
        http_over_bare: round(median(pairs.map((p) => p.httpTps / p.bareTps)), 3),
        http_over_bare_of_medians: round(med("httpTps") / med("bareTps"), 3),
        bare_e2e_tok_s: round(med("bareE2e")),
        http_e2e_tok_s: round(med("httpE2e")),
        http_over_bare_e2e: round(median(pairs.map((p) => p.httpE2e / p.bareE2e)), 3),
        bare_ttft_ms: round(med("bareTtft"), 2),
        http_ttft_ms: round(med("httpTtft"), 2),
        tokens: med("tokens"),
        // CPU time per token (Linux): robust where wall time is noise on a loaded machine.
        bare_js_cpu_us_per_token: round(med("bareJs")),
        http_js_cpu_us_per_token: round(med("httpJs")),
        engine_cpu_us_per_token: round(med("engine")),
        http_extra_js_pct_of_token: round((100 * (med("httpJs") - med("bareJs"))) / (med("engine") + med("bareJs")), 1),
        pairs: pairs.length,
        load1: round((loadBefore + load1()) / 2, 2),
      },
      notes: `${engineNote}; /v1/completions stream, ${s.maxTokens} max tokens, tok/s after the first token (e2e includes it); medians of ${pairs.length} interleaved pairs; http_extra_js_pct_of_token = extra JS-thread CPU of the HTTP path over a token's total CPU, the most it can cost if none of it overlaps decoding`,
    });

    // 2. Concurrency sweep.
    let singleStreamAggregate = 0;
    for (const stream of s.modes) {
      for (const c of s.levels) {
        const perWorker = Math.max(1, Math.ceil(Math.max(s.minRequests, 2 * c) / c));
        const loadAt = load1();
        const cpuBefore = cpuSample();
        const result = await loadgen.run(plan(c, stream, perWorker, request));
        const cpu = cpuDiff(cpuBefore, cpuSample());
        request += c * perWorker;
        const metrics = levelMetrics(result, stream);
        // The server process's CPU per generated token: how well a level batches, whatever the load.
        if (cpu && metrics.tokens)
          metrics.server_cpu_us_per_token = round((cpu.mainNs + cpu.otherNs) / 1000 / metrics.tokens);
        if (stream && c === 1) singleStreamAggregate = metrics.aggregate_tok_s;
        const vsSingle: Record<string, number> =
          singleStreamAggregate > 0
            ? { vs_single_stream: round(metrics.aggregate_tok_s / singleStreamAggregate, 2) }
            : {};
        results.push({
          name: `${name} c=${c} ${stream ? "stream" : "no-stream"}`,
          metrics: { ...metrics, ...vsSingle, load1: loadAt },
          notes: `${engineNote}; ${result.errors.length > 0 ? `${result.errors.length} errors: ${result.errors[0]}` : ""}`,
        });
      }
    }
  } finally {
    await bare?.close();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}

/**
 * The access guard's own work for one keyed request, in process and on the CPU clock (wall time is
 * noise on a loaded machine): finding the key (SHA-256, constant-time compare), the sliding windows
 * and their headers; and the usage row's SQLite upsert, which every request pays, keyed or not.
 */
function guardMicroCost(server: HearthServer, key: string): { guardUs: number; usageUs: number } {
  const access = server.context.access;
  const req = { headers: { authorization: `Bearer ${key}` }, socket: { remoteAddress: "127.0.0.1" } };
  const n = 20_000;
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const p = access.authenticate(req as never);
    access.limiter.admit(`micro-${p.id}`, { rpm: 1_000_000_000, tpm: 1_000_000_000 });
  }
  const t1 = process.cpuUsage(t0);
  const m = 2_000;
  const t2 = process.cpuUsage();
  for (let i = 0; i < m; i++)
    server.context.history.usage.add({
      keyId: "micro",
      keyName: "micro",
      model: "m",
      promptTokens: 10,
      completionTokens: 10,
      reasoningTokens: 0,
      errors: 0,
      at: Date.now(),
    });
  const t3 = process.cpuUsage(t2);
  return { guardUs: (t1.user + t1.system) / n, usageUs: (t3.user + t3.system) / m };
}

/** Issue 20: c=8 streaming with and without a limited key, interleaved rounds on one server. */
async function benchKeyCost(file: string, s: Settings, loadgen: LoadGenerator): Promise<BenchResult> {
  const model = await modelPath(file);
  const { server, dataDir } = await startServer(model, 8);
  const key = KeyStore.inDataDir(dataDir).create({
    name: "bench",
    scope: "inference",
    rpm: 1_000_000,
    tpm: 100_000_000,
  }).key;
  try {
    const health = (await (await fetch(`${server.url}/health`)).json()) as Health;
    const info = health.models[0];
    if (!info) throw new Error("the server loaded no model");
    const c = 8;
    const perWorker = 2;
    const rounds = s === QUICK ? 3 : 6;
    let request = 0;
    const plan = (apiKey: string | undefined): LoadPlan => ({
      url: server.url,
      model: info.id,
      endpoint: "completions",
      stream: true,
      concurrency: c,
      requestsPerWorker: perWorker,
      maxTokens: s.maxTokens,
      firstRequest: (request += c * perWorker),
      ...(apiKey ? { apiKey } : {}),
    });
    await loadgen.run({ ...plan(key), requestsPerWorker: 1, maxTokens: 8 });
    const micro = guardMicroCost(server, key);
    const runs: { keyed: boolean; tokS: number; cpuUs: number }[] = [];
    for (let i = 0; i < rounds; i++) {
      // Alternate which goes first, so a drift of the machine falls on both alike.
      for (const keyed of i % 2 === 0 ? [false, true] : [true, false]) {
        const before = cpuSample();
        const result = await loadgen.run(plan(keyed ? key : undefined));
        const cpu = cpuDiff(before, cpuSample());
        if (result.errors.length > 0) throw new Error(`bench requests failed: ${result.errors[0]}`);
        const m = levelMetrics(result, true);
        runs.push({
          keyed,
          tokS: m.aggregate_tok_s,
          cpuUs: cpu && m.tokens ? (cpu.mainNs + cpu.otherNs) / 1000 / m.tokens : Number.NaN,
        });
      }
    }
    const med = (keyed: boolean, k: "tokS" | "cpuUs") => median(runs.filter((r) => r.keyed === keyed).map((r) => r[k]));
    const usage = (await (await fetch(`${server.url}/api/usage`)).json()) as {
      rows: { keyId: string; requests: number }[];
    };
    return {
      name: `${file.replace(/\.gguf$/, "")} c=8 stream: limited key vs no key`,
      metrics: {
        no_key_tok_s: round(med(false, "tokS")),
        key_tok_s: round(med(true, "tokS")),
        key_over_no_key: round(med(true, "tokS") / med(false, "tokS"), 3),
        no_key_cpu_us_per_token: round(med(false, "cpuUs")),
        key_cpu_us_per_token: round(med(true, "cpuUs")),
        key_extra_cpu_pct: round((100 * (med(true, "cpuUs") - med(false, "cpuUs"))) / med(false, "cpuUs"), 2),
        rounds,
        guard_cpu_us_per_request: round(micro.guardUs, 2),
        usage_write_cpu_us_per_request: round(micro.usageUs, 2),
        usage_rows_requests: usage.rows.filter((r) => r.keyId !== "micro").reduce((n, r) => n + r.requests, 0),
        load1: load1(),
      },
      notes: `${c} streams x ${perWorker} requests of ${s.maxTokens} tokens per round; medians of ${rounds} interleaved rounds each; CPU = the server process, per generated token`,
    };
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const s = opts.quick ? QUICK : FULL;
  if (process.env.HEARTH_BENCH_KEY === "compare") {
    const loadgen = await LoadGenerator.start();
    try {
      const results: BenchResult[] = [];
      for (const file of MODELS) results.push(await benchKeyCost(file, s, loadgen));
      return results;
    } finally {
      loadgen.close();
    }
  }
  const loadgen = await LoadGenerator.start();
  const results: BenchResult[] = [];
  try {
    for (const file of MODELS) results.push(...(await benchModel(file, s, loadgen)));
  } finally {
    loadgen.close();
  }
  return results;
}

/**
 * Issue 3's benchmark: where the engine's time goes and how it compares with llama.cpp itself.
 *
 * - threads: bare loop, prebuilt binary (and the local build when `npm run build:engine` made one),
 *   1 vs 2 threads, one stream and eight sequences; every configuration in its own process,
 *   interleaved and repeated, medians.
 * - rescue (full mode): settings that might save the prebuilt binary at 2 threads.
 * - profile: one stream and eight, bare and through HTTP, split into native decode, sampling,
 *   detokenizing and the rest (JavaScript, scheduling), with event-loop utilization and delay; the
 *   HTTP-minus-bare gap per decode step bounds what moving the engine off the main thread can gain.
 * - reference: `llama-bench` and `llama-server -np 8` built from the same bundled source
 *   (bench/_reference.ts), against Hearth's HTTP API in the same run.
 *
 * `npm run bench -- engine` (`--quick` for a short run). Never asserted in tests.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { Worker } from "node:worker_threads";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { modelPath } from "../test/helpers/models.js";
import { defaultThreads } from "../server/engine/runtime.js";
import {
  BareEngine,
  aggregateTokensPerSecond,
  streamTokensPerSecond,
  type BareSetup,
  type RoundResult,
} from "./_bare.js";
import type { BareChildInput, BareChildOutput } from "./_bare-child.js";
import { runChild } from "./_child.js";
import { processCpuNs } from "./_cpu.js";
import { createProfiler, type ProfileResult } from "./_profile.js";
import { findReference, llamaBench, startLlamaServer } from "./_reference.js";
import { LoadGenerator, startServer } from "./server.js";
import type { LoadResult } from "./_loadgen.js";
import { load1, median, percentile, round } from "./_stats.js";
import type { BenchOptions, BenchResult } from "./types.js";

/** True when node-llama-cpp has a finished local build (`npm run build:engine`). */
export function hasLocalBuild(): boolean {
  // dist/index.js -> the package folder (its package.json is not an export).
  const dir = path.join(
    path.dirname(path.dirname(fileURLToPath(import.meta.resolve("node-llama-cpp")))),
    "llama",
    "localBuilds",
  );
  if (!fs.existsSync(dir)) return false;
  return fs.readdirSync(dir).some((d) => fs.existsSync(path.join(dir, d, "buildDone.status")));
}

type Binary = "prebuilt" | "local";

interface Variant {
  label: string;
  binary: Binary;
  threads: number;
  /** Tokens per stream instead of the sweep's. */
  tokens?: number;
  setup?: Partial<BareSetup>;
  env?: Record<string, string>;
  /** Wraps the child's command (e.g. `taskset -c 0`). */
  prefix?: string[];
  /** Unmeasured tokens first (see BareChildInput); a tiny model needs about a second to reach its pace. */
  warmupTokens?: number;
}

interface VariantRun {
  single: number[];
  aggregate8: number[];
  loads: number[];
  buildType: string;
}

/** Runs every variant `reps` times, rotating the order each time so drift hits all alike. */
export async function interleaved(
  model: string,
  variants: Variant[],
  reps: number,
  tokens: number,
): Promise<Map<Variant, VariantRun>> {
  const runs = new Map<Variant, VariantRun>(
    variants.map((v) => [v, { single: [], aggregate8: [], loads: [], buildType: "" }]),
  );
  for (let rep = 0; rep < reps; rep++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + rep) % variants.length] as Variant;
      const run = runs.get(v) as VariantRun;
      const input: BareChildInput = {
        setup: { modelPath: model, threads: v.threads, sequences: 8, binary: v.binary, ...v.setup },
        steps: [
          { concurrency: 1, maxTokens: v.tokens ?? tokens, rounds: 2 },
          { concurrency: 8, maxTokens: v.tokens ?? tokens, rounds: 1 },
        ],
        ...(v.warmupTokens ? { warmupTokens: v.warmupTokens } : {}),
      };
      run.loads.push(load1());
      const out = await runChild<BareChildOutput>("_bare-child.ts", input, { env: v.env, prefix: v.prefix });
      run.buildType = out.buildType;
      const [one, eight] = out.steps;
      for (const r of one?.rounds ?? []) run.single.push(streamTokensPerSecond(r.streams[0]!));
      for (const r of eight?.rounds ?? []) run.aggregate8.push(aggregateTokensPerSecond(r));
    }
  }
  return runs;
}

function variantRows(prefix: string, runs: Map<Variant, VariantRun>, baseline?: Variant): BenchResult[] {
  const base = baseline ? runs.get(baseline) : undefined;
  return [...runs.entries()].map(([v, r]) => ({
    name: `${prefix} ${v.label}`,
    metrics: {
      single_tok_s: round(median(r.single)),
      seq8_aggregate_tok_s: round(median(r.aggregate8)),
      ...(base && base !== r
        ? {
            single_vs_baseline: round(median(r.single) / median(base.single), 2),
            seq8_vs_baseline: round(median(r.aggregate8) / median(base.aggregate8), 2),
          }
        : {}),
      runs: r.single.length / 2,
      load1: round(median(r.loads), 2),
    },
    notes: `binary ${r.buildType}, ${v.threads} thread(s)${v.prefix ? `, run under \`${v.prefix.join(" ")}\`` : ""}${v.env ? `, env ${JSON.stringify(v.env)}` : ""}${v.setup ? `, ${JSON.stringify(v.setup)}` : ""}; single = one stream's tok/s after its first token; seq8 = 8 sequences' tokens over the wall time`,
  }));
}

function profileMetrics(p: ProfileResult, tokens: number): Record<string, number> {
  const pct = (ms: number) => round((100 * ms) / p.wallMs, 1);
  return {
    tok_s: round((tokens * 1000) / p.wallMs),
    decode_pct: pct(p.decodeMs),
    sample_pct: pct(p.sampleMs),
    detokenize_pct: pct(p.detokenizeMs),
    other_pct: pct(p.otherMs),
    decode_steps: p.decodeCalls,
    tokens_per_step: round(p.batchedTokens / Math.max(1, p.decodeCalls), 2),
    ms_per_step: round(p.wallMs / Math.max(1, p.decodeCalls), 3),
    decode_ms_per_step: round(p.decodeMs / Math.max(1, p.decodeCalls), 3),
    other_ms_per_step: round(p.otherMs / Math.max(1, p.decodeCalls), 3),
    event_loop_utilization: round(p.eventLoopUtilization, 2),
    loop_delay_p99_ms: round(p.loopDelayP99Ms, 2),
  };
}

/** One stream and eight, bare and through HTTP, in this process, with the profiler on. */
export async function profiles(model: string, tokens: number, loadgen: LoadGenerator): Promise<BenchResult[]> {
  const name = path.basename(model, ".gguf");
  // One decode lane, like the bare loop's one context, so the profiles differ only by the HTTP path.
  const { server, dataDir } = await startServer(model, 8, 1);
  const rows: BenchResult[] = [];
  let bare: BareEngine | null = null;
  try {
    const local = server.context.models.loaded()[0];
    if (!local) throw new Error("no model loaded");
    // Benchmark-only peek at the server's context to wrap its native calls.
    const internals = local as unknown as {
      contexts: Parameters<typeof createProfiler>[0][];
      model: Parameters<typeof createProfiler>[1];
    };
    const serverProfiler = createProfiler(internals.contexts[0]!, internals.model);
    const threads = (await server.context.models.getRuntime()).threads;
    bare = await BareEngine.open({ modelPath: model, threads, sequences: 8, contextSize: local.info.contextSize });
    const bareProfiler = createProfiler(bare.context, bare.model);
    await bare.round(1, 8, 9_000_000);
    const plan = (concurrency: number, firstRequest: number) => ({
      url: server.url,
      model: local.info.id,
      endpoint: "completions" as const,
      stream: true,
      concurrency,
      requestsPerWorker: concurrency === 1 ? 2 : 1,
      maxTokens: tokens,
      firstRequest,
    });
    await loadgen.run({ ...plan(1, 9_000_100), maxTokens: 8 });
    const perStep: Record<string, number> = {};
    for (const c of [1, 8]) {
      const loadAt = load1();
      bareProfiler.start();
      let bareTokens = 0;
      for (let r = 0; r < (c === 1 ? 2 : 1); r++)
        bareTokens += (await bare.round(c, tokens, 9_001_000 + c * 10 + r)).streams.reduce((n, s) => n + s.tokens, 0);
      const b = bareProfiler.stop();
      serverProfiler.start();
      const h: LoadResult = await loadgen.run(plan(c, 9_002_000 + c * 10));
      const hp = serverProfiler.stop();
      const httpTokens = h.requests.reduce((n, r) => n + r.tokens, 0);
      const bm = profileMetrics(b, bareTokens);
      const hm = profileMetrics(hp, httpTokens);
      perStep[`bare${c}`] = bm.other_ms_per_step ?? 0;
      perStep[`http${c}`] = hm.other_ms_per_step ?? 0;
      perStep[`step${c}`] = hm.ms_per_step ?? 1;
      rows.push({
        name: `profile ${name} bare ${c} stream(s)`,
        metrics: { ...bm, load1: loadAt },
        notes: `${threads} thread(s); percentages of wall time; sampling overlaps across sequences`,
      });
      rows.push({
        name: `profile ${name} HTTP ${c} stream(s)`,
        metrics: { ...hm, load1: loadAt },
        notes: `/v1/completions stream, client in another process`,
      });
    }
    rows.push({
      name: `placement ${name}: HTTP work between decode steps`,
      metrics: {
        extra_ms_per_step_1: round((perStep.http1 ?? 0) - (perStep.bare1 ?? 0), 3),
        extra_pct_1: round((100 * ((perStep.http1 ?? 0) - (perStep.bare1 ?? 0))) / (perStep.step1 ?? 1), 1),
        extra_ms_per_step_8: round((perStep.http8 ?? 0) - (perStep.bare8 ?? 0), 3),
        extra_pct_8: round((100 * ((perStep.http8 ?? 0) - (perStep.bare8 ?? 0))) / (perStep.step8 ?? 1), 1),
      },
      notes:
        "time per decode step with neither decode nor sampling running, HTTP minus bare: the most a worker thread or child process for the engine could win back (before its own messaging cost)",
    });
  } finally {
    await bare?.close();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

/**
 * A main thread kept busy with synchronous JSON work in 1 ms slices (`busyMs` of each), standing in
 * for HTTP, SSE and SQLite work of other requests. Returns the function that stops it.
 */
function busyMainThread(busyMs: number): () => void {
  const timer = setInterval(() => {
    const until = performance.now() + busyMs;
    let n = 0;
    while (performance.now() < until) n += JSON.stringify({ id: n, text: "a token of text", usage: null }).length;
  }, 1);
  return () => clearInterval(timer);
}

async function inWorker(
  setup: BareSetup,
  concurrency: number,
  maxTokens: number,
  busyMs: number,
): Promise<RoundResult> {
  // A worker does not inherit tsx's loader on Node 20: register it before importing the entry.
  const entry = new URL("./_bare-worker.ts", import.meta.url).href;
  const boot = `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: { setup, concurrency, maxTokens, rounds: 1 } });
  try {
    await new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    const stop = busyMs > 0 ? busyMainThread(busyMs) : () => {};
    const done = new Promise<{ results: RoundResult[] }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    worker.postMessage("go");
    const { results } = await done;
    stop();
    return results[0] as RoundResult;
  } finally {
    await worker.terminate();
  }
}

/**
 * Where the engine runs: in this process, in a worker thread, or in a child process, each with the
 * main thread idle and kept busy. Eight sequences, bare loop (no per-token messaging: the most a
 * worker or child could win, before its own messaging cost).
 */
export async function placement(model: string, tokens: number, reps: number): Promise<BenchResult[]> {
  const name = path.basename(model, ".gguf");
  const threads = defaultThreads((await import("node:os")).availableParallelism(), false);
  const setup: BareSetup = { modelPath: model, threads, sequences: 8, stepBatcher: {} };
  const local = await BareEngine.open(setup);
  const busyMs = 0.5;
  const samples: Record<string, number[]> = {};
  const add = (k: string, r: RoundResult) => (samples[k] ??= []).push(aggregateTokensPerSecond(r));
  try {
    await local.round(1, 8, 1);
    for (let rep = 0; rep < reps; rep++) {
      add("in-process idle", await local.round(8, tokens, 1000 + rep * 100));
      const stop = busyMainThread(busyMs);
      add("in-process busy", await local.round(8, tokens, 2000 + rep * 100));
      stop();
      add("worker idle", await inWorker(setup, 8, tokens, 0));
      add("worker busy", await inWorker(setup, 8, tokens, busyMs));
      for (const busy of [false, true]) {
        const stopChild = busy ? busyMainThread(busyMs) : () => {};
        const out = await runChild<BareChildOutput>("_bare-child.ts", {
          setup,
          steps: [{ concurrency: 8, maxTokens: tokens, rounds: 1 }],
        } satisfies BareChildInput);
        stopChild();
        add(`child process ${busy ? "busy" : "idle"}`, out.steps[0]!.rounds[0]!);
      }
    }
  } finally {
    await local.close();
  }
  const base = median(samples["in-process idle"] ?? []);
  return Object.entries(samples).map(([k, v]) => ({
    name: `placement ${name}: engine ${k}`,
    metrics: {
      seq8_aggregate_tok_s: round(median(v)),
      vs_in_process_idle: round(median(v) / base, 2),
      runs: v.length,
      load1: load1(),
    },
    notes: `${threads} thread(s), 8 sequences x ${tokens} tokens; "busy" = the main thread doing synchronous JSON work ${busyMs} ms of every ~1 ms`,
  }));
}

/** llama-bench and llama-server -np 8 against Hearth's HTTP API, same model, threads and run. */
export async function reference(
  model: string,
  tokens: number,
  reps: number,
  loadgen: LoadGenerator,
  quick = false,
): Promise<BenchResult[]> {
  const name = path.basename(model, ".gguf");
  if (!findReference()) {
    return [
      {
        name: `reference ${name}`,
        metrics: {},
        notes: "llama-bench/llama-server not built: node --import tsx bench/_reference.ts build",
      },
    ];
  }
  const { server, dataDir } = await startServer(model, 8);
  const local = server.context.models.loaded()[0];
  const runtime = await server.context.models.getRuntime();
  const threads = runtime.threads;
  // llama-server gets Hearth's thread split: -tb is what llama.cpp uses for any decode of more than
  // one token, as Hearth's batch threads are for steps of four or more.
  const threadsBatch = runtime.batchThreads;
  const ref = await startLlamaServer(model, {
    parallel: 8,
    threads,
    threadsBatch,
    ctxPerSlot: local?.info.contextSize ?? 2048,
  }).catch(async (err: unknown) => {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  try {
    // Quick: only Hearth's thread count (2 threads crawl on a busy 2-core box).
    const bench = await llamaBench(model, quick ? [threads] : [1, 2], tokens, quick ? 2 : 3);
    const tgAt = (t: number) => bench.find((r) => r.threads === t)?.tokensPerSecond ?? Number.NaN;
    const samples: Record<string, number[]> = {};
    const add = (k: string, v: number) => (samples[k] ??= []).push(v);
    let n = 20_000_000;
    for (const [label, url, model_] of [
      ["hearth", server.url, local?.info.id ?? name],
      ["llama", ref.url, name],
    ] as const) {
      await loadgen.run({
        url,
        model: model_,
        endpoint: "completions",
        stream: true,
        concurrency: 1,
        requestsPerWorker: 1,
        maxTokens: 8,
        firstRequest: n++,
      });
      void label;
    }
    for (let rep = 0; rep < reps; rep++) {
      for (const [label, url, model_] of [
        ["hearth", server.url, local?.info.id ?? name],
        ["llama", ref.url, name],
      ] as const) {
        const one = await loadgen.run({
          url,
          model: model_,
          endpoint: "completions",
          stream: true,
          concurrency: 1,
          requestsPerWorker: 2,
          maxTokens: tokens,
          firstRequest: (n += 100),
        });
        for (const r of one.requests)
          add(`${label}_single`, r.tokens > 1 ? ((r.tokens - 1) * 1000) / (r.latencyMs - r.ttftMs) : 0);
        const pid = label === "hearth" ? process.pid : ref.pid;
        const cpu0 = processCpuNs(pid);
        const eight = await loadgen.run({
          url,
          model: model_,
          endpoint: "completions",
          stream: true,
          concurrency: 8,
          requestsPerWorker: 2,
          maxTokens: tokens,
          firstRequest: (n += 100),
        });
        const cpu1 = processCpuNs(pid);
        const eightTokens = eight.requests.reduce((s, r) => s + r.tokens, 0);
        add(`${label}_c8`, (eightTokens * 1000) / eight.wallMs);
        if (cpu0 !== null && cpu1 !== null) add(`${label}_c8_cpu`, (cpu1 - cpu0) / 1000 / eightTokens);
        add(
          `${label}_c8_ttft_p50`,
          percentile(
            eight.requests.map((r) => r.ttftMs),
            50,
          ),
        );
        add(
          `${label}_c8_ttft_p95`,
          percentile(
            eight.requests.map((r) => r.ttftMs),
            95,
          ),
        );
        add(
          `${label}_c8_lat_p95_over_p50`,
          percentile(
            eight.requests.map((r) => r.latencyMs),
            95,
          ) /
            percentile(
              eight.requests.map((r) => r.latencyMs),
              50,
            ),
        );
      }
    }
    const m = (k: string) => round(median(samples[k] ?? []), 2);
    return [
      {
        name: `reference ${name}: Hearth HTTP vs llama.cpp`,
        metrics: {
          ...Object.fromEntries(
            [1, 2].filter((t) => Number.isFinite(tgAt(t))).map((t) => [`llama_bench_tg_t${t}`, round(tgAt(t))]),
          ),
          hearth_single_tok_s: m("hearth_single"),
          hearth_single_over_llama_bench: round(m("hearth_single") / tgAt(threads), 3),
          llama_server_single_tok_s: m("llama_single"),
          // What llama.cpp's own HTTP path and sampling cost it: the floor for a tiny model's token.
          llama_server_single_over_llama_bench: round(m("llama_single") / tgAt(threads), 3),
          hearth_c8_tok_s: m("hearth_c8"),
          llama_server_c8_tok_s: m("llama_c8"),
          hearth_c8_over_llama_server: round(m("hearth_c8") / m("llama_c8"), 3),
          hearth_c8_ttft_p50_ms: m("hearth_c8_ttft_p50"),
          llama_server_c8_ttft_p50_ms: m("llama_c8_ttft_p50"),
          hearth_c8_ttft_p95_ms: m("hearth_c8_ttft_p95"),
          llama_server_c8_ttft_p95_ms: m("llama_c8_ttft_p95"),
          hearth_c8_cpu_us_per_token: m("hearth_c8_cpu"),
          llama_server_c8_cpu_us_per_token: m("llama_c8_cpu"),
          hearth_c8_p95_over_p50: m("hearth_c8_lat_p95_over_p50"),
          llama_server_c8_p95_over_p50: m("llama_c8_lat_p95_over_p50"),
          threads,
          threads_batch: threadsBatch,
          hearth_lanes: runtime.lanes,
          load1: load1(),
        },
        notes: `Hearth engine ${runtime.buildType}, ${runtime.lanes} decode lane(s); llama.cpp tools built from the same bundled source (GGML_NATIVE, OpenMP); ${tokens} tokens per request; llama-server -np 8 -t ${threads} -tb ${threadsBatch}; medians of ${reps} interleaved reps; targets: single >= 0.9 x llama-bench, c8 >= 1.0 x llama-server`,
      },
    ];
  } finally {
    await ref.close();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const quick = opts.quick;
  const m86 = await modelPath("bench-86M-q4_k_m.gguf");
  const binaries: Binary[] = hasLocalBuild() ? ["prebuilt", "local"] : ["prebuilt"];
  const results: BenchResult[] = [];
  const tokens = quick ? 48 : 128;

  // Thread policy, per binary. The default (runtime.ts defaultThreads) must be the fastest here.
  // Quick mode still shows the 2-thread collapse, on 8 tokens (it runs at ~2 tok/s on a busy box).
  const slowTokens = (binary: Binary, threads: number) =>
    threads === 1 ? {} : quick ? { tokens: 8 } : binary === "prebuilt" ? { tokens: 16 } : {};
  const variants: Variant[] = binaries.flatMap((binary) =>
    [1, 2].map((threads) => ({ label: `${binary} t${threads}`, binary, threads, ...slowTokens(binary, threads) })),
  );
  const threadModels = quick ? [m86] : [m86, await modelPath("stories260K.gguf")];
  for (const model of threadModels) {
    // Fewer tokens here: the prebuilt binary at 2 threads runs at a few tokens/s on a busy machine.
    results.push(
      ...variantRows(
        `threads ${path.basename(model, ".gguf")}`,
        await interleaved(model, variants, quick ? 1 : 3, quick ? 32 : 64),
      ),
    );
  }
  results.push({
    name: "threads default",
    metrics: {
      cores: (await import("node:os")).availableParallelism(),
      default_threads_cpu: defaultThreads((await import("node:os")).availableParallelism(), false),
    },
    notes: `binaries measured: ${binaries.join(", ")}`,
  });

  if (!quick) {
    // Settings that might rescue the prebuilt binary at 2 threads (it has no OpenMP; see BENCHMARKS.md).
    const base: Variant = { label: "t2 (baseline)", binary: "prebuilt", threads: 2 };
    const rescue: Variant[] = [
      base,
      { label: "t1 (reference)", binary: "prebuilt", threads: 1 },
      { label: "t2 threads as a number", binary: "prebuilt", threads: 2, setup: { flexibleThreads: false } },
      { label: "t2 OMP_WAIT_POLICY=passive", binary: "prebuilt", threads: 2, env: { OMP_WAIT_POLICY: "passive" } },
      { label: "t2 GOMP_SPINCOUNT=0", binary: "prebuilt", threads: 2, env: { GOMP_SPINCOUNT: "0" } },
      { label: "t2 UV_THREADPOOL_SIZE=1", binary: "prebuilt", threads: 2, env: { UV_THREADPOOL_SIZE: "1" } },
      { label: "t2 batchSize 64", binary: "prebuilt", threads: 2, setup: { batchSize: 64 } },
      {
        label: "t2 dispatchSchedule setTimeout 0",
        binary: "prebuilt",
        threads: 2,
        setup: { dispatchSchedule: "timeout0" },
      },
      {
        label: "t2 firstInFirstOut",
        binary: "prebuilt",
        threads: 2,
        setup: { itemPrioritizationStrategy: "firstInFirstOut" },
      },
    ];
    results.push(...variantRows("rescue prebuilt 86M", await interleaved(m86, rescue, 1, 16), base));

    // The cost of a thread hand-off: node-llama-cpp wakes a libuv worker for each decode and each
    // sample and the JavaScript thread again for each result. With both threads on one core (they
    // never run at once in one stream) no wake-up crosses cores; where that is faster, per-token
    // hand-offs, not computation, set a tiny model's speed (BENCHMARKS.md, "Session 6 (2026-12-03):
    // why a tiny model's tokens cost more through HTTP").
    if (process.platform === "linux" && spawnSync("taskset", ["-c", "0", "true"]).status === 0) {
      const free: Variant = { label: "t1 (any core)", binary: "prebuilt", threads: 1, warmupTokens: 2000 };
      const pinned: Variant = { ...free, label: "t1 on one core", prefix: ["taskset", "-c", "0"] };
      results.push(
        ...variantRows(
          "handoff stories260K",
          await interleaved(await modelPath("stories260K.gguf"), [free, pinned], 3, tokens),
          free,
        ),
      );
    }
  }

  const loadgen = await LoadGenerator.start();
  try {
    results.push(...(await profiles(m86, tokens, loadgen)));
    if (!quick) results.push(...(await profiles(await modelPath("stories260K.gguf"), tokens, loadgen)));
    if (!quick) results.push(...(await placement(m86, tokens, 2)));
    results.push(...(await reference(m86, tokens, quick ? 1 : 3, loadgen, quick)));
    // A 0.2 ms token: how much llama.cpp's own server loses through HTTP where fixed per-token costs dominate.
    if (!quick) results.push(...(await reference(await modelPath("stories260K.gguf"), tokens, 3, loadgen)));
  } finally {
    loadgen.close();
  }
  return results;
}

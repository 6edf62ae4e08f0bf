/**
 * Issue 19's done criteria, side by side in one run: Hearth against llama.cpp's own tools built from
 * the same bundled source (bench/_reference.ts), bench-86M, the same threads.
 *
 * 1. Decode: one stream and eight concurrent streams (128 tokens, streaming) through Hearth
 *    (`--parallel 8`) and `llama-server -np 8 -t <threads> -tb <batch threads>`, interleaved, plus
 *    `llama-bench` tg.
 * 2. Prefill: prompts of about 512, 1,920 and 4,096 tokens, each new from its first token,
 *    `max_tokens: 1`, through Hearth (`--parallel 1`, 8k context) and `llama-server -np 1 -c 8192`
 *    (which caps a slot at the model's 2,048-token training context, so not the 4k prompt), against
 *    `llama-bench -p 512,1920,4096` at the batch threads.
 *
 * `npm run bench -- versus` (`--quick`: one round). Never asserted in tests. Skips with a row saying
 * so when the reference has not been built.
 */
import path from "node:path";
import { modelPath } from "../test/helpers/models.js";
import { processCpuNs } from "./_cpu.js";
import { capture, findReference, startLlamaServer } from "./_reference.js";
import { SENTENCE } from "./prefill.js";
import { LoadGenerator, startServer } from "./server.js";
import { load1, median, percentile, round } from "./_stats.js";
import fs from "node:fs";
import type { BenchOptions, BenchResult } from "./types.js";

const TOKENS = 128;
const PROMPT_SIZES = [512, 1920, 4096] as const;
/** llama-server caps a slot at the model's training context (bench-86M: 2,048) and refuses longer prompts. */
const TRAIN_CTX = 2048;
const PREFILL_CTX = 8192;

interface Target {
  label: string;
  url: string;
  model: string;
  pid: number;
}

/** llama-bench rows as {pp512: tok/s, tg128: tok/s}, at `threads`. */
async function llamaBenchRates(model: string, threads: number, args: string[]): Promise<Record<string, number>> {
  const out = await capture(findReference()!.bench, ["-m", model, "-t", String(threads), ...args, "-o", "json"]);
  const rows = JSON.parse(out) as { n_prompt: number; n_gen: number; avg_ts: number }[];
  return Object.fromEntries(rows.map((r) => [r.n_gen > 0 ? `tg${r.n_gen}` : `pp${r.n_prompt}`, r.avg_ts]));
}

/** Text of about `tokens` tokens for this model, counted by llama-server's tokenizer. */
async function promptOf(llamaUrl: string, tokens: number): Promise<string> {
  const count = async (text: string) =>
    (
      (await (
        await fetch(`${llamaUrl}/tokenize`, { method: "POST", body: JSON.stringify({ content: text }) })
      ).json()) as {
        tokens: number[];
      }
    ).tokens.length;
  const per = (await count(SENTENCE.repeat(20))) / 20;
  let text = SENTENCE.repeat(Math.max(1, Math.floor((tokens - 8) / per)));
  while ((await count(text)) < tokens - 8) text += "Lily smiled. ";
  return text;
}

/** One uncached completion of `prompt` with max_tokens 1: wall ms and prompt tokens. */
async function prefillOnce(t: Target, prompt: string): Promise<{ ms: number; promptTokens: number }> {
  const started = performance.now();
  const res = await fetch(`${t.url}/v1/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: t.model, prompt, max_tokens: 1, temperature: 0, cache_prompt: false }),
  });
  const json = (await res.json()) as { usage?: { prompt_tokens: number }; error?: unknown };
  if (!res.ok || !json.usage) throw new Error(`${t.label}: HTTP ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
  return { ms: performance.now() - started, promptTokens: json.usage.prompt_tokens };
}

async function decodeRows(model: string, reps: number, loadgen: LoadGenerator): Promise<BenchResult[]> {
  const name = path.basename(model, ".gguf");
  const main = await startServer(model, 8);
  const runtime = await main.server.context.models.getRuntime();
  const local = main.server.context.models.loaded()[0]!;
  const ref = await startLlamaServer(model, {
    parallel: 8,
    threads: runtime.threads,
    threadsBatch: runtime.batchThreads,
    ctxPerSlot: local.info.contextSize,
  });
  const targets: Target[] = [
    { label: "hearth", url: main.server.url, model: local.info.id, pid: process.pid },
    { label: "llama", url: ref.url, model: name, pid: ref.pid },
  ];
  const samples: Record<string, number[]> = {};
  const add = (k: string, v: number) => (samples[k] ??= []).push(v);
  try {
    const bench = await llamaBenchRates(model, runtime.threads, ["-p", "0", "-n", String(TOKENS), "-r", "3"]);
    let n = 30_000_000;
    for (const t of targets)
      await loadgen.run({
        url: t.url,
        model: t.model,
        endpoint: "completions",
        stream: true,
        concurrency: 8,
        requestsPerWorker: 1,
        maxTokens: 16,
        firstRequest: (n += 100),
      });
    for (let rep = 0; rep < reps; rep++) {
      for (const t of rep % 2 === 0 ? targets : [...targets].reverse()) {
        const one = await loadgen.run({
          url: t.url,
          model: t.model,
          endpoint: "completions",
          stream: true,
          concurrency: 1,
          requestsPerWorker: 3,
          maxTokens: TOKENS,
          firstRequest: (n += 100),
        });
        for (const r of one.requests)
          if (r.tokens > 1) add(`${t.label}_single`, ((r.tokens - 1) * 1000) / (r.latencyMs - r.ttftMs));
        const cpu0 = processCpuNs(t.pid);
        const eight = await loadgen.run({
          url: t.url,
          model: t.model,
          endpoint: "completions",
          stream: true,
          concurrency: 8,
          requestsPerWorker: 2,
          maxTokens: TOKENS,
          firstRequest: (n += 100),
        });
        const cpu1 = processCpuNs(t.pid);
        const tokens = eight.requests.reduce((s, r) => s + r.tokens, 0);
        add(`${t.label}_c8`, (tokens * 1000) / eight.wallMs);
        if (cpu0 !== null && cpu1 !== null) add(`${t.label}_c8_cpu`, (cpu1 - cpu0) / 1000 / tokens);
        add(
          `${t.label}_c8_ttft_p50`,
          percentile(
            eight.requests.map((r) => r.ttftMs),
            50,
          ),
        );
      }
    }
    const m = (k: string) => round(median(samples[k] ?? []), 2);
    const h = targets[0]!.label;
    const metrics: Record<string, number> = {
      llama_bench_tg_tok_s: round(bench[`tg${TOKENS}`] ?? Number.NaN),
      hearth_single_tok_s: m(`${h}_single`),
      llama_server_single_tok_s: m("llama_single"),
      hearth_single_over_llama_server: round(m(`${h}_single`) / m("llama_single"), 3),
      hearth_single_over_llama_bench: round(m(`${h}_single`) / (bench[`tg${TOKENS}`] ?? Number.NaN), 3),
      hearth_c8_tok_s: m(`${h}_c8`),
      llama_server_c8_tok_s: m("llama_c8"),
      hearth_c8_over_llama_server: round(m(`${h}_c8`) / m("llama_c8"), 3),
      hearth_c8_cpu_us_per_token: m(`${h}_c8_cpu`),
      llama_server_c8_cpu_us_per_token: m("llama_c8_cpu"),
      hearth_c8_ttft_p50_ms: m(`${h}_c8_ttft_p50`),
      llama_server_c8_ttft_p50_ms: m("llama_c8_ttft_p50"),
      threads: runtime.threads,
      threads_batch: runtime.batchThreads,
      load1: load1(),
    };
    return [
      {
        name: `versus ${name}: decode, Hearth vs llama.cpp`,
        metrics,
        notes: `Hearth engine ${runtime.buildType}, ${runtime.lanes} lane(s), --parallel 8; llama-server -np 8 -t ${runtime.threads} -tb ${runtime.batchThreads}; ${TOKENS} tokens, streaming; single = decode rate after the first token, medians of ${reps} interleaved rounds x 3 requests; CPU per token is the whole process; targets: c8 >= 1.1 x llama-server, single >= 1.0 x llama-server`,
      },
    ];
  } finally {
    await ref.close();
    await main.server.close();
    fs.rmSync(main.dataDir, { recursive: true, force: true });
  }
}

async function prefillRows(model: string, reps: number): Promise<BenchResult[]> {
  const name = path.basename(model, ".gguf");
  const hearth = await startServer(model, 1, undefined, { ctxSize: PREFILL_CTX });
  const runtime = await hearth.server.context.models.getRuntime();
  const local = hearth.server.context.models.loaded()[0]!;
  const ref = await startLlamaServer(model, {
    parallel: 1,
    threads: runtime.threads,
    threadsBatch: runtime.batchThreads,
    ctxPerSlot: PREFILL_CTX,
  });
  const targets: Target[] = [
    { label: "hearth", url: hearth.server.url, model: local.info.id, pid: process.pid },
    { label: "llama", url: ref.url, model: name, pid: ref.pid },
  ];
  try {
    const bench = await llamaBenchRates(model, runtime.batchThreads, [
      "-p",
      PROMPT_SIZES.join(","),
      "-n",
      "0",
      "-r",
      "2",
    ]);
    const rows: BenchResult[] = [];
    for (const size of PROMPT_SIZES) {
      const text = await promptOf(ref.url, size);
      const samples: Record<string, number[]> = {};
      const tokens: Record<string, number> = {};
      const here = size < TRAIN_CTX ? targets : targets.filter((t) => t.label !== "llama");
      for (let rep = 0; rep <= reps; rep++) {
        for (const t of rep % 2 === 0 ? here : [...here].reverse()) {
          const r = await prefillOnce(t, `${rep} ${t.label} ${text}`);
          if (rep === 0) continue; // warm-up
          (samples[t.label] ??= []).push(r.ms);
          tokens[t.label] = r.promptTokens;
        }
      }
      const ms = (l: string) => (samples[l] ? median(samples[l]) : Number.NaN);
      const rate = (l: string) => ((tokens[l] ?? Number.NaN) * 1000) / ms(l);
      const pp = bench[`pp${size}`] ?? Number.NaN;
      rows.push({
        name: `versus ${name}: prefill ~${size} tokens`,
        metrics: {
          hearth_prompt_tokens: tokens.hearth ?? 0,
          llama_server_prompt_tokens: tokens.llama ?? 0,
          hearth_ms: round(ms("hearth")),
          llama_server_ms: round(ms("llama")),
          hearth_tok_s: round(rate("hearth")),
          llama_server_tok_s: round(rate("llama")),
          llama_bench_pp_tok_s: round(pp),
          hearth_over_llama_bench: round(rate("hearth") / pp, 3),
          hearth_over_llama_server: round(rate("hearth") / rate("llama"), 3),
          batch_threads: runtime.batchThreads,
          load1: load1(),
        },
        notes: `max_tokens 1, each prompt new from its first token (cache_prompt false for llama-server); Hearth --parallel 1 --ctx-size ${PREFILL_CTX}, llama-server -np 1 -c ${PREFILL_CTX} -t ${runtime.threads} -tb ${runtime.batchThreads}; llama-bench -p ${size} -t ${runtime.batchThreads}; medians of ${reps} interleaved rounds; target >= 0.9 x both`,
      });
    }
    return rows;
  } finally {
    await ref.close();
    await hearth.server.close();
    fs.rmSync(hearth.dataDir, { recursive: true, force: true });
  }
}

export async function run({ quick }: BenchOptions): Promise<BenchResult[]> {
  if (!findReference())
    return [
      {
        name: "versus",
        metrics: {},
        notes: "llama-bench/llama-server not built: node --import tsx bench/_reference.ts build",
      },
    ];
  const model = await modelPath("bench-86M-q4_k_m.gguf");
  const loadgen = await LoadGenerator.start();
  try {
    const rows: BenchResult[] = [];
    // Each part on its own, so one failing does not lose the other's numbers.
    for (const [part, go] of [
      ["decode", () => decodeRows(model, quick ? 1 : 4, loadgen)],
      ["prefill", () => prefillRows(model, quick ? 1 : 3)],
    ] as const) {
      try {
        rows.push(...(await go()));
      } catch (err) {
        rows.push({ name: `versus ${part} FAILED`, metrics: {}, notes: (err as Error).stack ?? String(err) });
      }
    }
    return rows;
  } finally {
    loadgen.close();
  }
}

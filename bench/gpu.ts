/**
 * Issue 19 part 4: the GPU path. `npm run bench -- gpu [--quick] [--model <path|file>]`; runs only
 * when named (bench/run.ts, ON_DEMAND). bench/gpu-check.sh is the script for a lent GPU machine.
 *
 * For each backend, CUDA then the CPU, in one run: `hearth serve --gpu <backend>` as a child process
 * (automatic `--parallel`, threads, lanes and batch: the choices under test, docs/ENGINE-NOTES.md
 * §4.4), then
 * 1. /health: on the GPU, every layer offloaded (`gpuLayers` = `totalLayers`, else a FAILED row and
 *    a non-zero exit), the GPU's name and VRAM;
 * 2. the concurrency sweep, streaming, from the load generator in another process (bench/server.ts):
 *    aggregate tokens/s, time to first token p50/p95;
 * 3. time to first token of a long prompt (about 4k tokens, new from its first token each pass).
 * Then GPU over CPU for each level and the long prompt.
 *
 * Without a GPU (node-llama-cpp finds no CUDA), the GPU rows say "not run: no GPU" and the CPU side
 * runs a short version (concurrency 1, 2, 4; a 1k prompt) so the script is exercised everywhere
 * (test/integration/bench-gpu.test.ts runs it with `--quick`). Default model: bench-86M from
 * ../shared/models; on a GPU it is small, so `--model` takes a bigger one.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { getLlamaGpuTypes } from "node-llama-cpp";
import OpenAI from "openai";
import { killHard, spawnHearth, type HearthProcess } from "../test/helpers/cli-process.js";
import { modelPath } from "../test/helpers/models.js";
import { calibrate, SENTENCE } from "./prefill.js";
import { LoadGenerator, levelMetrics } from "./server.js";
import { load1, median, round } from "./_stats.js";
import type { BenchOptions, BenchResult } from "./types.js";

const DEFAULT_MODEL = "bench-86M-q4_k_m.gguf";
export const NO_GPU = "not run: no GPU";

type Backend = "cuda" | "cpu";

interface Settings {
  levels: number[];
  maxTokens: number;
  /** Requests at each level: max(minRequests, perLevel x concurrency). */
  minRequests: number;
  perLevel: number;
  promptTokens: number;
  promptPasses: number;
}

/** A GPU machine: the sweep to 64 on both backends (the CPU side one request per worker, so a big model still finishes). */
const FULL: Record<Backend, Settings> = {
  cuda: {
    levels: [1, 2, 4, 8, 16, 32, 64],
    maxTokens: 128,
    minRequests: 8,
    perLevel: 2,
    promptTokens: 4096,
    promptPasses: 3,
  },
  cpu: {
    levels: [1, 2, 4, 8, 16, 32, 64],
    maxTokens: 128,
    minRequests: 4,
    perLevel: 1,
    promptTokens: 4096,
    promptPasses: 2,
  },
};
/** No GPU: the CPU side only, short enough for a minute or two on a 2-core machine. */
const CPU_ONLY: Settings = {
  levels: [1, 2, 4],
  maxTokens: 128,
  minRequests: 8,
  perLevel: 2,
  promptTokens: 1024,
  promptPasses: 2,
};
/** `--quick`: every step once, tiny. */
const QUICK: Settings = {
  levels: [1, 2],
  maxTokens: 8,
  minRequests: 2,
  perLevel: 1,
  promptTokens: 256,
  promptPasses: 1,
};

interface Health {
  engine: {
    build: string;
    gpu: string | false;
    threads: number;
    lanes: number;
    gpuDevices: string[];
    vram: { totalBytes: number; freeBytes: number } | null;
  } | null;
  models: {
    id: string;
    parallel: number;
    contextSize: number;
    batchSize: number;
    gpuLayers: number;
    totalLayers: number;
  }[];
}

const MiB = 2 ** 20;

/** Time to first token of a long prompt, streamed: the prompt's tokens, and prefill tokens/s up to that token. */
async function longPrompt(
  client: OpenAI,
  model: string,
  sentences: number,
  salt: string,
): Promise<{ ttftMs: number; promptTokens: number }> {
  const started = performance.now();
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: "user", content: `${salt}. ${SENTENCE.repeat(sentences)}` }],
    max_tokens: 4,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let first = 0;
  let promptTokens = 0;
  for await (const chunk of stream) {
    if (!first && chunk.choices[0]?.delta.content) first = performance.now();
    if (chunk.usage) promptTokens = chunk.usage.prompt_tokens;
  }
  return { ttftMs: (first || performance.now()) - started, promptTokens };
}

interface Measured {
  rows: BenchResult[];
  /** aggregate tok/s per level, and the long prompt's median TTFT, for the comparison. */
  tokS: Map<number, number>;
  ttftMs: number;
  device?: string;
}

async function measure(
  backend: Backend,
  file: string,
  s: Settings,
  loadgen: LoadGenerator,
  label: string,
): Promise<Measured> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `hearth-bench-gpu-${backend}-`));
  let server: HearthProcess | null = null;
  const rows: BenchResult[] = [];
  // Each row is also logged as it is measured: a run cut off by a time limit still leaves its figures.
  const emit = (row: BenchResult) => {
    rows.push(row);
    process.stderr.write(`bench gpu: ${JSON.stringify(row)}\n`);
  };
  try {
    server = await spawnHearth(
      [
        ...["--model", file, "--gpu", backend, "--port", "0", "--data-dir", dataDir],
        ...["--ctx-size", String(Math.max(2048, s.promptTokens + 512)), "--record-api", "false"],
        ...["--model-idle-timeout", "0"],
      ],
      { readyTimeoutMs: 300_000 },
    );
    const url = server.url;
    const health = (await (await fetch(`${url}/health`)).json()) as Health;
    const info = health.models[0];
    if (!health.engine || !info) throw new Error("the server loaded no model");
    const engine = health.engine;
    const shape = `${engine.gpu === false ? "cpu" : engine.gpu}, engine ${engine.build}, ${engine.threads} thread(s), ${engine.lanes} lane(s), parallel ${info.parallel}, batch ${info.batchSize}, ctx ${info.contextSize}, ${info.gpuLayers}/${info.totalLayers} layers on the GPU`;

    // 1. The backend and, on a GPU, the offload.
    let device: string | undefined;
    if (backend === "cuda") {
      device = `${engine.gpuDevices.join(", ") || "unknown GPU"}, ${Math.round((engine.vram?.totalBytes ?? 0) / MiB)} MiB VRAM`;
      const offloaded = engine.gpu === "cuda" && info.gpuLayers === info.totalLayers;
      emit({
        name: `${label}: offload${offloaded ? "" : " FAILED"}`,
        metrics: {
          gpu_layers: info.gpuLayers,
          total_layers: info.totalLayers,
          parallel: info.parallel,
          batch_size: info.batchSize,
          vram_total_mib: Math.round((engine.vram?.totalBytes ?? 0) / MiB),
          vram_free_mib_after_load: Math.round((engine.vram?.freeBytes ?? 0) / MiB),
        },
        notes: `${device}; ${shape}${offloaded ? "" : `; expected every layer on CUDA, the engine runs on ${engine.gpu === false ? "the CPU" : engine.gpu}`}`,
      });
    } else {
      emit({
        name: `${label}: engine`,
        metrics: { threads: engine.threads, lanes: engine.lanes, parallel: info.parallel, batch_size: info.batchSize },
        notes: shape,
      });
    }

    // 2. The concurrency sweep, streaming.
    let request = 0;
    const plan = (concurrency: number, requestsPerWorker: number, maxTokens = s.maxTokens) => ({
      url,
      model: info.id,
      endpoint: "completions" as const,
      stream: true,
      concurrency,
      requestsPerWorker,
      maxTokens,
      firstRequest: (request += 1_000),
    });
    await loadgen.run(plan(1, 1, 8)); // warm-up: the first decode allocates buffers, pages weights in
    const tokS = new Map<number, number>();
    for (const c of s.levels) {
      const perWorker = Math.max(s.perLevel, Math.ceil(s.minRequests / c));
      const loadAt = load1();
      const result = await loadgen.run(plan(c, perWorker));
      const metrics = levelMetrics(result, true);
      tokS.set(c, metrics.aggregate_tok_s);
      emit({
        name: `${label} c=${c} stream${result.errors.length > 0 ? " FAILED" : ""}`,
        metrics: { ...metrics, load1: loadAt },
        notes: `${shape}; ${s.maxTokens} tokens a request${result.errors.length > 0 ? `; ${result.errors.length} errors: ${result.errors[0]}` : ""}`,
      });
    }

    // 3. Time to first token of a long prompt.
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 600_000 });
    const sentences = (await calibrate(client, info.id))(s.promptTokens);
    const runs: { ttftMs: number; promptTokens: number }[] = [];
    for (let pass = 0; pass < s.promptPasses; pass++)
      runs.push(await longPrompt(client, info.id, sentences, `${backend} ${pass}`));
    const ttftMs = median(runs.map((r) => r.ttftMs));
    const promptTokens = runs[0]?.promptTokens ?? 0;
    emit({
      name: `${label}: time to first token, ~${s.promptTokens}-token prompt`,
      metrics: {
        prompt_tokens: promptTokens,
        ttft_ms: round(ttftMs),
        prefill_tok_s: round((promptTokens * 1000) / ttftMs),
        load1: load1(),
      },
      notes: `${shape}; chat, streamed, nothing cached; median of ${runs.length}`,
    });
    return { rows, tokS, ttftMs, ...(device ? { device } : {}) };
  } finally {
    if (server) await killHard(server);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The rows a backend would have given, each saying why it did not run. */
function notRun(label: string, s: Settings, why: string): BenchResult[] {
  return [
    { name: `${label}: offload`, metrics: {}, notes: why },
    ...s.levels.map((c) => ({ name: `${label} c=${c} stream`, metrics: {}, notes: why })),
    { name: `${label}: time to first token, ~${s.promptTokens}-token prompt`, metrics: {}, notes: why },
  ];
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const file =
    opts.model && fs.existsSync(opts.model) ? path.resolve(opts.model) : await modelPath(opts.model ?? DEFAULT_MODEL);
  const name = path.basename(file).replace(/\.gguf$/, "");
  const supported = await getLlamaGpuTypes("supported");
  const hasGpu = supported.includes("cuda");
  const settings: Record<Backend, Settings> = opts.quick
    ? { cuda: QUICK, cpu: QUICK }
    : hasGpu
      ? FULL
      : { cuda: FULL.cuda, cpu: CPU_ONLY };
  const results: BenchResult[] = [];
  const loadgen = await LoadGenerator.start();
  const measured = new Map<Backend, Measured>();
  try {
    for (const backend of ["cuda", "cpu"] as const) {
      const label = `${name} ${backend === "cuda" ? "gpu" : "cpu"}`;
      if (backend === "cuda" && !hasGpu) {
        const why = `${NO_GPU} (node-llama-cpp finds no CUDA here: supported backends ${supported.map((t) => t || "cpu").join(", ")})`;
        process.stderr.write(`bench gpu: ${why}; running the CPU side only\n`);
        results.push(...notRun(label, settings.cuda, why));
        continue;
      }
      try {
        const m = await measure(backend, file, settings[backend], loadgen, label);
        measured.set(backend, m);
        results.push(...m.rows);
      } catch (err) {
        results.push({ name: `${label} FAILED`, metrics: {}, notes: (err as Error).stack ?? String(err) });
      }
    }
  } finally {
    loadgen.close();
  }

  // GPU over CPU where both ran.
  const gpu = measured.get("cuda");
  const cpu = measured.get("cpu");
  if (gpu && cpu) {
    const ratios: Record<string, number> = {};
    for (const [c, tps] of gpu.tokS) {
      const base = cpu.tokS.get(c);
      if (base) ratios[`c${c}_tok_s_gpu_over_cpu`] = round(tps / base, 2);
    }
    ratios.long_prompt_ttft_cpu_over_gpu = round(cpu.ttftMs / gpu.ttftMs, 2);
    results.push({ name: `${name}: GPU over CPU`, metrics: ratios, notes: `${gpu.device}; measured in this run` });
  } else {
    results.push({
      name: `${name}: GPU over CPU`,
      metrics: {},
      notes: hasGpu ? "not run: a side failed (see its row)" : NO_GPU,
    });
  }
  return results;
}

/**
 * Model management benchmark: how long the library takes to list the models in ../shared/models
 * (cold: headers read; warm: a rescan served from the cache), how long a /v1 request waits when it
 * has to load its model just in time versus when the model is loaded, and download throughput from
 * a local stand-in for Hugging Face over loopback (so it measures the downloader, hashing and
 * verification included, not the network).
 *
 *   npm run bench -- models            # full
 *   npm run bench -- --quick models    # fewer rounds, stories260K only for JIT
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { createServer } from "../server/app.js";
import { loadConfig } from "../server/config.js";
import { DownloadManager } from "../server/models/downloads.js";
import { ModelLibrary } from "../server/models/library.js";
import type { DownloadSnapshot } from "../server/wire/models.js";
import { HfStandIn } from "../test/helpers/hf-standin.js";
import { modelPath } from "../test/helpers/models.js";
import type { BenchOptions, BenchResult } from "./types.js";

const logger = pino({ level: "silent" });
const FILES = ["stories260K.gguf", "bench-11M-q8_0.gguf", "bench-86M-q4_k_m.gguf"];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function linkedModelsDir(root: string): Promise<string> {
  const dir = path.join(root, "models");
  fs.mkdirSync(dir, { recursive: true });
  for (const f of FILES) fs.symlinkSync(await modelPath(f), path.join(dir, f));
  return dir;
}

async function scan(root: string): Promise<BenchResult> {
  const dir = await linkedModelsDir(root);
  const started = performance.now();
  const library = new ModelLibrary({ modelsDir: dir, logger });
  const models = await library.scan();
  const cold = performance.now() - started;
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await library.scan();
    warm.push(performance.now() - t);
  }
  return {
    name: "library scan (3 models)",
    metrics: { cold_ms: Math.round(cold), warm_rescan_ms: Number(median(warm).toFixed(2)), models: models.length },
    notes: "cold includes loading node-llama-cpp's backend-less bindings once (GgufInsights)",
  };
}

async function jit(root: string, quick: boolean): Promise<BenchResult[]> {
  const dataDir = path.join(root, "jit");
  fs.mkdirSync(dataDir, { recursive: true });
  const dir = path.join(dataDir, "models");
  fs.mkdirSync(dir, { recursive: true });
  for (const f of FILES) fs.symlinkSync(await modelPath(f), path.join(dir, f));
  const config = loadConfig({
    env: {},
    overrides: { port: 0, dataDir, threads: 1, parallel: 1, ctxSize: 512, logLevel: "silent", modelIdleTimeout: 0 },
  });
  const server = createServer(config, { logger });
  const url = await server.start();
  const results: BenchResult[] = [];
  const ask = async (model: string) => {
    const t = performance.now();
    const res = await fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, prompt: "Once", max_tokens: 1 }),
    });
    if (!res.ok) throw new Error(`${model}: HTTP ${res.status} ${await res.text()}`);
    await res.json();
    return performance.now() - t;
  };
  try {
    for (const file of quick ? FILES.slice(0, 1) : FILES) {
      const model = file.replace(/\.gguf$/, "");
      const cold: number[] = [];
      const warm: number[] = [];
      for (let round = 0; round < (quick ? 2 : 4); round++) {
        await fetch(`${url}/api/models/${model}/unload`, { method: "POST" });
        cold.push(await ask(model));
        for (let i = 0; i < 3; i++) warm.push(await ask(model));
      }
      results.push({
        name: `JIT load, 1-token completion: ${model}`,
        metrics: {
          cold_ms: Number(median(cold).toFixed(1)),
          warm_ms: Number(median(warm).toFixed(1)),
          load_overhead_ms: Number((median(cold) - median(warm)).toFixed(1)),
        },
        notes: "parallel 1, ctx 512, threads 1; cold = unloaded before the request",
      });
    }
  } finally {
    await server.close();
  }
  return results;
}

async function download(root: string, quick: boolean): Promise<BenchResult> {
  const data = fs.readFileSync(await modelPath("bench-86M-q4_k_m.gguf"));
  const hf = new HfStandIn().add({ repo: "bench/m", path: "m.gguf", data });
  await hf.start();
  const speeds: number[] = [];
  try {
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      const modelsDir = path.join(root, `dl${i}`, "models");
      const library = new ModelLibrary({ modelsDir, logger });
      const manager = new DownloadManager({ modelsDir, hfEndpoint: hf.url, library, logger });
      const t = performance.now();
      const started = await manager.start({ source: "hf:bench/m/m.gguf" });
      const done = await new Promise<DownloadSnapshot>((resolve) => {
        const check = (s: DownloadSnapshot) => {
          if (s.id === started.id && ["completed", "failed", "paused"].includes(s.state)) resolve(s);
        };
        manager.on("update", check);
        void manager.get(started.id).then(check);
      });
      if (done.state !== "completed") throw new Error(`download ${done.state}: ${done.error}`);
      speeds.push(data.length / 1024 ** 2 / ((performance.now() - t) / 1000));
      await manager.close();
    }
  } finally {
    await hf.close();
  }
  return {
    name: "download over loopback (51 MiB, sha256 + GGUF verified)",
    metrics: { mib_per_s: Number(median(speeds).toFixed(1)) },
    notes: "a local stand-in for Hugging Face; measures the downloader, not the network",
  };
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-models-"));
  try {
    return [await scan(path.join(root, "scan")), ...(await jit(root, opts.quick)), await download(root, opts.quick)];
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

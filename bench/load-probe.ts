/**
 * What the load probe (server/engine/load-probe.ts) adds to a model's first load: the probe itself
 * (a child process that starts Node and the engine, loads the file, creates a context and evaluates
 * a prompt), next to what the server's own load of the same file costs (load + one context), and
 * what a known verdict costs later (realpath + stat + a map lookup). The probe's cost is once per
 * file and engine: its verdict is kept in `<data-dir>/model-checks.json`.
 *
 *   npm run bench -- load-probe
 *   npm run bench -- --quick load-probe     # one round, stories260K only
 */
import { pino } from "pino";
import { LoadProbe } from "../server/engine/load-probe.js";
import { createRuntime } from "../server/engine/runtime.js";
import { modelPath } from "../test/helpers/models.js";
import type { BenchOptions, BenchResult } from "./types.js";

const logger = pino({ level: "silent" });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

export async function run({ quick }: BenchOptions): Promise<BenchResult[]> {
  const files = quick ? ["stories260K.gguf"] : ["stories260K.gguf", "bench-86M-q4_k_m.gguf"];
  const rounds = quick ? 1 : 3;
  const runtime = await createRuntime({ gpu: "cpu", threads: 1, logger });
  const out: BenchResult[] = [];
  try {
    for (const name of files) {
      const file = await modelPath(name);
      const probe: number[] = [];
      const load: number[] = [];
      const cached: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const checker = new LoadProbe({ cacheFile: null, logger });
        let t = performance.now();
        const verdict = await checker.check([file], runtime, { gpuLayers: "auto", contextSize: 2048 });
        if (verdict.kind !== "ok") throw new Error(`${name}: ${verdict.kind}`);
        probe.push(performance.now() - t);
        t = performance.now();
        const model = await runtime.llama.loadModel({ modelPath: file });
        const context = await model.createContext({ contextSize: 2048, sequences: 1, threads: { ideal: 1, min: 1 } });
        load.push(performance.now() - t);
        await context.dispose();
        await model.dispose();
        t = performance.now();
        await checker.check([file], runtime, { gpuLayers: "auto", contextSize: 2048 });
        cached.push(performance.now() - t);
      }
      out.push({
        name: `load probe: ${name}`,
        metrics: {
          probe_ms: Math.round(median(probe)),
          server_load_ms: Math.round(median(load)),
          known_verdict_ms: Number(median(cached).toFixed(2)),
        },
        notes: "probe runs once per file (and engine); server_load is load + one context in the server process",
      });
    }
  } finally {
    await runtime.dispose();
  }
  return out;
}

/** One benchmark's results: `metrics` are numbers (tokens/s, ms, bytes...), named with their unit. */
export interface BenchResult {
  name: string;
  metrics: Record<string, number>;
  notes?: string;
}

export interface BenchOptions {
  /** A short run for CI or a quick check. */
  quick: boolean;
  /** `--model`: a GGUF path or a file name in ../shared/models, for the modules that take one (gpu). */
  model?: string;
}

export type BenchModule = { run(opts: BenchOptions): Promise<BenchResult[]> };

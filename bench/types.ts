/** One benchmark's results: `metrics` are numbers (tokens/s, ms, bytes...), named with their unit. */
export interface BenchResult {
  name: string;
  metrics: Record<string, number>;
  notes?: string;
}

export interface BenchOptions {
  /** A short run for CI or a quick check. */
  quick: boolean;
}

export type BenchModule = { run(opts: BenchOptions): Promise<BenchResult[]> };

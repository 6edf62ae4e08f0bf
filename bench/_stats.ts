/**
 * Small statistics for benchmarks: percentiles, medians, and the load average that must be written
 * next to every number measured on a shared machine.
 */
import os from "node:os";

/** The p-th percentile (0-100) by linear interpolation between closest ranks; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

/** The 1-minute load average, rounded for a table. */
export function load1(): number {
  return round(os.loadavg()[0] ?? 0, 2);
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Median of each metric over several runs of the same measurement (interleaved A/B repeats). */
export function medianMetrics(runs: readonly Record<string, number>[]): Record<string, number> {
  const keys = new Set(runs.flatMap((r) => Object.keys(r)));
  const out: Record<string, number> = {};
  for (const k of keys) {
    const values = runs.map((r) => r[k]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    if (values.length > 0) out[k] = median(values);
  }
  return out;
}

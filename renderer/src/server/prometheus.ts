/**
 * Just enough of the Prometheus text format to chart Hearth's own metrics: samples with labels,
 * comments skipped, label values unescaped. Rates come from the difference of two scrapes.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL))
      labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Sum of every sample of `name` whose labels include `where`. */
export function sum(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** The headline numbers of one scrape. */
export interface Snapshot {
  at: number;
  completionTokens: number;
  promptTokens: number;
  requests: number;
  errors: number;
  queueDepth: number;
  busySequences: number;
  sequences: number;
  generations: number;
  /** Speculative decoding's guessed tokens the models checked, and those they accepted. */
  draftedTokens: number;
  acceptedTokens: number;
  /** Requests per route and status, as counted since the server started. */
  byRoute: Map<string, number>;
}

export function snapshot(samples: readonly Sample[], at: number): Snapshot {
  const byRoute = new Map<string, number>();
  for (const s of samples)
    if (s.name === "hearth_requests_total") byRoute.set(`${s.labels.route ?? "?"} ${s.labels.status ?? "?"}`, s.value);
  return {
    at,
    completionTokens: sum(samples, "hearth_completion_tokens_total"),
    promptTokens: sum(samples, "hearth_prompt_tokens_total"),
    requests: sum(samples, "hearth_requests_total"),
    errors: sum(samples, "hearth_errors_total"),
    queueDepth: sum(samples, "hearth_queue_depth"),
    busySequences: sum(samples, "hearth_busy_sequences"),
    sequences: sum(samples, "hearth_sequences"),
    generations: sum(samples, "hearth_generations_total"),
    draftedTokens: sum(samples, "hearth_speculative_drafted_tokens_total"),
    acceptedTokens: sum(samples, "hearth_speculative_accepted_tokens_total"),
    byRoute,
  };
}

/** Per-second rates between two scrapes (0 across a server restart, when counters go down). */
export function rates(prev: Snapshot, next: Snapshot): { tokensPerSecond: number; requestsPerSecond: number } {
  const dt = (next.at - prev.at) / 1000;
  if (dt <= 0) return { tokensPerSecond: 0, requestsPerSecond: 0 };
  const rate = (a: number, b: number) => (b >= a ? (b - a) / dt : 0);
  return {
    tokensPerSecond: rate(prev.completionTokens, next.completionTokens),
    requestsPerSecond: rate(prev.requests, next.requests),
  };
}

/**
 * Child-process entry for bare-loop measurements: `node --import tsx bench/_bare-child.ts '<json>'`.
 * Each configuration (binary, threads, environment) runs in its own process so one cannot warm or
 * pollute another; the result is one JSON line on stdout.
 */
import { BareEngine, type BareSetup, type RoundResult } from "./_bare.js";
import { createProfiler, type ProfileResult } from "./_profile.js";

export interface BareChildInput {
  setup: BareSetup;
  steps: { concurrency: number; maxTokens: number; rounds: number }[];
  profile?: boolean;
  /** Unmeasured tokens first (page in weights, spin up threads). Defaults to 8. */
  warmupTokens?: number;
}

export interface BareChildOutput {
  buildType: string;
  threads: number;
  systemInfo: string;
  steps: { concurrency: number; maxTokens: number; rounds: RoundResult[]; profile?: ProfileResult }[];
}

const input = JSON.parse(process.argv[2] ?? "{}") as BareChildInput;
const engine = await BareEngine.open(input.setup);
const profiler = input.profile ? createProfiler(engine.context, engine.model) : null;
let request = 1000;
// In rounds of at most 256 tokens, so a long warm-up never outgrows the context.
for (let left = input.warmupTokens ?? 8; left > 0;) {
  const { streams } = await engine.round(1, Math.min(left, 256), request++);
  left -= Math.max(1, streams[0]?.tokens ?? 0);
}
const steps: BareChildOutput["steps"] = [];
for (const step of input.steps) {
  const rounds: RoundResult[] = [];
  profiler?.start();
  for (let r = 0; r < step.rounds; r++) {
    rounds.push(await engine.round(step.concurrency, step.maxTokens, request));
    request += step.concurrency;
  }
  steps.push({ ...step, rounds, ...(profiler ? { profile: profiler.stop() } : {}) });
}
const output: BareChildOutput = {
  buildType: engine.runtime.buildType,
  threads: engine.runtime.threads,
  systemInfo: engine.runtime.llama.systemInfo,
  steps,
};
await engine.close();
process.stdout.write(`${JSON.stringify(output)}\n`);

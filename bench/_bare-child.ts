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
  /** Tokens of an unmeasured round first (page in weights, spin up threads). Defaults to 8. */
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
await engine.round(1, input.warmupTokens ?? 8, request++);
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

/**
 * Issue 19 part 1: speculative decoding. `npm run bench -- speculative` (`--quick`: one round
 * instead of three).
 *
 * Each case generates the same greedy tokens twice per round, once on a plain sequence and once on
 * a sequence with Hearth's AdaptivePredictor (server/engine/speculative.ts), interleaved, on one
 * context of the engine's runtime (one thread, the server's default on two cores). Timed from the
 * first generated token to the last, so the prompt's evaluation stays out: tokens/s of the
 * generation, acceptance (accepted / drafted), and CPU time of the whole process per token, which
 * load on a shared machine moves less than wall time. The tokens are checked equal every round.
 *
 * (a) acceptance zero: random-weight models (bench-86M, bench-11M) with prompt lookup on vs off;
 * (b) acceptance high: a prompt the reply repeats, on stories260K (the story, its own greedy
 *     continuation, the story again) and on the scripted qwen3-answer-forever, whose reply
 *     ("Counting sheep ...", repeated) the prompt holds;
 * (c) a draft model: stories260K drafting for bench-86M (same vocabulary, ~330x smaller; random
 *     weights, so its guesses fail) and for itself (every guess right: the ceiling of what a draft
 *     pays here).
 *
 * Then the same three cases through each server, where a reference build exists (bench/_reference.ts):
 * Hearth (`--prompt-lookup` or `--draft-model`, off per request with `"speculative": false`) against
 * llama-server with the nearest setting (`--spec-type ngram-simple --spec-ngram-simple-size-n 2
 * --spec-ngram-simple-size-m 8`, or
 * `-md <draft> --spec-draft-n-max 8`) and a plain llama-server, streaming, greedy, interleaved.
 */
import {
  LlamaCompletion,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { createRuntime, type EngineRuntime } from "../server/engine/runtime.js";
import {
  AdaptivePredictor,
  draftModelPredictor,
  loadDraft,
  promptLookupPredictor,
  type LoadedDraft,
  type SpeculationCounts,
} from "../server/engine/speculative.js";
import { createLogger } from "../server/logger.js";
import { modelPath } from "../test/helpers/models.js";
import { scriptedModel } from "../test/helpers/scripted-models.js";
import { cpuDiff, cpuSample } from "./_cpu.js";
import { sseData } from "./_loadgen.js";
import { findReference, startLlamaServer } from "./_reference.js";
import { startServer } from "./server.js";
import fs from "node:fs";
import { load1, median, round } from "./_stats.js";
import type { BenchOptions, BenchResult } from "./types.js";

const DRAFT_MAX = 8;
const STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
const SHEEP = "Counting sheep keeps me calm while I wait.";

interface Run {
  tokens: Token[];
  tokensPerSecond: number;
  cpuMsPerToken: number;
  counts: SpeculationCounts | null;
}

/** Greedy `maxTokens` from an emptied sequence, timed from the first token on. */
async function generate(
  sequence: LlamaContextSequence,
  prompt: string,
  maxTokens: number,
  predictor?: AdaptivePredictor,
): Promise<Run> {
  await sequence.clearHistory();
  {
    predictor?.begin(true, sequence.model.tokenize(prompt));
    const tokens: Token[] = [];
    let firstAt = 0;
    let cpuAtFirst: ReturnType<typeof cpuSample> = null;
    await new LlamaCompletion({ contextSequence: sequence }).generateCompletion(prompt, {
      maxTokens,
      temperature: 0,
      onToken: (t) => {
        if (firstAt === 0) {
          firstAt = performance.now();
          cpuAtFirst = cpuSample();
        }
        tokens.push(...t);
      },
    });
    const ms = performance.now() - firstAt;
    const cpu = cpuDiff(cpuAtFirst, cpuSample());
    const n = Math.max(1, tokens.length - 1);
    return {
      tokens,
      tokensPerSecond: (n * 1000) / ms,
      cpuMsPerToken: cpu ? (cpu.mainNs + cpu.otherNs) / 1e6 / n : Number.NaN,
      counts: predictor ? predictor.end() : null,
    };
  }
}

interface Case {
  name: string;
  file: () => Promise<string>;
  /** The prompt, from the loaded model (stories260K's is built from its own greedy reply). */
  prompt: (context: LlamaContext) => Promise<string>;
  maxTokens: number;
  /** The guesser: prompt lookup, or a draft model of this file. */
  draft?: () => Promise<string>;
}

const repeatingStory = async (context: LlamaContext) => {
  const sequence = context.getSequence();
  try {
    const reply = await new LlamaCompletion({ contextSequence: sequence }).generateCompletion(STORY, {
      maxTokens: 120,
      temperature: 0,
    });
    return `${STORY}${reply}\n\n${STORY}`;
  } finally {
    sequence.dispose();
  }
};
const plainStory = async () => `${STORY} ${STORY}`;

const CASES: Case[] = [
  {
    name: "(a) bench-86M, prompt lookup, random weights",
    file: () => modelPath("bench-86M-q4_k_m.gguf"),
    prompt: plainStory,
    maxTokens: 128,
  },
  {
    name: "(a) bench-11M, prompt lookup, random weights",
    file: () => modelPath("bench-11M-q8_0.gguf"),
    prompt: plainStory,
    maxTokens: 256,
  },
  {
    name: "(b) stories260K, prompt lookup, reply repeats the prompt",
    file: () => modelPath("stories260K.gguf"),
    prompt: repeatingStory,
    maxTokens: 200,
  },
  {
    name: "(b) scripted qwen3-answer-forever, prompt lookup, known reply in the prompt",
    file: async () => scriptedModel("qwen3-answer-forever"),
    prompt: async () => `Say this forever: ${SHEEP} ${SHEEP}`,
    maxTokens: 200,
  },
  {
    name: "(c) stories260K drafting for bench-86M",
    file: () => modelPath("bench-86M-q4_k_m.gguf"),
    prompt: plainStory,
    maxTokens: 128,
    draft: () => modelPath("stories260K.gguf"),
  },
  {
    name: "(c) stories260K drafting for itself (ceiling)",
    file: () => modelPath("stories260K.gguf"),
    prompt: plainStory,
    maxTokens: 200,
    draft: () => modelPath("stories260K.gguf"),
  },
];

async function runCase(runtime: EngineRuntime, c: Case, rounds: number): Promise<BenchResult> {
  const model: LlamaModel = await runtime.llama.loadModel({ modelPath: await c.file() });
  const context = await model.createContext({ sequences: 3, contextSize: 2048, threads: { ideal: 1, min: 1 } });
  let draft: LoadedDraft | null = null;
  try {
    if (c.draft)
      draft = await loadDraft(runtime.llama, await c.draft(), model, { contextSize: 2048, sequences: 1, threads: 1 });
    const prompt = await c.prompt(context);
    const predictor = new AdaptivePredictor(
      draft ? draftModelPredictor(draft.context.getSequence(), DRAFT_MAX) : promptLookupPredictor(DRAFT_MAX),
      DRAFT_MAX,
    );
    const plain = context.getSequence();
    const speculating = context.getSequence({ tokenPredictor: predictor });
    // One warm-up each, not counted.
    await generate(plain, prompt, 16);
    await generate(speculating, prompt, 16, predictor);
    const off: Run[] = [];
    const on: Run[] = [];
    let same = true;
    for (let round = 0; round < rounds; round++) {
      // Interleaved, the order alternating, so drift in the machine's load falls on both.
      const pair = round % 2 === 0 ? ["off", "on"] : ["on", "off"];
      for (const mode of pair) {
        const run =
          mode === "on"
            ? await generate(speculating, prompt, c.maxTokens, predictor)
            : await generate(plain, prompt, c.maxTokens);
        (mode === "on" ? on : off).push(run);
      }
      same &&= JSON.stringify(on.at(-1)!.tokens) === JSON.stringify(off.at(-1)!.tokens);
    }
    const drafted = on.reduce((s, r) => s + (r.counts?.drafted ?? 0), 0);
    const accepted = on.reduce((s, r) => s + (r.counts?.accepted ?? 0), 0);
    const tpsOff = median(off.map((r) => r.tokensPerSecond));
    const tpsOn = median(on.map((r) => r.tokensPerSecond));
    return {
      name: c.name,
      metrics: {
        tokens: off[0]!.tokens.length,
        tok_s_off: round(tpsOff),
        tok_s_on: round(tpsOn),
        ratio_on_off: round(tpsOn / tpsOff, 3),
        acceptance: drafted > 0 ? round(accepted / drafted, 3) : 0,
        drafted_per_run: round(drafted / rounds),
        accepted_per_run: round(accepted / rounds),
        cpu_ms_per_token_off: round(median(off.map((r) => r.cpuMsPerToken)), 3),
        cpu_ms_per_token_on: round(median(on.map((r) => r.cpuMsPerToken)), 3),
        same_tokens: same ? 1 : 0,
        rounds,
        load1: load1(),
      },
      notes: `median of ${rounds} interleaved rounds; greedy tokens ${same ? "identical" : "DIFFERENT"} on and off`,
    };
  } finally {
    await context.dispose();
    if (draft) await draft.model.dispose();
    await model.dispose();
  }
}

export async function run({ quick }: BenchOptions): Promise<BenchResult[]> {
  const runtime = await createRuntime({ gpu: "cpu", threads: 1, binary: "auto", logger: createLogger("silent") });
  const rounds = quick ? 1 : 3;
  try {
    const results: BenchResult[] = [];
    for (const c of CASES) results.push(await runCase(runtime, c, rounds));
    if (findReference()) for (const c of SERVER_CASES) results.push(await serverCase(c, rounds));
    else
      results.push({
        name: "llama-server --spec-* / --model-draft",
        metrics: {},
        notes:
          "no reference build (bench/_reference.ts found none): the ratio to llama-server's speculative decoding is not measured",
      });
    return results;
  } finally {
    await runtime.dispose();
  }
}

interface ServerCase {
  name: string;
  model: () => Promise<string>;
  /** Text of the prompt, asked of the Hearth server when it depends on the model's own reply. */
  prompt: (hearthUrl: string, model: string) => Promise<string>;
  maxTokens: number;
  hearth: (draft: string) => { promptLookup?: boolean; draftModel?: string; draftMax?: number };
  llama: (draft: string) => string[];
}

const lookup = {
  hearth: () => ({ promptLookup: true, draftMax: DRAFT_MAX }),
  // Hearth's prompt lookup matches the last two tokens; llama-server's default n-gram is 12.
  llama: () => [
    "--spec-type",
    "ngram-simple",
    "--spec-ngram-simple-size-n",
    "2",
    "--spec-ngram-simple-size-m",
    String(DRAFT_MAX),
  ],
};
const SERVER_CASES: ServerCase[] = [
  {
    name: "server (a) bench-86M, prompt lookup, random weights",
    model: () => modelPath("bench-86M-q4_k_m.gguf"),
    prompt: async () => `${STORY} ${STORY}`,
    maxTokens: 128,
    ...lookup,
  },
  {
    name: "server (b) stories260K, prompt lookup, reply repeats the prompt",
    model: () => modelPath("stories260K.gguf"),
    prompt: async (url, model) => {
      const res = await fetch(`${url}/v1/completions`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ model, prompt: STORY, max_tokens: 120, temperature: 0 }),
      });
      const json = (await res.json()) as { choices: { text: string }[] };
      return `${STORY}${json.choices[0]!.text}\n\n${STORY}`;
    },
    maxTokens: 200,
    ...lookup,
  },
  {
    name: "server (c) stories260K drafting for bench-86M",
    model: () => modelPath("bench-86M-q4_k_m.gguf"),
    prompt: async () => `${STORY} ${STORY}`,
    maxTokens: 128,
    hearth: (draft) => ({ draftModel: draft, draftMax: DRAFT_MAX }),
    llama: (draft) => ["-md", draft, "--spec-draft-n-max", String(DRAFT_MAX)],
  },
];

interface Streamed {
  text: string;
  tokensPerSecond: number;
  drafted: number;
  accepted: number;
}

/** One greedy streamed completion: decode rate from the first text to the end, and what was drafted. */
async function streamOnce(url: string, body: Record<string, unknown>): Promise<Streamed> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...body, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let text = "";
  let first = 0;
  let tokens = 0;
  let drafted = 0;
  let accepted = 0;
  for await (const chunk of sseData<{
    choices?: { text?: string }[];
    usage?: {
      completion_tokens: number;
      completion_tokens_details?: { accepted_prediction_tokens?: number; rejected_prediction_tokens?: number };
    };
    timings?: { predicted_n?: number; draft_n?: number; draft_n_accepted?: number };
  }>(res)) {
    const piece = chunk.choices?.[0]?.text ?? "";
    if (piece && first === 0) first = performance.now();
    text += piece;
    if (chunk.usage?.completion_tokens) tokens = chunk.usage.completion_tokens;
    const details = chunk.usage?.completion_tokens_details;
    if (details) {
      accepted = details.accepted_prediction_tokens ?? accepted;
      drafted = accepted + (details.rejected_prediction_tokens ?? 0) || drafted;
    }
    if (chunk.timings?.draft_n !== undefined) {
      drafted = chunk.timings.draft_n;
      accepted = chunk.timings.draft_n_accepted ?? 0;
    }
    if (!tokens && chunk.timings?.predicted_n) tokens = chunk.timings.predicted_n;
  }
  const ms = performance.now() - (first || started);
  return { text, tokensPerSecond: (Math.max(1, tokens - 1) * 1000) / ms, drafted, accepted };
}

async function serverCase(c: ServerCase, rounds: number): Promise<BenchResult> {
  const file = await c.model();
  const draft = await modelPath("stories260K.gguf");
  const hearth = await startServer(file, 1, undefined, { ctxSize: 2048, ...c.hearth(draft) });
  const runtime = await hearth.server.context.models.getRuntime();
  const id = hearth.server.context.models.loaded()[0]!.info.id;
  const common = { parallel: 1, threads: runtime.threads, threadsBatch: runtime.batchThreads, ctxPerSlot: 2048 };
  const started: Awaited<ReturnType<typeof startLlamaServer>>[] = [];
  try {
    const llamaOn = await startLlamaServer(file, { ...common, extraArgs: c.llama(draft) });
    started.push(llamaOn);
    const llamaOff = await startLlamaServer(file, common);
    started.push(llamaOff);
    const prompt = await c.prompt(hearth.server.url, id);
    const body = { prompt, max_tokens: c.maxTokens };
    const targets = {
      hearth_off: () => streamOnce(hearth.server.url, { ...body, model: id, speculative: false }),
      hearth_on: () => streamOnce(hearth.server.url, { ...body, model: id }),
      llama_off: () => streamOnce(llamaOff.url, { ...body, model: "m" }),
      llama_on: () => streamOnce(llamaOn.url, { ...body, model: "m" }),
    };
    const runs: Record<string, Streamed[]> = {};
    for (const go of Object.values(targets)) await go(); // warm-up
    for (let round = 0; round < rounds; round++) {
      const order = Object.entries(targets);
      for (const [label, go] of round % 2 === 0 ? order : order.reverse()) (runs[label] ??= []).push(await go());
    }
    const tps = (l: string) => median(runs[l]!.map((r) => r.tokensPerSecond));
    const acceptance = (l: string) => {
      const d = runs[l]!.reduce((s, r) => s + r.drafted, 0);
      return d > 0 ? round(runs[l]!.reduce((s, r) => s + r.accepted, 0) / d, 3) : 0;
    };
    return {
      name: c.name,
      metrics: {
        hearth_tok_s_off: round(tps("hearth_off")),
        hearth_tok_s_on: round(tps("hearth_on")),
        hearth_on_off: round(tps("hearth_on") / tps("hearth_off"), 3),
        hearth_acceptance: acceptance("hearth_on"),
        llama_server_tok_s_off: round(tps("llama_off")),
        llama_server_tok_s_on: round(tps("llama_on")),
        llama_server_on_off: round(tps("llama_on") / tps("llama_off"), 3),
        llama_server_acceptance: acceptance("llama_on"),
        hearth_on_over_llama_server_on: round(tps("hearth_on") / tps("llama_on"), 3),
        hearth_same_text_on_off: runs.hearth_on!.every((r, i) => r.text === runs.hearth_off![i]!.text) ? 1 : 0,
        rounds,
        load1: load1(),
      },
      notes: `through each server, streaming, greedy, ${c.maxTokens} tokens, median of ${rounds} interleaved rounds; llama-server ${c.llama("<draft>").join(" ")} vs a plain llama-server; Hearth off = "speculative": false on the same server`,
    };
  } finally {
    for (const s of started) await s.close();
    await hearth.server.close();
    fs.rmSync(hearth.dataDir, { recursive: true, force: true });
  }
}

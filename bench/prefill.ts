/**
 * Issue 19 part 3: long prompts. `npm run bench -- prefill` (`--quick`: one pass instead of three).
 *
 * 1. Prefill through the server: a chat request of about 512, 2k and 4k prompt tokens with
 *    `max_tokens: 1` (`--parallel 1`, a 24k context, as agents send them), each prompt new from its
 *    first tokens. Prefill tokens/s = uncached prompt tokens over the whole request; CPU time of the
 *    process (server and engine threads) per prompt token, which load on a shared machine moves less.
 * 2. The same prompts bare: node-llama-cpp's `evaluateWithoutGeneratingNewTokens` with flash
 *    attention as node-llama-cpp defaults it ("auto": on, on CPU) and off, interleaved, so the cause
 *    shows whatever the server's code does (docs/ENGINE-NOTES.md §2.15).
 * 3. Cancel during prefill: a 4k prompt streamed, its client aborted after 200 ms, then a one-token
 *    request: how long the slot stayed held (§2.16).
 * 4. Prefix reuse across turns: a ~3k-token conversation, then its next turn (the reply and a short
 *    question added): cached tokens and time, against the same turn with nothing cached.
 *
 * stories260K and bench-11M-q8_0, `--gpu cpu`, the server's default threads. Compare ratios measured
 * in one run; absolute numbers depend on the machine and its load (written with the results).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { LlamaContext, LlamaModel, Token } from "node-llama-cpp";
import OpenAI from "openai";
import { pino } from "pino";
import { createServer } from "../server/app.js";
import { loadConfig } from "../server/config.js";
import { createRuntime } from "../server/engine/runtime.js";
import { createLogger } from "../server/logger.js";
import { modelPath } from "../test/helpers/models.js";
import { cpuDiff, cpuSample } from "./_cpu.js";
import { load1, median, round } from "./_stats.js";
import type { BenchOptions, BenchResult } from "./types.js";

const MODELS = ["stories260K.gguf", "bench-11M-q8_0.gguf"] as const;
const SIZES = [512, 2048, 4096] as const;
const CTX_SIZE = 24_576;
export const SENTENCE =
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ";

type Message = OpenAI.Chat.Completions.ChatCompletionMessageParam;

interface Timed {
  promptTokens: number;
  cachedTokens: number;
  ms: number;
  /** CPU of this whole process (every thread) during the request, or NaN without /proc. */
  cpuMs: number;
}

async function timed(
  client: OpenAI,
  model: string,
  messages: Message[],
  maxTokens = 1,
): Promise<Timed & { text: string }> {
  const before = cpuSample();
  const started = performance.now();
  const res = await client.chat.completions.create({ model, messages, max_tokens: maxTokens, temperature: 0 });
  const ms = performance.now() - started;
  const cpu = cpuDiff(before, cpuSample());
  return {
    promptTokens: res.usage?.prompt_tokens ?? 0,
    cachedTokens: res.usage?.prompt_tokens_details?.cached_tokens ?? 0,
    ms,
    cpuMs: cpu ? (cpu.mainNs + cpu.otherNs) / 1e6 : Number.NaN,
    text: res.choices[0]?.message.content ?? "",
  };
}

/** Sentences per prompt size, from two calibration requests (they also warm the server up). */
export async function calibrate(client: OpenAI, model: string): Promise<(tokens: number) => number> {
  const count = async (n: number) =>
    (await timed(client, model, [{ role: "user", content: `c${n} ${SENTENCE.repeat(n)}` }])).promptTokens;
  const [a, b] = [await count(10), await count(30)];
  const perSentence = (b - a) / 20;
  const overhead = a - 10 * perSentence;
  return (tokens) => Math.max(1, Math.round((tokens - overhead) / perSentence));
}

const rate = (t: Timed) => ((t.promptTokens - t.cachedTokens) * 1000) / t.ms;
const cpuPerToken = (t: Timed) => (t.cpuMs * 1000) / Math.max(1, t.promptTokens - t.cachedTokens);

async function serverRows(file: string, passes: number): Promise<BenchResult[]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-prefill-"));
  const config = loadConfig({
    env: {},
    overrides: {
      port: 0,
      dataDir,
      gpu: "cpu",
      logLevel: "silent",
      parallel: 1,
      ctxSize: CTX_SIZE,
      recordApi: false,
      model: await modelPath(file),
    },
  });
  const server = createServer(config, { logger: pino({ level: "silent" }) });
  const url = await server.start();
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 600_000 });
  const model = file.replace(/\.gguf$/, "");
  const label = model;
  let unique = 0;
  const prompt = (sentences: number): Message[] => [
    { role: "user", content: `${unique++}. ${SENTENCE.repeat(sentences)}` },
  ];
  try {
    const sentencesFor = await calibrate(client, model);
    const results: BenchResult[] = [];

    // 1. Prefill at each size.
    const runs = new Map<number, Timed[]>(SIZES.map((s) => [s, []]));
    for (let pass = 0; pass < passes; pass++)
      for (const size of SIZES) runs.get(size)!.push(await timed(client, model, prompt(sentencesFor(size))));
    for (const size of SIZES) {
      const r = runs.get(size)!;
      results.push({
        name: `${label}: server prefill ~${size} tokens`,
        metrics: {
          prompt_tokens: r[0]!.promptTokens,
          cached_tokens: r[0]!.cachedTokens,
          ms: round(median(r.map((t) => t.ms))),
          tokens_per_s: round(median(r.map(rate))),
          cpu_us_per_token: round(median(r.map(cpuPerToken)), 1),
        },
        notes: `chat, max_tokens 1, --parallel 1, ctx ${CTX_SIZE}; median of ${passes}`,
      });
    }
    const longMs = median(runs.get(4096)!.map((t) => t.ms));

    // 3. Cancel during prefill: how long a one-token request waits after the long prompt's client left.
    const abort = new AbortController();
    const long = client.chat.completions
      .create({ model, messages: prompt(sentencesFor(4096)), max_tokens: 1, stream: true }, { signal: abort.signal })
      .then(async (stream) => {
        for await (const _ of stream);
      })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    abort.abort();
    const abortedAt = performance.now();
    await long;
    await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 1,
    });
    const waitedMs = performance.now() - abortedAt;
    results.push({
      name: `${label}: cancel during a 4k prefill, then a one-token request`,
      metrics: { short_request_ms_after_abort: round(waitedMs), long_prefill_ms: round(longMs) },
      notes: "client aborted 200 ms into the long prompt's prefill",
    });

    // 4. Prefix reuse across turns.
    const turn1: Message[] = [
      { role: "system", content: "You are a storyteller." },
      { role: "user", content: `Story ${unique++}: ${SENTENCE.repeat(sentencesFor(3000))}` },
    ];
    const first = await timed(client, model, turn1, 16);
    const turn2: Message[] = [
      ...turn1,
      { role: "assistant", content: first.text },
      { role: "user", content: "What did Lily do next? Tell me about her friends and the park." },
    ];
    const second = await timed(client, model, turn2);
    const coldTurn2: Message[] = [{ role: "system", content: "You are a storyteller!" }, ...turn2.slice(1)];
    const cold = await timed(client, model, coldTurn2);
    results.push({
      name: `${label}: the next turn of a ~3k-token conversation`,
      metrics: {
        turn2_prompt_tokens: second.promptTokens,
        turn2_cached_tokens: second.cachedTokens,
        turn2_ms: round(second.ms),
        cold_ms: round(cold.ms),
        cold_cached_tokens: cold.cachedTokens,
        speedup: round(cold.ms / second.ms, 2),
      },
      notes: "turn 1 with 16 reply tokens; cold = the same turn-2 prompt with its first message changed",
    });
    return results;
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** 2. Bare node-llama-cpp: flash attention as node-llama-cpp defaults it, and off. */
async function bareRows(file: string, passes: number): Promise<BenchResult[]> {
  const runtime = await createRuntime({ gpu: "cpu", threads: 0, logger: createLogger("error") });
  const model: LlamaModel = await runtime.llama.loadModel({ modelPath: await modelPath(file) });
  const label = file.replace(/\.gguf$/, "");
  const variants = [
    ["flash attention auto (node-llama-cpp's default)", undefined],
    ["flash attention off", false],
  ] as const;
  const contexts: LlamaContext[] = [];
  try {
    for (const [, flashAttention] of variants)
      contexts.push(
        await model.createContext({
          sequences: 1,
          contextSize: CTX_SIZE,
          threads: { ideal: runtime.threads, min: 1 },
          ...(flashAttention === undefined ? {} : { flashAttention }),
        }),
      );
    const sentence = model.tokenize(SENTENCE);
    const tokensFor = (size: number, salt: number): Token[] => {
      const out: Token[] = [...model.tokenize(`${salt}.`)];
      while (out.length < size) out.push(...sentence);
      return out.slice(0, size);
    };
    const ms = variants.map(() => new Map<number, number[]>(SIZES.map((s) => [s, []])));
    let salt = 0;
    // A fresh context's first decode pays for its buffers: warm each up first.
    for (const context of contexts) {
      const sequence = context.getSequence();
      await sequence.evaluateWithoutGeneratingNewTokens(tokensFor(64, salt++));
      sequence.dispose();
    }
    for (let pass = 0; pass < passes; pass++)
      for (const size of SIZES)
        for (const [v, context] of contexts.entries()) {
          const sequence = context.getSequence();
          const started = performance.now();
          await sequence.evaluateWithoutGeneratingNewTokens(tokensFor(size, salt++));
          ms[v]!.get(size)!.push(performance.now() - started);
          sequence.dispose();
        }
    return variants.map(([name], v) => ({
      name: `${label}: bare prefill, ${name}`,
      metrics: Object.fromEntries(
        SIZES.map((size) => [`tokens_per_s_${size}`, round((size * 1000) / median(ms[v]!.get(size)!))]),
      ),
      notes: `evaluateWithoutGeneratingNewTokens, ctx ${CTX_SIZE}, ${runtime.threads} thread(s), batch ${contexts[v]!.batchSize}; median of ${passes}`,
    }));
  } finally {
    for (const c of contexts) await c.dispose();
    await model.dispose();
    await runtime.dispose();
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const passes = opts.quick ? 1 : 3;
  const results: BenchResult[] = [];
  for (const file of MODELS) {
    results.push(...(await serverRows(file, passes)));
    results.push(...(await bareRows(file, passes)));
  }
  results.push({ name: "machine load", metrics: { load1: load1() } });
  return results;
}

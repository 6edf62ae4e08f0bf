/**
 * What the issue-7 features cost, against a real server and the test model:
 * - logprobs: the same greedy chat with and without `logprobs` (top 5), which takes the
 *   evaluateWithMetadata decode loop instead of LlamaChat;
 * - n: `n` choices in one request versus the same requests one after another;
 * - the cost of thought (issue 17): tokens/s of the scripted `qwen3-think-forever` (a thought that
 *   never closes: every token is reasoning) against `qwen3-answer-forever` (an answer that never
 *   ends), the same family, tokenizer and size, interleaved request by request.
 * Compare ratios within one run; absolute numbers depend on the machine and its load.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { pino } from "pino";
import { createServer } from "../server/app.js";
import { loadConfig } from "../server/config.js";
import { testModelPath } from "../test/helpers/models.js";
import { scriptedModelsDir } from "../test/helpers/scripted-models.js";
import type { BenchOptions, BenchResult } from "./types.js";

const MODEL = "stories260K";

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-extras-"));
  const scripted = scriptedModelsDir(["qwen3-think-forever", "qwen3-answer-forever"]);
  const n = 4;
  const config = loadConfig({
    env: {},
    overrides: {
      port: 0,
      dataDir,
      threads: 1,
      logLevel: "silent",
      parallel: n,
      recordApi: false,
      model: await testModelPath(),
      modelDirs: [scripted.dir],
    },
  });
  const server = createServer(config, { logger: pino({ level: "silent" }) });
  const url = await server.start();
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
  const rounds = opts.quick ? 3 : 10;
  const maxTokens = opts.quick ? 64 : 200;
  try {
    const rate = async (logprobs: boolean) => {
      const rates: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const started = performance.now();
        const res = await client.chat.completions.create({
          model: MODEL,
          messages: [{ role: "user", content: `Story ${i} about a dog` }],
          max_tokens: maxTokens,
          temperature: 0,
          ...(logprobs ? { logprobs: true, top_logprobs: 5 } : {}),
        });
        rates.push((res.usage?.completion_tokens ?? 0) / ((performance.now() - started) / 1000));
      }
      return median(rates);
    };
    await rate(false);
    const plain = await rate(false);
    const scored = await rate(true);

    const time = async (work: () => Promise<unknown>) => {
      const ms: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const started = performance.now();
        await work();
        ms.push(performance.now() - started);
      }
      return median(ms);
    };
    const body = {
      model: MODEL,
      messages: [{ role: "user" as const, content: "Once upon a time" }],
      max_tokens: maxTokens,
      temperature: 1,
    };
    const together = await time(() => client.chat.completions.create({ ...body, n }));
    const oneByOne = await time(async () => {
      for (let i = 0; i < n; i++) await client.chat.completions.create(body);
    });

    // The cost of thought: the two scripted Qwen3 models, one request each in turn.
    const listed = (await client.models.list()).data.map((m) => m.id);
    const scriptedId = (name: string) => listed.find((id) => id.startsWith(`${name}-`)) ?? name;
    const thinker = scriptedId("qwen3-think-forever");
    const answerer = scriptedId("qwen3-answer-forever");
    const thoughtTokens = opts.quick ? 128 : 400;
    const decode = async (model: string) => {
      const started = performance.now();
      const res = await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: thoughtTokens,
        temperature: 0,
      });
      const usage = res.usage as
        (typeof res.usage & { completion_tokens_details?: { reasoning_tokens?: number } }) | undefined;
      return {
        rate: (usage?.completion_tokens ?? 0) / ((performance.now() - started) / 1000),
        reasoning: usage?.completion_tokens_details?.reasoning_tokens ?? 0,
      };
    };
    await decode(thinker); // loads each model first
    await decode(answerer);
    const thinking: number[] = [];
    const answering: number[] = [];
    let reasoningShare = 0;
    for (let i = 0; i < rounds; i++) {
      const t = await decode(thinker);
      thinking.push(t.rate);
      reasoningShare = t.reasoning / thoughtTokens;
      answering.push((await decode(answerer)).rate);
    }

    return [
      {
        name: "thinking vs answering, scripted Qwen3 (qwen3-think-forever vs qwen3-answer-forever), greedy",
        metrics: {
          thinking_tokens_per_s: Math.round(median(thinking)),
          answering_tokens_per_s: Math.round(median(answering)),
          ratio: Math.round((median(thinking) / median(answering)) * 100) / 100,
          reasoning_share: Math.round(reasoningShare * 100) / 100,
        },
        notes: `median of ${rounds} interleaved pairs of ${thoughtTokens} tokens; reasoning_share = reasoning_tokens / completion tokens of the thinking model`,
      },
      {
        name: "chat logprobs (top 5) vs plain, greedy",
        metrics: {
          plain_tokens_per_s: Math.round(plain),
          logprobs_tokens_per_s: Math.round(scored),
          ratio: Math.round((scored / plain) * 100) / 100,
        },
        notes: `median of ${rounds} requests of ${maxTokens} tokens`,
      },
      {
        name: `n=${n} in one request vs ${n} sequential requests`,
        metrics: {
          n_request_ms: Math.round(together),
          sequential_ms: Math.round(oneByOne),
          speedup: Math.round((oneByOne / together) * 100) / 100,
        },
        notes: `${maxTokens} tokens per choice, parallel ${n}`,
      },
    ];
  } finally {
    await server.close();
    scripted.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

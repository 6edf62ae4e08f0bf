/**
 * The StepBatcher (server/engine/batch-barrier.ts) on a real node-llama-cpp context with the tiny
 * model: concurrent sequences decode in joined steps, each step's threads come from `threadsFor`
 * by its token count, and greedy text is the same as each prompt decoded alone.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { LlamaCompletion, type LlamaModel } from "node-llama-cpp";
import { StepBatcher } from "../../server/engine/batch-barrier.js";
import { createRuntime, type EngineRuntime } from "../../server/engine/runtime.js";
import { createLogger } from "../../server/logger.js";
import { testModelPath } from "../helpers/models.js";

const PROMPTS = ["Once upon a time", "The little dog", "Lily and Tom went", "One day a bird"];
const MAX_TOKENS = 24;
let runtime: EngineRuntime;
let model: LlamaModel;

before(async () => {
  runtime = await createRuntime({
    gpu: "cpu",
    threads: 1,
    batchThreads: 2,
    binary: "prebuilt",
    logger: createLogger("silent"),
  });
  model = await runtime.llama.loadModel({ modelPath: await testModelPath() });
});
after(async () => {
  await model?.dispose();
  await runtime?.dispose();
});

async function greedy(sequences: number, batcher: StepBatcher | null): Promise<string[]> {
  const context = await model.createContext({
    sequences,
    contextSize: 256 * sequences,
    threads: { ideal: 1, min: 1 },
    ...(batcher ? { batching: { itemPrioritizationStrategy: batcher.strategy } } : {}),
  });
  try {
    if (batcher) assert.ok(batcher.install(context), "the batcher found the native methods it wraps");
    const run = (prompt: string, sequence = context.getSequence()) =>
      new LlamaCompletion({ contextSequence: sequence }).generateCompletion(prompt, {
        maxTokens: MAX_TOKENS,
        temperature: 0,
      });
    if (sequences === 1) {
      const out: string[] = [];
      for (const p of PROMPTS) {
        const sequence = context.getSequence();
        out.push(await run(p, sequence));
        sequence.dispose();
      }
      return out;
    }
    return await Promise.all(PROMPTS.map((p) => run(p)));
  } finally {
    await context.dispose();
  }
}

test("joined steps, threads chosen per step, and the same greedy text as decoding alone", async () => {
  const alone = await greedy(1, null);
  const steps: number[] = [];
  const batcher = new StepBatcher({
    threadsFor: (tokens) => {
      steps.push(tokens);
      return tokens >= 4 ? runtime.batchThreads : runtime.threads;
    },
  });
  const together = await greedy(PROMPTS.length, batcher);
  assert.deepEqual(together, alone, "batching changes no token");
  assert.ok(
    alone.every((t) => t.length > 0),
    "text was generated",
  );
  // Four prompts of MAX_TOKENS tokens each: joined, that is about MAX_TOKENS steps, not four times as many.
  assert.ok(
    steps.length <= MAX_TOKENS + 4,
    `${steps.length} decode steps for ${PROMPTS.length} x ${MAX_TOKENS} tokens`,
  );
  assert.ok(
    steps.filter((n) => n >= PROMPTS.length).length >= MAX_TOKENS / 2,
    `most steps carry every sequence: ${steps.join(",")}`,
  );
});

/**
 * prefillInChunks (server/engine/prefill.ts) on a real node-llama-cpp context with the tiny model:
 * the prompt but its last token lands in the sequence a batch at a time, the generator then
 * evaluates only that last token and writes the same text as without it, a shared prefix is kept,
 * and an abort stops it between batches (docs/ENGINE-NOTES.md §2.16).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { LlamaCompletion, type LlamaContext, type LlamaModel, type Token } from "node-llama-cpp";
import { prefillInChunks } from "../../server/engine/prefill.js";
import {
  attentionHeadWidth,
  createRuntime,
  flashAttentionFor,
  type EngineRuntime,
} from "../../server/engine/runtime.js";
import { createLogger } from "../../server/logger.js";
import { testModelPath } from "../helpers/models.js";

const CHUNK = 256;
let runtime: EngineRuntime;
let model: LlamaModel;
let context: LlamaContext;

before(async () => {
  runtime = await createRuntime({ gpu: "cpu", threads: 1, binary: "prebuilt", logger: createLogger("silent") });
  model = await runtime.llama.loadModel({ modelPath: await testModelPath() });
  context = await model.createContext({ sequences: 1, contextSize: 2048, threads: { ideal: 1, min: 1 } });
});
after(async () => {
  await context?.dispose();
  await model?.dispose();
  await runtime?.dispose();
});

/** A prompt of `n` tokens, BOS first, different from the others from its second token on. */
function promptOf(tag: string, n: number): Token[] {
  const story = model.tokenize(" Once upon a time, there was a little girl named Lily. She loved to play outside.");
  const out: Token[] = [model.tokens.bos!, ...model.tokenize(tag)];
  while (out.length < n) out.push(...story);
  return out.slice(0, n);
}

const greedy = (sequence: ReturnType<LlamaContext["getSequence"]>, prompt: Token[]) =>
  new LlamaCompletion({ contextSequence: sequence }).generateCompletion(prompt.slice(1), {
    maxTokens: 16,
    temperature: 0,
  });

test("stories260K's heads are 8 wide: its contexts run without flash attention on the CPU", () => {
  assert.equal(attentionHeadWidth(model.fileInfo.architectureMetadata), 8);
  assert.equal(flashAttentionFor(attentionHeadWidth(model.fileInfo.architectureMetadata), false), false);
});

test("the prompt but its last token is prefilled; the generator evaluates only that token and writes the same text", async () => {
  const prompt = promptOf("Alpha", 1200);
  const sequence = context.getSequence();
  try {
    const plain = await greedy(sequence, prompt);
    await sequence.clearHistory();

    await prefillInChunks(sequence, prompt, CHUNK, new AbortController().signal);
    assert.deepEqual(sequence.contextTokens, prompt.slice(0, -1), "the sequence holds the prompt but its last token");
    const before = sequence.tokenMeter.getState();
    const chunked = await greedy(sequence, prompt);
    assert.equal(sequence.tokenMeter.diff(before).usedInputTokens, 0, "the generator re-evaluated none of the prompt");
    assert.equal(chunked, plain, "the same greedy text");
  } finally {
    sequence.dispose();
  }
});

test("a shared prefix stays, the rest of what the sequence held goes, and a short remainder is left to the generator", async () => {
  const first = promptOf("Beta", 900);
  const second = [...first.slice(0, 600), ...promptOf("Gamma", 700).slice(1)];
  const sequence = context.getSequence();
  try {
    await prefillInChunks(sequence, first, CHUNK, new AbortController().signal);
    const before = sequence.tokenMeter.getState();
    await prefillInChunks(sequence, second, CHUNK, new AbortController().signal);
    assert.deepEqual(sequence.contextTokens, second.slice(0, -1));
    assert.equal(sequence.tokenMeter.diff(before).usedInputTokens, second.length - 1 - 600, "only the new part");

    const third = [...second.slice(0, -1), ...promptOf("Delta", 100).slice(1)];
    const held = sequence.contextTokens;
    await prefillInChunks(sequence, third, CHUNK, new AbortController().signal);
    assert.deepEqual(sequence.contextTokens, held, "99 new tokens fit one batch: nothing was done");
  } finally {
    sequence.dispose();
  }
});

test("an abort stops it between batches, keeping the batches done, and throws the signal's reason", async () => {
  const prompt = promptOf("Epsilon", 1800);
  const sequence = context.getSequence();
  try {
    const controller = new AbortController();
    const reason = new Error("client gone");
    // Fires while the first batch decodes (or before it starts, on a slow machine).
    setTimeout(() => controller.abort(reason), 0);
    await assert.rejects(prefillInChunks(sequence, prompt, CHUNK, controller.signal), (err) => err === reason);
    const held = sequence.contextTokens.length;
    assert.ok(held < prompt.length - 1, `stopped early (${held} of ${prompt.length - 1} tokens)`);
    assert.equal(held % CHUNK, 0, "whole batches only");
    assert.deepEqual(sequence.contextTokens, prompt.slice(0, held));

    await assert.rejects(prefillInChunks(sequence, prompt, CHUNK, controller.signal), (err) => err === reason);
    assert.equal(sequence.contextTokens.length, held, "an aborted signal evaluates nothing");
  } finally {
    sequence.dispose();
  }
});

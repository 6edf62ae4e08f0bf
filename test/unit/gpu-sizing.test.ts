/**
 * How a model's contexts are shaped on a GPU (server/engine/gpu-sizing.ts): parallel sequences from
 * free VRAM and the model's dimensions, and the batch size. No GPU needed: the rules are pure.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  GPU_MAX_PARALLEL,
  computeBytesPerBatchToken,
  gpuSizing,
  kvBytesPerSequence,
  modelDimsOf,
  type ModelDims,
} from "../../server/engine/gpu-sizing.js";
import { defaultLanes } from "../../server/engine/runtime.js";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** Llama 3 8B: 32 layers, 4096 wide, 32 query heads over 8 KV heads of 128, 128,256 tokens. */
const llama3_8b: ModelDims = modelDimsOf(
  { block_count: 32, embedding_length: 4096, attention: { head_count: 32, head_count_kv: 8 } },
  128_256,
)!;
/** bench-86M (../shared/models/README.md): 12 layers, 768 wide, 12 heads, the 512-token vocabulary of stories260K. */
const bench86m: ModelDims = modelDimsOf(
  { block_count: 12, embedding_length: 768, attention: { head_count: 12 } },
  512,
)!;

test("a model's dimensions come from its GGUF metadata, with grouped-query and per-layer head counts", () => {
  assert.deepEqual(llama3_8b, {
    layers: 32,
    kvHeads: 8,
    keyWidth: 128,
    valueWidth: 128,
    embedding: 4096,
    vocabulary: 128_256,
  });
  assert.equal(bench86m.kvHeads, 12, "no head_count_kv: every query head has its own keys and values");
  const perLayer = modelDimsOf(
    { block_count: 4, embedding_length: 256, attention: { head_count: [4, 4, 4, 4], head_count_kv: [0, 2, 2, 1] } },
    100,
  );
  assert.equal(perLayer?.kvHeads, 2, "per-layer counts size for the largest");
  assert.equal(perLayer?.keyWidth, 64);
  const explicit = modelDimsOf(
    { block_count: 2, embedding_length: 512, attention: { head_count: 8, key_length: 192, value_length: 128 } },
    10,
  );
  assert.deepEqual([explicit?.keyWidth, explicit?.valueWidth], [192, 128], "key and value widths the model states win");
  assert.equal(modelDimsOf({ embedding_length: 512, attention: { head_count: 8 } }, 10), undefined, "no layer count");
  assert.equal(modelDimsOf({ block_count: 2, embedding_length: 512 }, 10), undefined, "no heads (not a transformer)");
});

test("a sequence's KV cache is every layer's f16 keys and values over its context", () => {
  // Llama 3 8B: 128 KiB a token, the figure llama.cpp logs for its f16 cache.
  assert.equal(kvBytesPerSequence(llama3_8b, 1), 128 * 1024);
  assert.equal(kvBytesPerSequence(llama3_8b, 4096), 512 * MiB);
  assert.equal(kvBytesPerSequence(bench86m, 2048), 72 * MiB);
});

test("parallel on a GPU: as many sequences as half the usable free VRAM holds, at most the --parallel maximum", () => {
  const kv8b = kvBytesPerSequence(llama3_8b, 4096);
  const compute8b = computeBytesPerBatchToken(llama3_8b);
  const sized = (freeGiB: number, kv = kv8b, compute = compute8b, parallel = 0) =>
    gpuSizing({
      freeVramBytes: freeGiB * GiB,
      kvBytesPerSequence: kv,
      computeBytesPerBatchToken: compute,
      contextSize: 4096,
      parallel,
    });
  // An 80 GB card with the 8B model's 5 GB of weights on it: 64 sequences of 4k (32 GiB of cache).
  assert.equal(sized(74).parallel, GPU_MAX_PARALLEL);
  // A 24 GB card: about 17 GiB free after the weights.
  const consumer = sized(17);
  assert.ok(consumer.parallel >= 8 && consumer.parallel <= 16, `24 GB card: ${consumer.parallel}`);
  assert.ok(
    consumer.parallel * kv8b <= 17 * GiB * 0.5,
    "the cache leaves at least half the free VRAM to other models and buffers",
  );
  // An 8 GB card: under 3 GiB free after the weights.
  assert.equal(sized(2.5).parallel, 1);
  assert.equal(sized(0.3).parallel, 1, "never less than one sequence: llama.cpp has the last word");
  assert.equal(sized(0).parallel, 1);
  // Monotonic in free VRAM.
  let last = 0;
  for (let free = 0; free <= 80; free += 0.5) {
    const p = sized(free).parallel;
    assert.ok(p >= last, `${free} GiB: ${p} after ${last}`);
    last = p;
  }
  // A small model on a big card: the cap, not the memory, decides.
  assert.equal(sized(79, kvBytesPerSequence(bench86m, 2048), computeBytesPerBatchToken(bench86m)).parallel, 64);
  assert.equal(sized(74, kv8b, compute8b, 6).parallel, 6, "a configured --parallel is kept");
  assert.equal(sized(74, 0, compute8b).parallel, GPU_MAX_PARALLEL, "a model without a KV cache");
});

test("batch size on a GPU: 2048 where the compute buffer is cheap, 512 where VRAM is tight, never below parallel", () => {
  const compute8b = computeBytesPerBatchToken(llama3_8b);
  const batch = (freeGiB: number, compute = compute8b, parallel = 4, contextSize = 4096) =>
    gpuSizing({
      freeVramBytes: freeGiB * GiB,
      kvBytesPerSequence: 1,
      computeBytesPerBatchToken: compute,
      contextSize,
      parallel,
    }).batchSize;
  assert.equal(batch(74), 2048, "a big card prefills in 2048-token steps, like llama-server's n_batch");
  assert.equal(batch(2.5), 512, "a tight card keeps node-llama-cpp's default");
  assert.ok([1024, 2048].includes(batch(12)), `a mid-size card: ${batch(12)}`);
  assert.equal(batch(0), 512);
  assert.equal(batch(2.5, compute8b, 600), 600, "one token per sequence fits in a step");
  assert.equal(batch(74, compute8b, 4, 1024), 1024, "no step longer than a sequence's context");
  assert.equal(batch(74, compute8b, 64, 32), 64, "... but still one token per sequence");
  assert.equal(batch(2, computeBytesPerBatchToken(bench86m)), 2048, "a small vocabulary costs little per token");
});

test("decode lanes on a GPU: one context batches best, whatever the cores", () => {
  for (const cores of [2, 8, 16, 64]) assert.equal(defaultLanes(cores, 4, "cuda"), 1);
  assert.equal(defaultLanes(16, 4, "vulkan"), 1);
  assert.ok(defaultLanes(16, 4, false) > 1, "the CPU keeps its lanes");
});

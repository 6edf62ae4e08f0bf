/**
 * When a model's contexts turn flash attention off (server/engine/runtime.ts, flashAttentionFor):
 * only on the CPU, and only for heads whose width llama.cpp's CPU kernel cannot take on its fast
 * path (docs/ENGINE-NOTES.md §2.15).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { attentionHeadWidth, flashAttentionFor } from "../../server/engine/runtime.js";

test("a head's width is value_length when the file gives it, else the embedding over the heads", () => {
  assert.equal(attentionHeadWidth({ embedding_length: 64, attention: { head_count: 8 } }), 8, "stories260K");
  assert.equal(attentionHeadWidth({ embedding_length: 4096, attention: { head_count: 32 } }), 128);
  assert.equal(attentionHeadWidth({ embedding_length: 2048, attention: { head_count: 8, value_length: 256 } }), 256);
  assert.equal(attentionHeadWidth({ embedding_length: 2048, attention: { head_count: [8, 8] } }), undefined);
  assert.equal(attentionHeadWidth({ embedding_length: 2048 }), undefined);
  assert.equal(attentionHeadWidth({ attention: { head_count: 0 } }), undefined);
});

test("flash attention is turned off only on the CPU, for heads that are not a multiple of 16 wide", () => {
  assert.equal(flashAttentionFor(8, false), false, "stories260K's heads of 8 on the CPU");
  assert.equal(flashAttentionFor(40, false), false);
  for (const width of [16, 32, 64, 80, 96, 128, 256])
    assert.equal(flashAttentionFor(width, false), undefined, `heads of ${width}: node-llama-cpp's default`);
  assert.equal(flashAttentionFor(8, "cuda"), undefined, "a GPU's kernels are another matter");
  assert.equal(flashAttentionFor(undefined, false), undefined, "a file that does not say keeps the default");
  assert.equal(flashAttentionFor(21.5, false), undefined);
});

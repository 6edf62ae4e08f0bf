import assert from "node:assert/strict";
import { test } from "node:test";
import { fusedSamplingEnabled, samplerConfigKey } from "../../server/engine/fused-sample.js";

const base = { temperature: 0.8, minP: 0.05, topK: 40, topP: 0.95, seed: 7, repeatPenaltyMaxTokens: 64 };

test("a sampler configuration's key changes with every value that changes the draw", () => {
  const key = samplerConfigKey(base);
  assert.equal(samplerConfigKey({ ...base }), key);
  for (const change of [
    { temperature: 0 },
    { minP: 0.1 },
    { topK: 41 },
    { topP: 0.9 },
    { seed: 8 },
    { xtcProbability: 0.5, xtcThreshold: 0.1 },
    { tokenBiasKeys: Uint32Array.from([2]), tokenBiasValues: Float32Array.from([-Infinity]) },
  ])
    assert.notEqual(samplerConfigKey({ ...base, ...change }), key, JSON.stringify(change));
  const biased = { ...base, tokenBiasKeys: Uint32Array.from([2, 3]), tokenBiasValues: Float32Array.from([-1, 1]) };
  assert.equal(samplerConfigKey({ ...biased }), samplerConfigKey(biased));
  assert.notEqual(
    samplerConfigKey({ ...biased, tokenBiasValues: Float32Array.from([-1, 2]) }),
    samplerConfigKey(biased),
  );
});

test("samplers whose state JavaScript advances per token are never sampled ahead", () => {
  assert.equal(samplerConfigKey({ ...base, grammarEvaluationState: {} }), null);
  assert.equal(samplerConfigKey({ ...base, repeatPenaltyTokens: Uint32Array.from([1, 2]), repeatPenalty: 1.1 }), null);
  assert.equal(samplerConfigKey({ ...base, dryRepeatPenaltyStrength: 0.8 }), null);
});

test("HEARTH_FUSED_SAMPLE=0 turns the fused step off; anything else leaves it to the build", () => {
  assert.equal(fusedSamplingEnabled({ HEARTH_FUSED_SAMPLE: "0" }), false);
  assert.equal(fusedSamplingEnabled({}), true);
});

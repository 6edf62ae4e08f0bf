/**
 * `sampleFrom` (server/engine/logprobs.ts): the logprobs decode reads the whole distribution from a
 * greedy sampler and draws the token itself, as llama.cpp's chain would (top-k, top-p, min-p,
 * temperature, draw), so truncation decides what can be drawn, never what is reported.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Token } from "node-llama-cpp";
import { sampleFrom } from "../../server/engine/logprobs.js";

/** Best first, as node-llama-cpp returns them; the last two are masked (probability 0). */
const DIST = new Map<Token, number>(
  [
    [10, 0.5],
    [11, 0.25],
    [12, 0.15],
    [13, 0.06],
    [14, 0.04],
    [15, 0],
    [16, 0],
  ].map(([t, p]) => [t as Token, p!]),
);
const NONE = { temperature: 1, topK: 0, topP: 1, minP: 0 };

/** Counts of each token over `n` draws with evenly spread random numbers. */
function counts(sampling: typeof NONE, n = 10_000): Map<Token, number> {
  const out = new Map<Token, number>();
  for (let i = 0; i < n; i++) {
    const token = sampleFrom(DIST, sampling, () => (i + 0.5) / n);
    out.set(token, (out.get(token) ?? 0) + 1);
  }
  return out;
}

test("without truncation at temperature 1, tokens come out in proportion to their probability", () => {
  const c = counts(NONE);
  for (const [token, p] of DIST) assert.ok(Math.abs((c.get(token) ?? 0) / 10_000 - p) < 0.002, `token ${token}`);
});

test("top-k, top-p and min-p decide what can be drawn", () => {
  assert.deepEqual([...counts({ ...NONE, topK: 2 }).keys()].sort(), [10, 11]);
  // Cumulative 0.5, 0.75, 0.9: top_p 0.8 keeps three.
  assert.deepEqual([...counts({ ...NONE, topP: 0.8 }).keys()].sort(), [10, 11, 12]);
  // min_p 0.2 of the best (0.5): 0.1 and above.
  assert.deepEqual([...counts({ ...NONE, minP: 0.2 }).keys()].sort(), [10, 11, 12]);
  // In llama.cpp's order: top-k 4, then top-p over those four (0.5/0.96, 0.75/0.96 ...), then min-p.
  assert.deepEqual([...counts({ ...NONE, topK: 4, topP: 0.7, minP: 0.1 }).keys()].sort(), [10, 11]);
});

test("a low temperature sharpens towards the best token, a high one flattens; zeros are never drawn", () => {
  assert.ok((counts({ ...NONE, temperature: 0.1 }).get(10 as Token) ?? 0) > 9_900);
  const flat = counts({ ...NONE, temperature: 5 });
  assert.ok((flat.get(14 as Token) ?? 0) > 1_000, "0.04 at T=5 is (0.08)^0.2 of the best, about 0.6");
  assert.equal(flat.get(15 as Token), undefined);
  assert.equal(flat.get(16 as Token), undefined);
});

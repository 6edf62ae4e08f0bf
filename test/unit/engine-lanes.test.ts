/**
 * How a model's sequences are spread over decode lanes, how many lanes a machine gets by default,
 * and which free slot a new prompt takes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { laneBatcher, slotScore } from "../../server/engine/local-model.js";
import { defaultLanes, laneShares } from "../../server/engine/runtime.js";

test("sequences are spread evenly over the lanes, larger shares first", () => {
  assert.deepEqual(laneShares(8, 2), [4, 4]);
  assert.deepEqual(laneShares(5, 2), [3, 2]);
  assert.deepEqual(laneShares(7, 3), [3, 2, 2]);
  assert.deepEqual(laneShares(1, 1), [1]);
});

test("no lane is left without a sequence", () => {
  assert.deepEqual(laneShares(1, 2), [1], "one sequence needs one context");
  assert.deepEqual(laneShares(3, 4), [1, 1, 1]);
  for (let total = 1; total <= 16; total++) {
    for (let lanes = 1; lanes <= 6; lanes++) {
      const shares = laneShares(total, lanes);
      assert.equal(
        shares.reduce((a, b) => a + b, 0),
        total,
        `${total} over ${lanes}: ${shares.join(",")}`,
      );
      assert.ok(
        shares.every((s) => s >= 1),
        `${total} over ${lanes}: ${shares.join(",")}`,
      );
      assert.ok(Math.max(...shares) - Math.min(...shares) <= 1, `${total} over ${lanes} is even: ${shares.join(",")}`);
    }
  }
});

test("lanes by default: one per `threads` cores on CPU, at most 4; one with a GPU", () => {
  assert.equal(defaultLanes(2, 1, false), 2, "these 2-core machines: two 1-thread lanes");
  assert.equal(defaultLanes(1, 1, false), 1);
  assert.equal(defaultLanes(8, 7, false), 1, "cores - 1 threads leave room for one lane");
  assert.equal(defaultLanes(8, 2, false), 4);
  assert.equal(defaultLanes(64, 1, false), 4, "capped: more contexts only split the batch further");
  assert.equal(defaultLanes(16, 4, "cuda"), 1, "a GPU batches best in one context");
  assert.equal(defaultLanes(4, 0, false), 4, "a zero thread count does not divide by zero");
});

test("a slot is chosen for the work it saves, if that outweighs what it evicts, and for how idle its lane is", () => {
  const empty = slotScore(0, 0, 0);
  assert.ok(slotScore(300, 310, 0) > empty, "a conversation's next turn keeps its slot");
  assert.ok(slotScore(300, 310, 1) > empty, "... even when its lane is busy");
  assert.equal(
    slotScore(12, 300, 0),
    empty,
    "a shared template header is not worth evicting a conversation for, so it ties with an empty slot, and SlotPool gives ties to the least recently used",
  );
  assert.ok(slotScore(100, 250, 0) > empty, "a prefix worth half of what it evicts is reused");
  assert.ok(slotScore(0, 0, 1) < empty, "an idle lane beats a busy one");
  assert.ok(slotScore(1000, 1200, 0) > empty, "a long shared system prompt is reused");
});

test("a lane of one sequence still gets a batcher when its prompts need the batch threads", () => {
  const split = (n: number) => (n >= 4 ? 2 : 1);
  assert.ok(laneBatcher(1, split), "one sequence, split threads: prompts must get the batch threads");
  assert.ok(laneBatcher(4, null), "several sequences always join their steps");
  assert.ok(laneBatcher(4, split));
  assert.equal(laneBatcher(1, null), null, "one sequence on fixed threads: nothing to do");
});

/** The Server screen's usage panel: rows of many days per key and model, and tokens per day for the bars. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { UsageRow } from "../../server/wire/access.js";
import { byKeyAndModel, tokensPerDay } from "../../renderer/src/server/UsagePanel.js";

const row = (day: string, keyId: string, model: string, prompt: number, completion: number): UsageRow => ({
  day,
  keyId,
  keyName: keyId.toUpperCase(),
  model,
  requests: 1,
  promptTokens: prompt,
  completionTokens: completion,
  reasoningTokens: 0,
  errors: 0,
});

test("rows of many days add up per key and model, the most tokens first", () => {
  const sums = byKeyAndModel([
    row("2026-12-01", "a", "m", 10, 5),
    row("2026-12-02", "a", "m", 1, 1),
    row("2026-12-02", "b", "m", 100, 0),
    row("2026-12-02", "a", "", 0, 0),
  ]);
  assert.deepEqual(
    sums.map((r) => [r.keyName, r.model, r.requests, r.promptTokens + r.completionTokens]),
    [
      ["B", "m", 1, 100],
      ["A", "m", 2, 17],
      ["A", "", 1, 0],
    ],
  );
});

test("tokens per day cover every day up to the last, empty ones as 0", () => {
  assert.deepEqual(
    tokensPerDay([row("2026-12-02", "a", "m", 3, 4), row("2025-01-01", "a", "m", 9, 9)], "2026-12-03", 3),
    [
      { day: "2026-12-01", tokens: 0 },
      { day: "2026-12-02", tokens: 7 },
      { day: "2026-12-03", tokens: 0 },
    ],
  );
});

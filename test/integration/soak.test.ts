/**
 * The soak's short mode (issue #10: "a shorter mode for CI"): `hearth serve` as its own process,
 * twice as many streaming clients as sequences and a queue that holds only some of the rest, for
 * 40 s. Every request must end normally or with 429 + Retry-After; no 5xx, no error event, no
 * dropped connection. The 30-minute run (`npm run soak`) also judges memory growth and reports
 * p95 time to first token over time; those are benchmark numbers, not asserted here.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { soak } from "../../bench/soak.js";
import { testModelPath } from "../helpers/models.js";

test("40 s of twice as many streams as sequences: no server errors, every refusal a 429 with Retry-After", async (t) => {
  const report = await soak({
    minutes: 40 / 60,
    parallel: 2,
    maxQueue: 1,
    model: await testModelPath(),
    slices: 4,
    historyMiB: 2,
  });
  t.diagnostic(JSON.stringify(report));
  assert.deepEqual(report.errorSamples, [], "no request ended in a server error");
  assert.equal(report.serverErrors, 0, "no server errors (including /health/live failures)");
  assert.equal(report.rejected429WithoutRetryAfter, 0, "every 429 carries Retry-After");
  assert.ok(report.completed >= 8, `requests completed (${report.completed})`);
  // Four clients, two sequences, one queue place: the fourth finds the queue full at some point.
  assert.ok(report.rejected429 > 0, `the full queue answered 429 (${report.rejected429} times)`);
  assert.ok(report.tokens > 0, "tokens were streamed");
});

/** The sliding-window limiter (server/access/limiter.ts) on a clock the test moves. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatReset, RateLimiter, RateLimitError, WINDOW_MS } from "../../server/access/limiter.js";

test("formatReset speaks OpenAI's durations", () => {
  assert.equal(formatReset(0), "0ms");
  assert.equal(formatReset(20.4), "20ms");
  assert.equal(formatReset(1500), "1.5s");
  assert.equal(formatReset(59_999.99999), "1m0s");
  assert.equal(formatReset(360_000), "6m0s");
  assert.equal(formatReset(61_250), "1m1.25s");
});

test("requests slide out of the window one by one", () => {
  const limiter = new RateLimiter();
  const limits = { rpm: 2, tpm: 0 };
  assert.equal(limiter.admit("k", limits, 0)["X-RateLimit-Remaining-Requests"], "1");
  assert.equal(limiter.admit("k", limits, 10_000)["X-RateLimit-Remaining-Requests"], "0");
  assert.throws(
    () => limiter.admit("k", limits, 30_000),
    (err: unknown) => err instanceof RateLimitError && err.headers["Retry-After"] === "30",
  );
  // The first request leaves the window at 60 s: one slot again, and the refused one did not count.
  const h = limiter.admit("k", limits, WINDOW_MS + 1);
  assert.equal(h["X-RateLimit-Remaining-Requests"], "0");
  assert.equal(h["X-RateLimit-Reset-Requests"], "1m0s");
  assert.equal(limiter.admit("other", limits, WINDOW_MS + 1)["X-RateLimit-Remaining-Requests"], "1");
});

test("tokens count once spent, and the wait is until enough of them left the window", () => {
  const limiter = new RateLimiter();
  const limits = { rpm: 0, tpm: 100 };
  assert.equal(limiter.admit("k", limits, 0)["X-RateLimit-Remaining-Tokens"], "100");
  limiter.spend("k", 60, 1_000);
  limiter.spend("k", 50, 2_000);
  assert.throws(
    () => limiter.admit("k", limits, 3_000),
    (err: unknown) =>
      err instanceof RateLimitError &&
      err.headers["Retry-After"] === "58" &&
      err.headers["X-RateLimit-Remaining-Tokens"] === "0" &&
      err.headers["X-RateLimit-Reset-Tokens"] === "59s",
  );
  assert.equal(limiter.admit("k", limits, 61_001)["X-RateLimit-Remaining-Tokens"], "50");
});

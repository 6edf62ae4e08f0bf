/**
 * Per-key rate limits (issue 20): requests per minute and tokens (prompt + completion) per minute,
 * each a sliding window of the last 60 s kept in memory. A request is admitted while fewer than
 * `rpm` requests and fewer than `tpm` tokens fall in the window; the tokens a request used are
 * known only when it ends, so they count from then (a long request may overshoot by itself, and
 * the next one waits for the window to free up). Headers use OpenAI's names and duration format
 * (`X-RateLimit-Reset-Requests: 6m0s`, "the time until the limit resets to its initial state").
 */
import { HearthError } from "../errors.js";

export const WINDOW_MS = 60_000;

/** Amounts with the time they were spent, the oldest first; only the last WINDOW_MS count. */
class SlidingWindow {
  private times: number[] = [];
  private amounts: number[] = [];
  private head = 0;
  private total = 0;

  /** What was spent in the window ending at `now`. */
  used(now: number): number {
    const from = now - WINDOW_MS;
    while (this.head < this.times.length && this.times[this.head]! <= from) {
      this.total -= this.amounts[this.head]!;
      this.head++;
    }
    // Compact now and then, so the arrays do not grow with every request ever made.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.amounts = this.amounts.slice(this.head);
      this.head = 0;
    }
    return this.total;
  }

  add(now: number, amount: number): void {
    if (amount <= 0) return;
    this.times.push(now);
    this.amounts.push(amount);
    this.total += amount;
  }

  /** Milliseconds until nothing in the window counts any more (call `used` first). */
  resetMs(now: number): number {
    const newest = this.times[this.times.length - 1];
    return newest === undefined || this.head >= this.times.length ? 0 : Math.max(0, newest + WINDOW_MS - now);
  }

  /** Milliseconds until less than `limit` is spent (call `used` first). */
  freeMs(now: number, limit: number): number {
    let total = this.total;
    if (total < limit) return 0;
    for (let i = this.head; i < this.times.length; i++) {
      total -= this.amounts[i]!;
      if (total < limit) return Math.max(0, this.times[i]! + WINDOW_MS - now);
    }
    return 0;
  }
}

/** What a limited principal is allowed; 0 means no limit of that kind. */
export interface Limits {
  rpm: number;
  tpm: number;
}

/** OpenAI's duration format: `20ms`, `1.5s`, `6m0s`. */
export function formatReset(ms: number): string {
  // Whole milliseconds: performance.now() sums are not exact (60000 came out as 60000.0000001).
  const whole = Math.round(ms);
  if (whole < 1000) return `${whole}ms`;
  const seconds = whole / 1000;
  const minutes = Math.floor(seconds / 60);
  const rest = Number((seconds - minutes * 60).toFixed(3));
  return minutes > 0 ? `${minutes}m${rest}s` : `${rest}s`;
}

export class RateLimitError extends HearthError {
  constructor(what: "requests" | "tokens", limit: number, retryAfterSeconds: number, headers: Record<string, string>) {
    super(
      429,
      "requests",
      `Rate limit reached for this key: ${limit} ${what} per minute. Try again in ${retryAfterSeconds} s.`,
      { code: "rate_limit_exceeded", headers: { ...headers, "Retry-After": String(retryAfterSeconds) } },
    );
  }
}

interface KeyWindows {
  requests: SlidingWindow;
  tokens: SlidingWindow;
}

export class RateLimiter {
  private windows = new Map<string, KeyWindows>();

  private of(id: string): KeyWindows {
    let w = this.windows.get(id);
    if (!w) {
      w = { requests: new SlidingWindow(), tokens: new SlidingWindow() };
      this.windows.set(id, w);
    }
    return w;
  }

  /**
   * Counts one request of `id`, or throws RateLimitError (429 with Retry-After) when the window is
   * full. Returns the X-RateLimit-* headers either way (on the error, in its `headers`).
   */
  admit(id: string, limits: Limits, now = performance.now()): Record<string, string> {
    const w = this.of(id);
    const headers: Record<string, string> = {};
    const requestsUsed = w.requests.used(now);
    const tokensUsed = w.tokens.used(now);
    const requestsFull = limits.rpm > 0 && requestsUsed >= limits.rpm;
    const tokensFull = limits.tpm > 0 && tokensUsed >= limits.tpm;
    if (!requestsFull && !tokensFull && limits.rpm > 0) w.requests.add(now, 1);
    if (limits.rpm > 0) {
      const used = requestsFull ? requestsUsed : requestsUsed + 1;
      headers["X-RateLimit-Limit-Requests"] = String(limits.rpm);
      headers["X-RateLimit-Remaining-Requests"] = String(Math.max(0, limits.rpm - used));
      headers["X-RateLimit-Reset-Requests"] = formatReset(w.requests.resetMs(now));
    }
    if (limits.tpm > 0) {
      headers["X-RateLimit-Limit-Tokens"] = String(limits.tpm);
      headers["X-RateLimit-Remaining-Tokens"] = String(Math.max(0, limits.tpm - tokensUsed));
      headers["X-RateLimit-Reset-Tokens"] = formatReset(w.tokens.resetMs(now));
    }
    if (requestsFull || tokensFull) {
      const waitMs = Math.max(
        requestsFull ? w.requests.freeMs(now, limits.rpm) : 0,
        tokensFull ? w.tokens.freeMs(now, limits.tpm) : 0,
      );
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      throw requestsFull
        ? new RateLimitError("requests", limits.rpm, retryAfter, headers)
        : new RateLimitError("tokens", limits.tpm, retryAfter, headers);
    }
    return headers;
  }

  /** Counts the tokens a request of `id` used, once it ended. */
  spend(id: string, tokens: number, now = performance.now()): void {
    this.of(id).tokens.add(now, tokens);
  }
}

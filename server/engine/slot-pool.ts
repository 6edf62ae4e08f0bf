/**
 * A fixed pool of slots (context sequences) with a bounded FIFO queue in front, like
 * llama-server's slots: node-llama-cpp throws "No sequences left" rather than waiting
 * (docs/ENGINE-NOTES.md §0.3), so admission is ours. Waiters are served strictly in arrival order;
 * among free slots the caller's score picks (local-model.ts, slotScore: a conversation's next turn
 * lands where its KV cache already is), ties going to the slot first in the free list: never used,
 * then released longest ago.
 */
import { QueueFullError } from "../errors.js";

export interface PoolStats {
  size: number;
  busy: number;
  queued: number;
}

interface Waiter<S> {
  score: (slot: S) => number;
  resolve: (slot: S) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

export class SlotPool<S> {
  private readonly free: S[];
  private readonly waiters: Waiter<S>[] = [];
  private closedError: Error | null = null;

  constructor(
    readonly slots: readonly S[],
    private readonly maxQueue: number,
    private readonly onChange: (stats: PoolStats) => void = () => {},
  ) {
    this.free = [...slots];
  }

  get stats(): PoolStats {
    return { size: this.slots.length, busy: this.slots.length - this.free.length, queued: this.waiters.length };
  }

  /**
   * Resolves with a slot. `score` ranks free slots (higher is better). Rejects with
   * QueueFullError when `maxQueue` requests already wait, or with the signal's reason.
   */
  acquire(score: (slot: S) => number, signal: AbortSignal): Promise<S> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.free.length > 0 && this.waiters.length === 0) {
      const slot = this.takeBest(score);
      this.onChange(this.stats);
      return Promise.resolve(slot);
    }
    if (this.waiters.length >= this.maxQueue) {
      return Promise.reject(
        new QueueFullError(Math.max(1, Math.ceil(this.waiters.length / Math.max(1, this.slots.length)))),
      );
    }
    return new Promise<S>((resolve, reject) => {
      const waiter: Waiter<S> = {
        score,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          this.onChange(this.stats);
          reject(signal.reason);
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      this.waiters.push(waiter);
      this.onChange(this.stats);
    });
  }

  release(slot: S): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.signal.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(slot);
    } else {
      this.free.push(slot);
    }
    this.onChange(this.stats);
  }

  /** Rejects every waiter and all later acquisitions with `err`. */
  close(err: Error): void {
    this.closedError = err;
    for (const w of this.waiters.splice(0)) {
      w.signal.removeEventListener("abort", w.onAbort);
      w.reject(err);
    }
    this.onChange(this.stats);
  }

  private takeBest(score: (slot: S) => number): S {
    let best = 0;
    let bestScore = -Infinity;
    for (let i = 0; i < this.free.length; i++) {
      const s = score(this.free[i] as S);
      if (s > bestScore) {
        best = i;
        bestScore = s;
      }
    }
    return this.free.splice(best, 1)[0] as S;
  }
}

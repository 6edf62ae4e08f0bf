/**
 * Turns callbacks into an AsyncIterable: producers `push`, then `end` or `fail`; one consumer
 * iterates. Leaving the `for await` early calls `onReturn`, which is how a consumer that stops
 * reading cancels the producer (STYLE.md: callbacks become iterables in one helper).
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private failWaiting: ((err: unknown) => void) | null = null;
  private done = false;
  private error: unknown = undefined;
  private hasError = false;

  constructor(private readonly onReturn?: () => void) {}

  push(item: T): void {
    if (this.done) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      this.failWaiting = null;
      resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      this.failWaiting = null;
      resolve({ value: undefined, done: true });
    }
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.hasError = true;
    this.error = err;
    if (this.failWaiting) {
      const reject = this.failWaiting;
      this.waiting = null;
      this.failWaiting = null;
      reject(err);
    }
  }

  /** Items queued and not yet taken; lets a consumer write several at once. */
  get pending(): number {
    return this.items.length;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.hasError) {
          this.hasError = false;
          return Promise.reject(this.error);
        }
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiting = resolve;
          this.failWaiting = reject;
        });
      },
      return: () => {
        const wasDone = this.done;
        this.done = true;
        this.items.length = 0;
        if (!wasDone) this.onReturn?.();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

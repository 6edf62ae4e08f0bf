/**
 * Turns callbacks into an AsyncIterable: producers `push`, then `end` or `fail`; one consumer
 * iterates. Leaving the `for await` early calls `onReturn`, which is how a consumer that stops
 * reading cancels the producer (docs/STYLE.md #4: callbacks become iterables in one helper).
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private failWaiting: ((err: unknown) => void) | null = null;
  private done = false;
  private error: unknown = undefined;
  private hasError = false;

  private wakeScheduled = false;

  /**
   * `wake`, when given, decides when a waiting consumer hears of pushed items (it calls the function
   * it is handed then); items pushed meanwhile are taken together. Without it the consumer wakes at once.
   */
  constructor(
    private readonly onReturn?: () => void,
    private readonly wake?: (deliver: () => void) => void,
  ) {}

  push(item: T): void {
    if (this.done) return;
    if (this.waiting && !this.wake) {
      const resolve = this.waiting;
      this.waiting = null;
      this.failWaiting = null;
      resolve({ value: item, done: false });
      return;
    }
    this.items.push(item);
    if (this.waiting && this.wake && !this.wakeScheduled) {
      this.wakeScheduled = true;
      this.wake(this.deliver);
    }
  }

  private readonly deliver = (): void => {
    this.wakeScheduled = false;
    const resolve = this.waiting;
    const reject = this.failWaiting;
    const ready = resolve && reject ? this.take() : null;
    if (!ready) return;
    this.waiting = null;
    this.failWaiting = null;
    ready.then(resolve, reject);
  };

  /** The next result from what is queued (items first, then the error, then the end); null when there is none yet. */
  private take(): Promise<IteratorResult<T>> | null {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.hasError) {
      this.hasError = false;
      return Promise.reject(this.error);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return null;
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    // Items still waiting for their wake-up go first; deliver ends the iteration after them.
    if (this.waiting && this.items.length === 0) {
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
    if (this.failWaiting && this.items.length === 0) {
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
        const ready = this.take();
        if (ready) return ready;
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

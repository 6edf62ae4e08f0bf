/**
 * Search-as-you-type without flooding the server or showing stale results: each keystroke
 * restarts a short timer; when it fires, the previous request is aborted and only the newest
 * query's answer is ever delivered. Framework-free, so its timing is tested with mock timers.
 */

export interface SearchControllerOptions<T> {
  /** Runs one query; must honour the signal. */
  search: (query: string, signal: AbortSignal) => Promise<T>;
  /** Called with the newest query's result (or error); never with an older one's. */
  onResult: (query: string, result: T) => void;
  onError?: (query: string, error: unknown) => void;
  /** Called when a query is scheduled (true) and when its answer arrived or it was cleared (false). */
  onPending?: (pending: boolean) => void;
  /** Quiet time after the last keystroke before searching. Defaults to 150 ms. */
  delayMs?: number;
}

export class SearchController<T> {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inflight: AbortController | null = null;
  private seq = 0;
  private readonly delayMs: number;

  constructor(private readonly options: SearchControllerOptions<T>) {
    this.delayMs = options.delayMs ?? 150;
  }

  /** The text in the box changed. An empty (or blank) query cancels everything and searches nothing. */
  input(query: string): void {
    this.cancel();
    if (query.trim() === "") {
      this.options.onPending?.(false);
      return;
    }
    this.options.onPending?.(true);
    const seq = this.seq;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run(query, seq);
    }, this.delayMs);
  }

  /** Searches now (Enter), skipping the wait. */
  flush(query: string): void {
    this.cancel();
    if (query.trim() === "") return;
    this.options.onPending?.(true);
    void this.run(query, this.seq);
  }

  cancel(): void {
    this.seq++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.inflight?.abort();
    this.inflight = null;
  }

  private async run(query: string, seq: number): Promise<void> {
    const controller = new AbortController();
    this.inflight = controller;
    try {
      const result = await this.options.search(query, controller.signal);
      if (seq !== this.seq) return;
      this.inflight = null;
      this.options.onPending?.(false);
      this.options.onResult(query, result);
    } catch (err) {
      if (seq !== this.seq || controller.signal.aborted) return;
      this.inflight = null;
      this.options.onPending?.(false);
      this.options.onError?.(query, err);
    }
  }
}

/**
 * Makes N generating sequences cost one llama_decode with one graph computation per step, as in
 * llama-server, instead of several smaller ones (BENCHMARKS.md, "Batching"). Three parts:
 *
 * 1. Join the step. node-llama-cpp samples each sequence's next token on libuv's pool after a
 *    decode; the results come back as separate callbacks, and while the context still holds its
 *    lock it re-checks its queue and decodes whatever is queued by then. So the sequence sampled
 *    last usually missed the batch and cost a step of its own (8 x 64 tokens: 74 decodes, not 64).
 *    Sampling results of a step are released together, one event-loop turn after the last is ready.
 * 2. Wait for the stragglers. Once a sequence is a step behind the others (it arrived while their
 *    prompts were being decoded) the lock's re-check keeps the two groups apart for the whole
 *    generation (measured through HTTP: 49 steps of 7 + 1). The prioritization strategy therefore
 *    lets the queue fill (returns nothing, a bounded number of times, while microtasks run) until
 *    every sequence sampled in the last two steps has queued its next token.
 * 3. Order by sequence id. With a per-sequence KV cache (node-llama-cpp's default, like
 *    llama-server's) llama.cpp splits a batch into micro-batches of consecutive, increasing
 *    sequence ids (llama_batch_allocr::split_equal), one graph computation each; node-llama-cpp
 *    adds sequences in the order they queued, so 8 tokens ran as several computations (213 for 64
 *    steps). Tokens are handed over sorted by sequence id at decode time.
 *
 * Parts 1 and 3 wrap internal methods of node-llama-cpp 3.22's native context (`context._ctx`);
 * where those are missing nothing is wrapped and batching stays as node-llama-cpp does it.
 */
import type {
  BatchItem,
  CustomBatchingPrioritizationStrategy,
  LlamaContext,
  PrioritizedBatchItem,
} from "node-llama-cpp";

type Method = (...args: unknown[]) => unknown;

interface PendingAdd {
  sequenceId: number;
  firstTokenIndex: number;
  tokens: Uint32Array;
  logitIndexes: Uint32Array;
  /** Handed to node-llama-cpp at once (it reads only the length then); filled in at decode time. */
  batchLogitIndexes: Uint32Array;
}

export interface StepBatcherOptions {
  /** Release a step's sampling results together (part 1). Defaults to true. */
  joinSteps?: boolean;
  /** Wait for sequences of the last two steps before forming a batch (part 2). Defaults to true. */
  waitForStragglers?: boolean;
  /** Add tokens in sequence-id order (part 3). Defaults to true. */
  orderBySequence?: boolean;
  /**
   * Threads for a decode of this many tokens, or undefined to keep node-llama-cpp's choice. Lets a
   * batched step (compute-bound: more threads help) use more cores than one stream's step
   * (bandwidth-bound, and the JavaScript thread needs a core). Defaults to none.
   */
  threadsFor?: (batchTokens: number) => number | undefined;
}

/**
 * Strategy rounds to wait for stragglers before decoding what is there. Each round is one pass of
 * node-llama-cpp's dispatch loop (a few microtasks); the sequences' own JavaScript (detokenizing,
 * stop triggers, the HTTP stream) finishes within a few rounds.
 */
const MAX_WAIT_ROUNDS = 64;

/** node-llama-cpp's "maximumParallelism": split the batch evenly, leftovers by priority. */
function evenSplit(items: readonly BatchItem[], size: number): PrioritizedBatchItem[] {
  let left = size;
  const share = Math.max(1, Math.floor(size / Math.max(1, items.length)));
  const out = items.map((item) => {
    const processAmount = Math.min(item.tokens.length, share, left);
    left -= processAmount;
    return { item, processAmount };
  });
  const clipped = out
    .filter((p) => p.processAmount < p.item.tokens.length)
    .sort((a, b) => b.item.evaluationPriority - a.item.evaluationPriority);
  for (const p of clipped) {
    if (left <= 0) break;
    const more = Math.min(p.item.tokens.length - p.processAmount, left);
    p.processAmount += more;
    left -= more;
  }
  return out.filter((p) => p.processAmount > 0);
}

export class StepBatcher {
  /** Sequences sampled in the last two decode steps: the ones expected in the next. */
  private recent: [Set<number>, Set<number>] = [new Set(), new Set()];
  private waitedRounds = 0;

  /** Pass as `batching.itemPrioritizationStrategy` when creating the context. */
  readonly strategy: CustomBatchingPrioritizationStrategy = ({ items, size }) => {
    const expected = new Set([...this.recent[0], ...this.recent[1]]).size;
    if (items.length < expected && this.waitedRounds < MAX_WAIT_ROUNDS) {
      this.waitedRounds++;
      return [];
    }
    this.waitedRounds = 0;
    return evenSplit(items, size);
  };

  constructor(private readonly options: StepBatcherOptions = {}) {}

  /** Wraps the context's native calls; false when this node-llama-cpp lacks them (nothing changed). */
  install(context: LlamaContext): boolean {
    const addon = (context as unknown as { _ctx?: Record<string, unknown> })._ctx;
    const names = ["sampleToken", "initBatch", "addToBatch", "decodeBatch"] as const;
    if (!addon || names.some((n) => typeof addon[n] !== "function")) return false;
    const threadsFor = this.options.threadsFor;
    if (threadsFor && typeof addon.setThreads !== "function") return false;
    const setThreads = threadsFor ? (addon.setThreads as Method).bind(addon) : null;
    const [sampleToken, initBatch, addToBatch, decodeBatch] = names.map((n) => (addon[n] as Method).bind(addon)) as [
      Method,
      Method,
      Method,
      Method,
    ];
    // N-API methods are read-only on the prototype, so the wrappers are own properties.
    const define = (name: string, value: Method) =>
      Object.defineProperty(addon, name, { value, configurable: true, writable: true });

    if (this.options.joinSteps !== false) {
      let inFlight = 0;
      let ready: (() => void)[] = [];
      let releaseScheduled = false;
      const release = () => {
        releaseScheduled = false;
        // More sampling started meanwhile: wait for it too.
        if (inFlight > 0) return;
        const batch = ready;
        ready = [];
        for (const settle of batch) settle();
      };
      const settle = (fn: () => void) => {
        inFlight--;
        ready.push(fn);
        if (inFlight === 0 && !releaseScheduled) {
          releaseScheduled = true;
          setImmediate(release);
        }
      };
      define("sampleToken", (...args) => {
        inFlight++;
        return new Promise((resolve, reject) => {
          (sampleToken(...args) as Promise<unknown>).then(
            (value) => settle(() => resolve(value)),
            (err: unknown) => settle(() => reject(err)),
          );
        });
      });
    }

    const order = this.options.orderBySequence !== false;
    const track = this.options.waitForStragglers !== false;
    let pending: PendingAdd[] = [];
    define("initBatch", (size) => {
      pending = [];
      return initBatch(size);
    });
    define("addToBatch", (sequenceId, firstTokenIndex, tokens, logitIndexes) => {
      const add: PendingAdd = {
        sequenceId: sequenceId as number,
        firstTokenIndex: firstTokenIndex as number,
        tokens: tokens as Uint32Array,
        logitIndexes: logitIndexes as Uint32Array,
        batchLogitIndexes: new Uint32Array((logitIndexes as Uint32Array).length),
      };
      pending.push(add);
      return add.batchLogitIndexes;
    });
    define("decodeBatch", () => {
      const adds = order ? pending.sort((a, b) => a.sequenceId - b.sequenceId) : pending;
      pending = [];
      if (track)
        this.recent = [new Set(adds.filter((a) => a.logitIndexes.length > 0).map((a) => a.sequenceId)), this.recent[0]];
      try {
        for (const a of adds)
          a.batchLogitIndexes.set(addToBatch(a.sequenceId, a.firstTokenIndex, a.tokens, a.logitIndexes) as Uint32Array);
        // After node-llama-cpp's own setThreads for this decode, so this choice is the one that holds.
        const threads = threadsFor?.(adds.reduce((n, a) => n + a.tokens.length, 0));
        if (threads !== undefined) setThreads!(threads);
      } catch (err) {
        return Promise.reject(err);
      }
      return decodeBatch();
    });
    return true;
  }
}

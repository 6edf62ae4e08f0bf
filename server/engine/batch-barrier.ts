/**
 * Two fixes that make N generating sequences cost one llama_decode of N tokens per step, as in
 * llama-server, instead of several smaller ones (BENCHMARKS.md, "Batching").
 *
 * 1. Every sequence joins the step. node-llama-cpp samples each sequence's next token on libuv's
 *    pool after a decode and the results come back as separate callbacks; while the context still
 *    holds its lock it re-checks its queue and decodes whatever is queued by then, so the sequence
 *    sampled last usually missed the batch and cost a step of its own (8 x 64 tokens: 74 steps
 *    instead of 64). Sampling results of a step are therefore released together, one event-loop
 *    turn after the last is ready.
 * 2. Tokens go into the batch in increasing sequence-id order. With a per-sequence KV cache
 *    (node-llama-cpp's default, like llama-server's) llama.cpp splits a batch into micro-batches of
 *    *consecutive, increasing* sequence ids (llama_batch_allocr::split_equal, sequential), one graph
 *    computation each; node-llama-cpp adds sequences in the order they queued, which is the order
 *    their sampling finished, so a step of 8 tokens ran as several computations.
 *
 * Both wrap internal methods of node-llama-cpp 3.22's native context (`context._ctx`); where they
 * are missing nothing is changed and batching stays as node-llama-cpp does it.
 */
import type { LlamaContext } from "node-llama-cpp";

type Method = (...args: unknown[]) => unknown;

interface PendingAdd {
  sequenceId: number;
  firstTokenIndex: number;
  tokens: Uint32Array;
  logitIndexes: Uint32Array;
  /** Handed to node-llama-cpp at once (it reads only the length); filled in at decode time. */
  batchLogitIndexes: Uint32Array;
}

export interface BatchBarrierOptions {
  /** Release a step's sampling results together (fix 1). Defaults to true. */
  joinSteps?: boolean;
  /** Add tokens in sequence-id order (fix 2). Defaults to true. */
  orderBySequence?: boolean;
}

/** Returns false when this node-llama-cpp lacks those internals (then nothing was changed). */
export function installBatchBarrier(context: LlamaContext, options: BatchBarrierOptions = {}): boolean {
  const addon = (context as unknown as { _ctx?: Record<string, unknown> })._ctx;
  const names = ["sampleToken", "initBatch", "addToBatch", "decodeBatch"] as const;
  if (!addon || names.some((n) => typeof addon[n] !== "function")) return false;
  const [sampleToken, initBatch, addToBatch, decodeBatch] = names.map((n) => (addon[n] as Method).bind(addon)) as [
    Method,
    Method,
    Method,
    Method,
  ];
  // N-API methods are read-only on the prototype, so the wrappers are own properties.
  const define = (name: string, value: Method) =>
    Object.defineProperty(addon, name, { value, configurable: true, writable: true });

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
  if (options.joinSteps !== false)
    define("sampleToken", (...args) => {
      inFlight++;
      return new Promise((resolve, reject) => {
        (sampleToken(...args) as Promise<unknown>).then(
          (value) => settle(() => resolve(value)),
          (err: unknown) => settle(() => reject(err)),
        );
      });
    });

  if (options.orderBySequence === false) return true;
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
    const adds = pending.sort((a, b) => a.sequenceId - b.sequenceId);
    pending = [];
    try {
      for (const a of adds)
        a.batchLogitIndexes.set(addToBatch(a.sequenceId, a.firstTokenIndex, a.tokens, a.logitIndexes) as Uint32Array);
    } catch (err) {
      return Promise.reject(err);
    }
    return decodeBatch();
  });
  return true;
}

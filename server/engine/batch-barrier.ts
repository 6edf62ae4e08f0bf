/**
 * Makes every generating sequence land in the same llama_decode step.
 *
 * node-llama-cpp samples each sequence's next token on libuv's pool after a decode; the results
 * come back as separate callbacks. While the context still holds its lock it looks at the queue
 * once more and decodes whatever has been queued by then, so the sequence whose sampling finished
 * last usually misses the batch and costs a decode step of its own (ENGINE-NOTES §2.2 measured
 * {3 tokens: 65 steps} for 4 sequences; BENCHMARKS.md, "Batching"). Releasing all sampling results
 * of a step together, one event-loop turn after the last one is ready, lets every sequence queue
 * its next token before the next batch is formed.
 *
 * This wraps one internal method of node-llama-cpp 3.22 (`context._ctx.sampleToken`); if that
 * shape is not there, nothing is changed and batching simply stays as node-llama-cpp does it.
 */
import type { LlamaContext } from "node-llama-cpp";

type Sampler = (...args: unknown[]) => Promise<unknown>;

/** Returns false when this node-llama-cpp has no such internals (then nothing was changed). */
export function installBatchBarrier(context: LlamaContext): boolean {
  const addon = (context as unknown as { _ctx?: Record<string, unknown> })._ctx;
  const original = addon?.sampleToken;
  if (!addon || typeof original !== "function") return false;
  const sample = (original as Sampler).bind(addon);
  let inFlight = 0;
  let ready: (() => void)[] = [];
  let releaseScheduled = false;

  const release = () => {
    releaseScheduled = false;
    // More sampling started meanwhile (a sequence joined): wait for it too.
    if (inFlight > 0) return;
    const batch = ready;
    ready = [];
    for (const settle of batch) settle();
  };

  const barrierSample: Sampler = (...args) => {
    inFlight++;
    return new Promise((resolve, reject) => {
      sample(...args).then(
        (value) => settle(() => resolve(value)),
        (err: unknown) => settle(() => reject(err)),
      );
    });
  };

  function settle(fn: () => void): void {
    inFlight--;
    ready.push(fn);
    if (inFlight === 0 && !releaseScheduled) {
      releaseScheduled = true;
      setImmediate(release);
    }
  }

  // N-API methods are read-only on the prototype, so the wrapper is an own property.
  Object.defineProperty(addon, "sampleToken", { value: barrierSample, configurable: true, writable: true });
  return true;
}

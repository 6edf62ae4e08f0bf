/**
 * Where a generation's wall time goes, measured from the JavaScript side by wrapping the native
 * addon's calls: llama_decode (`decodeBatch`), sampling (`sampleToken`, run on libuv's pool),
 * detokenizing (`model.detokenize`, synchronous on the JS thread), plus the event loop's
 * utilization and delay. Whatever is left between decodes is JavaScript (node-llama-cpp's
 * generation loop, our queue, HTTP, JSON) and scheduling. Benchmark-only: it patches the addon's
 * prototype, which is internal to node-llama-cpp.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from "node:perf_hooks";
import type { LlamaContext, LlamaModel } from "node-llama-cpp";

interface Span {
  active: number;
  since: number;
  totalMs: number;
  calls: number;
}

const newSpan = (): Span => ({ active: 0, since: 0, totalMs: 0, calls: 0 });

/** Time covered by at least one call in flight (calls may overlap, like sampling of 8 sequences). */
function enter(span: Span): void {
  span.calls++;
  if (span.active++ === 0) span.since = performance.now();
}

function leave(span: Span): void {
  if (--span.active === 0) span.totalMs += performance.now() - span.since;
}

export interface ProfileResult {
  wallMs: number;
  /** llama_decode: the model's math (and the native threads' barriers). */
  decodeMs: number;
  decodeCalls: number;
  /** Tokens put in decode batches. */
  batchedTokens: number;
  /** Sampling calls in flight (they overlap across sequences). */
  sampleMs: number;
  sampleCalls: number;
  detokenizeMs: number;
  detokenizeCalls: number;
  /** Wall time with neither decode nor sampling running: JS callbacks, scheduling, I/O. */
  otherMs: number;
  /** Share of wall time the JS thread was busy (perf_hooks.eventLoopUtilization). */
  eventLoopUtilization: number;
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

type AddonContext = {
  decodeBatch(): Promise<void>;
  sampleToken(...args: unknown[]): Promise<unknown>;
  addToBatch(sequenceId: number, firstTokenIndex: number, tokens: Uint32Array, logitIndexes: Uint32Array): unknown;
};

const state = { decode: newSpan(), sample: newSpan(), tokens: { n: 0 }, detok: newSpan() };
const patched = new WeakSet<object>();

/** N-API methods are read-only on the prototype, so each instance gets its own wrappers. */
function wrap(
  target: object,
  name: string,
  wrapper: (original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown,
): void {
  const original = (target as Record<string, (...args: unknown[]) => unknown>)[name];
  if (typeof original !== "function")
    throw new Error(`${name} is not a function here: node-llama-cpp's internals changed`);
  Object.defineProperty(target, name, { value: wrapper(original.bind(target)), configurable: true, writable: true });
}

/**
 * Wraps the context's native calls and the model's detokenizer (once per object; every profiler
 * reads the same counters); `start()` then measures until `stop()`.
 */
export function createProfiler(context: LlamaContext, model: LlamaModel) {
  const addon = (context as unknown as { _ctx: AddonContext })._ctx;
  if (!patched.has(addon)) {
    wrap(addon, "decodeBatch", (decodeBatch) => () => {
      enter(state.decode);
      return (decodeBatch() as Promise<void>).finally(() => leave(state.decode));
    });
    wrap(addon, "sampleToken", (sampleToken) => (...args) => {
      enter(state.sample);
      return (sampleToken(...args) as Promise<unknown>).finally(() => leave(state.sample));
    });
    wrap(addon, "addToBatch", (addToBatch) => (...args) => {
      state.tokens.n += (args[2] as Uint32Array).length;
      return addToBatch(...args);
    });
    patched.add(addon);
  }
  if (!patched.has(model)) {
    wrap(model, "detokenize", (detokenize) => (...args) => {
      state.detok.calls++;
      const t = performance.now();
      try {
        return detokenize(...args);
      } finally {
        state.detok.totalMs += performance.now() - t;
      }
    });
    patched.add(model);
  }
  let begin = 0;
  let elu: EventLoopUtilization | null = null;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const snapshot = () => ({
    decodeMs: state.decode.totalMs,
    decodeCalls: state.decode.calls,
    sampleMs: state.sample.totalMs,
    sampleCalls: state.sample.calls,
    detokenizeMs: state.detok.totalMs,
    detokenizeCalls: state.detok.calls,
    batchedTokens: state.tokens.n,
  });
  let before = snapshot();
  return {
    start(): void {
      before = snapshot();
      begin = performance.now();
      elu = performance.eventLoopUtilization();
      delay.reset();
      delay.enable();
    },
    stop(): ProfileResult {
      const wallMs = performance.now() - begin;
      delay.disable();
      const now = snapshot();
      const d = (k: keyof typeof now) => now[k] - before[k];
      const used = performance.eventLoopUtilization(elu ?? undefined);
      return {
        wallMs,
        decodeMs: d("decodeMs"),
        decodeCalls: d("decodeCalls"),
        batchedTokens: d("batchedTokens"),
        sampleMs: d("sampleMs"),
        sampleCalls: d("sampleCalls"),
        detokenizeMs: d("detokenizeMs"),
        detokenizeCalls: d("detokenizeCalls"),
        otherMs: Math.max(0, wallMs - d("decodeMs") - d("sampleMs")),
        eventLoopUtilization: used.utilization,
        loopDelayP50Ms: delay.percentile(50) / 1e6,
        loopDelayP99Ms: delay.percentile(99) / 1e6,
        loopDelayMaxMs: delay.max / 1e6,
      };
    },
  };
}

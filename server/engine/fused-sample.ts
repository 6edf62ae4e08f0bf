/**
 * Decode and sample in one native call (issue 19 part 2), where the engine was built with
 * `npm run build:engine -- --fused` (scripts/engine-patches/fused-decode-sample.patch adds
 * `decodeBatchAndSample` to node-llama-cpp's addon). node-llama-cpp samples each sequence's next
 * token with its own libuv job after the decode; here the decode's worker samples the sequences it
 * can predict the sampler for, and the `sampleToken` call that follows is answered at once.
 *
 * Which sequences: one that sampled in the previous step with a sampler whose configuration was
 * the same for its last two tokens and has no per-token state in JavaScript (no grammar, repeat
 * or DRY penalty). The answer is used only when `sampleToken` then comes for the same sampler, with
 * the same configuration and no extra outputs asked for; otherwise it samples as usual. Greedy
 * output is the same either way; a seeded random draw is the same as long as the prediction holds.
 *
 * Installed beneath the StepBatcher (it wraps the raw native methods, the StepBatcher wraps these).
 * Off with HEARTH_FUSED_SAMPLE=0; a no-op on builds without the native method.
 */
import type { LlamaContext } from "node-llama-cpp";

type Method = (...args: unknown[]) => unknown;
type NativeSampler = Record<string, unknown>;

interface Presampled {
  sampler: NativeSampler;
  key: string;
  token: number | null;
}

/** A sampler configuration as one string, or null when sampling it changes state JavaScript tracks. */
export function samplerConfigKey(config: Record<string, unknown>): string | null {
  if (
    config.grammarEvaluationState != null ||
    config.repeatPenaltyTokens != null ||
    config.dryRepeatPenaltyStrength != null
  )
    return null;
  const list = (v: unknown) => (v == null ? "" : Array.prototype.join.call(v as ArrayLike<unknown>, ","));
  return [
    config.temperature,
    config.minP,
    config.topK,
    config.topP,
    config.seed,
    config.xtcProbability,
    config.xtcThreshold,
    list(config.tokenBiasKeys),
    list(config.tokenBiasValues),
  ].join("|");
}

export function fusedSamplingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.HEARTH_FUSED_SAMPLE !== "0";
}

export interface FusedSamplingStats {
  /** Tokens sampled inside the decode's native call and used. */
  fused: number;
  /** Tokens sampled inside the decode's call but sampled again (the prediction did not hold). */
  wasted: number;
}

/** Counts over every context of the process (the bench reports them). */
export const fusedTotals: FusedSamplingStats = { fused: 0, wasted: 0 };

/** Wraps the context's native calls; null when the build has no `decodeBatchAndSample`. */
export function installFusedSampling(context: LlamaContext): FusedSamplingStats | null {
  const addon = (context as unknown as { _ctx?: Record<string, unknown> })._ctx;
  const names = ["decodeBatchAndSample", "sampleToken", "initBatch", "addToBatch", "decodeBatch"] as const;
  if (!addon || names.some((n) => typeof addon[n] !== "function")) return null;
  const [decodeAndSample, sampleToken, initBatch, addToBatch, decodeBatch] = names.map((n) =>
    (addon[n] as Method).bind(addon),
  ) as [Method, Method, Method, Method, Method];
  const define = (name: string, value: Method) =>
    Object.defineProperty(addon, name, { value, configurable: true, writable: true });

  const stats: FusedSamplingStats = { fused: 0, wasted: 0 };
  let step = 0;
  let adds: { sequenceId: number; logitIndexes: Uint32Array }[] = [];
  /** The current step's output rows: which sequence each belongs to. */
  const rowSequence = new Map<number, number>();
  const presampled = new Map<number, Presampled>();
  const lastSampler = new Map<number, { sampler: NativeSampler; step: number }>();
  /** The keys of each sampler's last two configurations, newest first. */
  const configs = new WeakMap<NativeSampler, [string | null, string | null]>();
  const disposed = new WeakSet<NativeSampler>();

  // The sampler's configuration is applied in JavaScript right before each sample; watching it is
  // how a prediction is checked. Own properties, since N-API methods are read-only on the prototype.
  const watch = (sampler: NativeSampler) => {
    if (configs.has(sampler)) return;
    configs.set(sampler, [null, null]);
    const applyConfig = (sampler.applyConfig as Method).bind(sampler);
    const dispose = (sampler.dispose as Method).bind(sampler);
    Object.defineProperty(sampler, "applyConfig", {
      configurable: true,
      value: (config: Record<string, unknown>) => {
        configs.set(sampler, [samplerConfigKey(config), configs.get(sampler)![0]]);
        return applyConfig(config);
      },
    });
    Object.defineProperty(sampler, "dispose", {
      configurable: true,
      value: () => {
        disposed.add(sampler);
        return dispose();
      },
    });
  };

  define("initBatch", (size) => {
    adds = [];
    return initBatch(size);
  });
  define("addToBatch", (sequenceId, firstTokenIndex, tokens, logitIndexes) => {
    const rows = addToBatch(sequenceId, firstTokenIndex, tokens, logitIndexes) as Uint32Array;
    adds.push({ sequenceId: sequenceId as number, logitIndexes: rows });
    return rows;
  });
  define("decodeBatch", () => {
    step++;
    rowSequence.clear();
    for (const p of presampled.values())
      if (p.token !== null) {
        stats.wasted++;
        fusedTotals.wasted++;
      }
    presampled.clear();
    const pairs: [number, NativeSampler][] = [];
    for (const { sequenceId, logitIndexes } of adds) {
      for (const row of logitIndexes) rowSequence.set(row, sequenceId);
      if (logitIndexes.length !== 1) continue;
      const last = lastSampler.get(sequenceId);
      if (!last || last.step !== step - 1 || disposed.has(last.sampler)) continue;
      const [key, previous] = configs.get(last.sampler) ?? [null, null];
      if (key === null || key !== previous) continue;
      pairs.push([logitIndexes[0]!, last.sampler]);
      presampled.set(logitIndexes[0]!, { sampler: last.sampler, key, token: null });
    }
    adds = [];
    if (pairs.length === 0) return decodeBatch();
    return (decodeAndSample(pairs) as Promise<Int32Array>).then((tokens) => {
      pairs.forEach(([row], i) => {
        const token = tokens[i]!;
        if (token === -2) presampled.delete(row);
        else presampled.get(row)!.token = token;
      });
    });
  });
  define("sampleToken", (row, sampler, ...rest) => {
    const native = sampler as NativeSampler;
    watch(native);
    const sequenceId = rowSequence.get(row as number);
    if (sequenceId !== undefined) lastSampler.set(sequenceId, { sampler: native, step });
    const pre = presampled.get(row as number);
    presampled.delete(row as number);
    if (pre && pre.token !== null) {
      if (pre.sampler === native && rest.length === 0 && configs.get(native)![0] === pre.key) {
        stats.fused++;
        fusedTotals.fused++;
        return Promise.resolve(pre.token);
      }
      stats.wasted++;
      fusedTotals.wasted++;
    }
    return sampleToken(row, sampler, ...rest);
  });
  return stats;
}

/** Whether this engine binary has the patched `decodeBatchAndSample` (a `--fused` local build). */
export function hasFusedSampling(llama: unknown): boolean {
  const bindings = (llama as { _bindings?: { AddonContext?: { prototype?: Record<string, unknown> } } })._bindings;
  return typeof bindings?.AddonContext?.prototype?.decodeBatchAndSample === "function";
}

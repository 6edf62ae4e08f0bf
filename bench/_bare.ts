/**
 * The baseline every engine number is compared with: node-llama-cpp called directly, in this
 * process, with no HTTP, no queue and no event stream. One context with N sequences, one
 * LlamaCompletion per sequence, the same sampling the server applies by default.
 */
import { LlamaCompletion, type LlamaContext, type LlamaContextSequence, type LlamaModel } from "node-llama-cpp";
import { createLogger } from "../server/logger.js";
import { StepBatcher, type StepBatcherOptions } from "../server/engine/batch-barrier.js";
import { createRuntime, type EngineBinary, type EngineRuntime } from "../server/engine/runtime.js";

export interface BareSetup {
  modelPath: string;
  /** Threads for the math. */
  threads: number;
  /** Sequences in the context: the most streams one round can run. */
  sequences: number;
  /** Defaults to "auto". */
  binary?: EngineBinary;
  /** Per sequence. Defaults to 1024. */
  contextSize?: number;
  /** Defaults to node-llama-cpp's (min(ctx * sequences, 512)). */
  batchSize?: number;
  /** Defaults to node-llama-cpp's ("nextCycle"). */
  dispatchSchedule?: "nextCycle" | "timeout0";
  /** Defaults to node-llama-cpp's ("maximumParallelism"). */
  itemPrioritizationStrategy?: "maximumParallelism" | "firstInFirstOut";
  /** Pass `threads` as `{ideal, min: 1}` instead of a number. Defaults to true (what the server does). */
  flexibleThreads?: boolean;
  /** server/engine/batch-barrier.ts's StepBatcher with these options, or false for none. Defaults to false. */
  stepBatcher?: false | StepBatcherOptions;
}

/** The server's default sampling (server/core/types.ts SAMPLING_DEFAULTS), applied to both paths. */
export const BENCH_SAMPLING = { temperature: 0.8, topP: 0.95, topK: 40, minP: 0.05 } as const;

export const BENCH_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside";

/** A prompt per request that differs from the first token, so no request reuses another's KV cache. */
export function promptFor(i: number): string {
  return `${i} ${BENCH_PROMPT}`;
}

export interface StreamTiming {
  tokens: number;
  /** From the call to the first generated token. */
  ttftMs: number;
  totalMs: number;
}

export interface RoundResult {
  streams: StreamTiming[];
  wallMs: number;
}

export class BareEngine {
  private constructor(
    readonly runtime: EngineRuntime,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
    private readonly sequences: LlamaContextSequence[],
  ) {}

  static async open(setup: BareSetup): Promise<BareEngine> {
    const runtime = await createRuntime({
      gpu: "cpu",
      threads: setup.threads,
      logger: createLogger("warn"),
      binary: setup.binary ?? "auto",
    });
    const model = await runtime.llama.loadModel({ modelPath: setup.modelPath });
    const batcher = setup.stepBatcher ? new StepBatcher(setup.stepBatcher) : null;
    const context = await model.createContext({
      sequences: setup.sequences,
      contextSize: setup.contextSize ?? 1024,
      ...(setup.batchSize ? { batchSize: setup.batchSize } : {}),
      threads: setup.flexibleThreads === false ? setup.threads : { ideal: setup.threads, min: 1 },
      batching: {
        ...(setup.dispatchSchedule === "timeout0"
          ? { dispatchSchedule: (dispatch: () => void) => setTimeout(dispatch, 0) }
          : {}),
        ...(batcher
          ? { itemPrioritizationStrategy: batcher.strategy }
          : setup.itemPrioritizationStrategy
            ? { itemPrioritizationStrategy: setup.itemPrioritizationStrategy }
            : {}),
      },
    });
    batcher?.install(context);
    const sequences = Array.from({ length: setup.sequences }, () => context.getSequence());
    return new BareEngine(runtime, model, context, sequences);
  }

  /**
   * Runs `concurrency` generations at once (one per sequence), each up to `maxTokens`, and times
   * each stream. `firstRequest` numbers the prompts so repeated rounds do not hit a cached prefix.
   */
  async round(concurrency: number, maxTokens: number, firstRequest = 0): Promise<RoundResult> {
    if (concurrency > this.sequences.length)
      throw new Error(`concurrency ${concurrency} > sequences ${this.sequences.length}`);
    const started = performance.now();
    const streams = await Promise.all(
      this.sequences.slice(0, concurrency).map(async (sequence, i) => {
        const completion = new LlamaCompletion({ contextSequence: sequence });
        const t0 = performance.now();
        let first = 0;
        let tokens = 0;
        await completion.generateCompletionWithMeta(promptFor(firstRequest + i), {
          ...BENCH_SAMPLING,
          seed: firstRequest + i,
          repeatPenalty: false,
          maxTokens,
          onToken: (chunk) => {
            if (first === 0) first = performance.now();
            tokens += chunk.length;
          },
        });
        const end = performance.now();
        completion.dispose({ disposeSequence: false });
        return { tokens, ttftMs: first - t0, totalMs: end - t0 };
      }),
    );
    return { streams, wallMs: performance.now() - started };
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
    await this.runtime.dispose();
  }
}

/** Generation speed of one stream after its first token, like llama-bench's `tg`. */
export function streamTokensPerSecond(s: StreamTiming): number {
  return s.tokens > 1 ? ((s.tokens - 1) * 1000) / (s.totalMs - s.ttftMs) : 0;
}

/** All tokens of a round over its wall time. */
export function aggregateTokensPerSecond(r: RoundResult): number {
  return (r.streams.reduce((n, s) => n + s.tokens, 0) * 1000) / r.wallMs;
}

/**
 * The llama.cpp runtime: one per server. Owns the backend choice (GPU or CPU) and the thread
 * policy, which matter more than anything else for speed on small machines (docs/ENGINE-NOTES.md §2.1):
 * llama.cpp's workers spin-wait, so more threads than free cores is catastrophic, not just slower.
 */
import os from "node:os";
import {
  getLlama,
  getLlamaGpuTypes,
  LlamaLogLevel,
  NoBinaryFoundError,
  type Llama,
  type LlamaOptions,
} from "node-llama-cpp";
import type { Logger } from "../logger.js";

export type GpuChoice = "auto" | "cpu" | "cuda" | "vulkan" | "metal";

/**
 * Which llama.cpp binary to load. "auto" takes a local build (`npm run build:engine`) when one
 * exists and the prebuilt npm binary otherwise; "prebuilt" ignores a local build (benchmarks compare
 * the two in one checkout; users can fall back if a local build misbehaves); "local" fails without one.
 */
export type EngineBinary = "auto" | "prebuilt" | "local";

/**
 * The CMake options of the portable build that installers ship (`npm run build:engine -- --portable`):
 * OpenMP like a native build, but every CPU variant ggml knows, picked at load time, instead of
 * `-march=native`. node-llama-cpp files a build under a hash of its custom options and finds it only
 * when asked with the same ones, so the runtime looks for this set by name.
 * Measured on bench-86M through HTTP (BENCHMARKS.md, "Portable build"): one stream 233 tok/s and
 * c=8 381, against 189 and 296 for the prebuilt binary (no OpenMP) and 216 and 387 for a native build.
 */
export const PORTABLE_BUILD_CMAKE_OPTIONS: Readonly<Record<string, string>> = {
  GGML_NATIVE: "OFF",
  GGML_CPU_ALL_VARIANTS: "ON",
  GGML_BACKEND_DL: "ON",
  GGML_OPENMP: "ON",
};

/** Which binary a runtime loaded: a native build, the portable build, or node-llama-cpp's prebuilt one. */
export type EngineVariant = "native" | "portable" | "prebuilt";

export interface RuntimeOptions {
  gpu: GpuChoice;
  /** 0 chooses from the machine. */
  threads: number;
  /** Threads for batched decode steps (several sequences, or a prompt); 0 chooses from the binary and machine. Defaults to 0. */
  batchThreads?: number;
  /** Contexts a model's sequences are spread over, each decoding on its own threads; 0 chooses from the machine. Defaults to 0. */
  lanes?: number;
  logger: Logger;
  /** Defaults to "auto". */
  binary?: EngineBinary;
}

export interface EngineRuntime {
  readonly llama: Llama;
  /** Threads each context uses for the math. */
  readonly threads: number;
  /** Threads for a decode step of several tokens (see defaultBatchThreads). */
  readonly batchThreads: number;
  /** Contexts a model's sequences are spread over (see defaultLanes). */
  readonly lanes: number;
  /** `false` when the CPU does the math. */
  readonly gpu: string | false;
  /** "prebuilt" (the npm binary) or "localBuild" (`npm run build:engine`, native or portable). */
  readonly buildType: string;
  readonly variant: EngineVariant;
  /**
   * Runs `fn` and, when it rejects, adds the error lines llama.cpp logged meanwhile to the error's
   * message: node-llama-cpp reports a refused model only as "Failed to load model", while the log
   * says why ("tensor 'token_embd.weight' has wrong shape ...").
   */
  explainFailure<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * This runtime for a model with a thread count of its own: automatic lanes are chosen again so
   * lanes x threads still fits the cores, and the engine's thread budget grows to cover them.
   */
  forThreads(threads: number): EngineRuntime;
  dispose(): Promise<void>;
}

/**
 * The default thread count. On CPU the JavaScript thread (node-llama-cpp's per-token loop, HTTP,
 * JSON) needs a core of its own while the native workers wait at barriers by spinning, so use
 * every core but one; with a GPU doing the math the CPU threads only feed it.
 *
 * Measured on 2 shared cores (BENCHMARKS.md, "Thread policy"): 1 thread is the fastest for both
 * binaries. The prebuilt binary has no OpenMP: its barrier is a pure spin and it starts a thread per
 * llama_decode, so with 2 threads 80% of its time went into ggml_barrier and it ran at a twentieth
 * of 1 thread; no setting rescued it. A local build (OpenMP) loses less, but still loses whenever
 * anything else wants the second core. No start-up calibration: a wrong "2" costs far more than a
 * wrong "1", and a calibration on a busy machine would pick it at random.
 */
export function defaultThreads(cores: number, gpu: string | false): number {
  if (gpu !== false) return Math.max(1, Math.min(cores, 4));
  return Math.max(1, Math.min(cores - 1, 16));
}

/**
 * Threads for batched steps. A step of several tokens is compute-bound, so a second core pays off
 * there even on 2 cores, while one stream's step is not and loses the core its JavaScript needs:
 * with the local (OpenMP) build, bench-86M through HTTP gave 197 tok/s for one stream and 334 for
 * eight with 1 and 2 threads split this way, against 171/236 with 1 thread for everything and
 * 112/288 with 2 (BENCHMARKS.md, "Batch threads"). The prebuilt binary has no OpenMP and collapses
 * at 2 threads whatever the batch, so it keeps `threads`.
 */
export function defaultBatchThreads(cores: number, threads: number, buildType: string, gpu: string | false): number {
  if (gpu !== false || buildType !== "localBuild") return threads;
  return Math.max(threads, Math.min(cores, 16));
}

/**
 * Decode lanes: contexts that each hold a share of a model's sequences and decode on `threads`
 * threads of their own, at the same time as each other. On CPU a batched step is compute-bound
 * (bench-86M: 8 tokens cost 8 tokens' math at 1 thread; batching saves no bandwidth worth having),
 * so the gain from more cores is all there is, and one decode split over 2 threads gets only 1.33x
 * from the second core (ggml's per-operation barriers between the threads), where two 1-thread
 * decodes running side by side get 1.94x (llama-bench pp8: 557 + 538 tok/s together, 564 alone,
 * 731-759 with -t 2). 8 streams of bench-86M, bare node-llama-cpp: 359-419 tok/s with one context
 * (split threads) -> 467-496 with two lanes; prebuilt binary 308-319 -> 417-455 (BENCHMARKS.md,
 * "Decode lanes"). So on CPU: as many lanes as `threads` fits in the cores, at most 4. With a GPU
 * one context batches best.
 */
export function defaultLanes(cores: number, threads: number, gpu: string | false): number {
  if (gpu !== false) return 1;
  return Math.max(1, Math.min(4, Math.floor(cores / Math.max(1, threads))));
}

/**
 * The head width that llama.cpp's CPU flash attention needs for its fast path: the width of the
 * floats' SIMD register (16 with AVX-512, 8 with AVX2, 4 with NEON) must divide it
 * (`ggml_compute_forward_flash_attn_ext_f16`: `use_tiled &= DV % GGML_F32_EPR == 0`), else every
 * query row walks the cache one cell at a time. 16 covers every CPU llama.cpp builds for.
 */
const CPU_FLASH_ATTENTION_HEAD_MULTIPLE = 16;

/** The width of one attention head's values, from a GGUF's architecture metadata; undefined when it does not say. */
export function attentionHeadWidth(metadata: {
  embedding_length?: number;
  attention?: { head_count?: number | readonly number[]; value_length?: number };
}): number | undefined {
  const { value_length: valueLength, head_count: heads } = metadata.attention ?? {};
  if (typeof valueLength === "number" && valueLength > 0) return valueLength;
  if (typeof heads !== "number" || heads <= 0 || !metadata.embedding_length) return undefined;
  return metadata.embedding_length / heads;
}

/**
 * Flash attention for a model's contexts: false where it would make long prompts crawl, undefined
 * to keep node-llama-cpp's default ("auto", which llama.cpp turns on, also on the CPU). On the CPU a
 * head width that is not a multiple of the SIMD width falls off flash attention's fast path: with
 * stories260K (heads of 8 floats) a 4,096-token prompt prefilled at 232 tok/s with it and 1,146
 * without, and the same 11M model rewritten to heads of 8 (48 heads) took over 100 s for 4,096
 * tokens with it; at head widths of 16, 32 and 64 flash attention was 1.5-2x faster than without
 * (BENCHMARKS.md, "Long prompts"). Real models' heads are 64-256 wide, so they keep it.
 */
export function flashAttentionFor(headWidth: number | undefined, gpu: string | false): false | undefined {
  if (gpu !== false || headWidth === undefined || !Number.isInteger(headWidth)) return undefined;
  return headWidth % CPU_FLASH_ATTENTION_HEAD_MULTIPLE === 0 ? undefined : false;
}

/** `total` sequences spread over `lanes` contexts as evenly as possible, larger shares first. */
export function laneShares(total: number, lanes: number): number[] {
  const n = Math.max(1, Math.min(lanes, total));
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
}

const LOG_MAP: Record<string, "error" | "warn" | "info" | "debug"> = {
  [LlamaLogLevel.fatal]: "error",
  [LlamaLogLevel.error]: "error",
  [LlamaLogLevel.warn]: "warn",
  [LlamaLogLevel.info]: "debug",
  [LlamaLogLevel.log]: "debug",
  [LlamaLogLevel.debug]: "debug",
};

/** The last few error lines from llama.cpp, numbered so a caller can take just those logged since it started. */
class NativeErrorLog {
  private readonly lines: { seq: number; text: string }[] = [];
  private seq = 0;

  push(text: string): void {
    this.lines.push({ seq: ++this.seq, text });
    if (this.lines.length > 16) this.lines.shift();
  }

  get mark(): number {
    return this.seq;
  }

  since(mark: number): string[] {
    return this.lines.filter((l) => l.seq > mark).map((l) => l.text);
  }
}

/** "llama_model_load: error loading model: check_tensor_dims: tensor ..." -> "tensor ...". */
function tidyNativeError(line: string): string {
  return line
    .replace(/^(\w+: )+(error loading model: )?(\w+: )?/, "")
    .replace(/\s+/g, " ")
    .trim();
}

async function explainNativeFailure<T>(log: NativeErrorLog, fn: () => Promise<T>): Promise<T> {
  const mark = log.mark;
  try {
    return await fn();
  } catch (err) {
    // llama.cpp's log lines reach JavaScript through a queue, sometimes after the rejection.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const reasons = [...new Set(log.since(mark).map(tidyNativeError))].filter(
      (r) => r && !/failed to load model$/i.test(r),
    );
    if (err instanceof Error && reasons.length > 0 && !err.message.includes(reasons[0]!))
      err.message = `${err.message}: ${reasons.join("; ")}`;
    throw err;
  }
}

/**
 * On a CPU-only machine: a native build (`npm run build:engine`) first, then the portable one
 * installers ship, then the prebuilt npm binary. A local build that is present but does not load (a
 * Linux OpenMP build without libgomp, say) is logged and passed over, never fatal with "auto". Where
 * a GPU is usable node-llama-cpp's own order stands (a local build for that GPU, else its prebuilt
 * GPU binary), so a CPU build never displaces the GPU.
 */
async function loadLlama(
  binary: EngineBinary,
  common: LlamaOptions,
  logger: Logger,
): Promise<{ llama: Llama; variant: EngineVariant }> {
  const variantOf = (llama: Llama): EngineVariant => (llama.buildType === "localBuild" ? "native" : "prebuilt");
  if (binary !== "prebuilt") {
    const cpuOnly =
      common.gpu === false ||
      (common.gpu === "auto" && (await getLlamaGpuTypes("supported")).every((t) => t === false));
    if (!cpuOnly) {
      const llama = await getLlama(common);
      if (binary === "local" && llama.buildType !== "localBuild") {
        await llama.dispose();
        throw new Error("No local llama.cpp build found: run `npm run build:engine` first.");
      }
      return { llama, variant: variantOf(llama) };
    }
    const candidates: [EngineVariant, Record<string, string> | undefined][] = [
      ["native", undefined],
      ["portable", { ...PORTABLE_BUILD_CMAKE_OPTIONS }],
    ];
    for (const [variant, cmakeOptions] of candidates) {
      try {
        const llama = await getLlama({
          ...common,
          gpu: false,
          usePrebuiltBinaries: false,
          ...(cmakeOptions ? { cmakeOptions } : {}),
        });
        if (llama.buildType === "localBuild") return { llama, variant };
        await llama.dispose();
      } catch (err) {
        // NoBinaryFoundError is the usual "no such build"; anything else is a build that failed to load.
        if (!(err instanceof NoBinaryFoundError))
          logger.warn(
            { variant, err: (err as Error).message },
            "a local llama.cpp build did not load; trying the next binary",
          );
      }
    }
    if (binary === "local") throw new Error("No local llama.cpp build found: run `npm run build:engine` first.");
  }
  // A custom CMake option changes the local-build folder node-llama-cpp looks for, so it finds none
  // and loads the prebuilt binary (which it accepts whatever the options: they only name builds).
  return { llama: await getLlama({ ...common, cmakeOptions: { HEARTH_PREBUILT_ONLY: "1" } }), variant: "prebuilt" };
}

/**
 * Whether `engineBinary: "local"` would find a build to start with (the Settings screen refuses a
 * choice that would make every start fail). A running local build answers at once; otherwise each
 * local variant is loaded on its own (never the prebuilt binding the server runs) and let go.
 */
export async function localBuildAvailable(gpu: GpuChoice, running: EngineRuntime): Promise<boolean> {
  if (running.buildType === "localBuild") return true;
  for (const cmakeOptions of [undefined, { ...PORTABLE_BUILD_CMAKE_OPTIONS }]) {
    try {
      const llama = await getLlama({
        gpu: gpu === "cpu" ? false : gpu,
        build: "never",
        usePrebuiltBinaries: false,
        logLevel: LlamaLogLevel.disabled,
        ...(cmakeOptions ? { cmakeOptions } : {}),
      });
      const local = llama.buildType === "localBuild";
      await llama.dispose();
      if (local) return true;
    } catch {
      // NoBinaryFoundError (no such build) or a build that does not load: neither can start.
    }
  }
  return false;
}

export async function createRuntime(options: RuntimeOptions): Promise<EngineRuntime> {
  const errors = new NativeErrorLog();
  const cores = os.availableParallelism();
  const gpuOption = options.gpu === "cpu" ? false : options.gpu;
  // maxThreads caps every context together (ThreadsSplitter), so one cap is enough.
  const requested = options.threads > 0 ? options.threads : undefined;
  const common: LlamaOptions = {
    gpu: gpuOption,
    build: "never",
    maxThreads: requested ?? defaultThreads(cores, gpuOption === false ? false : "maybe"),
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => {
      const text = message.trim();
      if (text && (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal)) errors.push(text);
      if (text) options.logger[LOG_MAP[level] ?? "debug"]({ component: "llama.cpp" }, text);
    },
  };
  const { llama, variant } = await loadLlama(options.binary ?? "auto", common, options.logger);
  const threads = requested ?? defaultThreads(cores, llama.gpu);
  const batchThreads =
    options.batchThreads && options.batchThreads > 0
      ? options.batchThreads
      : defaultBatchThreads(cores, threads, llama.buildType, llama.gpu);
  const lanesFor = (t: number) =>
    options.lanes && options.lanes > 0 ? options.lanes : defaultLanes(cores, t, llama.gpu);
  // The cap covers every lane's threads at once, and one lane's batched step while the others idle
  // (local-model.ts); node-llama-cpp's ThreadsSplitter would otherwise make lanes wait for each other.
  llama.maxThreads = Math.max(threads * lanesFor(threads), batchThreads);
  const view = (t: number): EngineRuntime => ({
    llama,
    threads: t,
    batchThreads,
    lanes: lanesFor(t),
    gpu: llama.gpu,
    buildType: llama.buildType,
    variant,
    explainFailure: (fn) => explainNativeFailure(errors, fn),
    forThreads: (other) => {
      llama.maxThreads = Math.max(llama.maxThreads, other * lanesFor(other));
      return view(other);
    },
    dispose: () => llama.dispose(),
  });
  return view(threads);
}

/**
 * How a model's contexts are shaped when a GPU does the math: parallel sequences from the VRAM left
 * once the weights are on the card, and the batch size. Pure functions of the model's dimensions and
 * the VRAM, so the rules are tested without a GPU (test/unit/gpu-sizing.test.ts); local-model.ts
 * applies them only when `llama.gpu` is not false, and the CPU keeps its own rules (chooseParallel,
 * node-llama-cpp's 512-token batch). Decode lanes are runtime.ts's `defaultLanes`: one on a GPU,
 * where a single context batches best (docs/ENGINE-NOTES.md §4.4).
 */

/** The dimensions that decide a sequence's KV cache and a batch's compute buffer. */
export interface ModelDims {
  layers: number;
  /** Key/value heads per layer (grouped-query attention: fewer than the query heads). */
  kvHeads: number;
  keyWidth: number;
  valueWidth: number;
  embedding: number;
  vocabulary: number;
}

/** The parts of a GGUF's architecture metadata ModelDims is read from. */
export interface DimsMetadata {
  block_count?: number;
  embedding_length?: number;
  vocab_size?: number;
  attention?: {
    head_count?: number | readonly number[];
    head_count_kv?: number | readonly number[];
    key_length?: number;
    value_length?: number;
  };
}

/** Bytes per cached key or value element: llama.cpp's default KV cache type is f16. */
const KV_ELEMENT_BYTES = 2;
/** Most sequences a model gets by default: the `--parallel` maximum. */
export const GPU_MAX_PARALLEL = 64;
/** Batch sizes tried, largest first; 512 is node-llama-cpp's (and llama.cpp's n_ubatch) default. */
const BATCH_SIZES = [2048, 1024, 512] as const;
/** VRAM kept free for the driver, other programs and allocation slack. */
const HEADROOM_BYTES = 512 * 2 ** 20;
/** Share of the usable VRAM a model's KV cache may take: the rest stays for other models and the compute buffer. */
const KV_SHARE = 0.5;
/** Share of the usable VRAM the compute buffer of a larger-than-default batch may take. */
const COMPUTE_SHARE = 0.1;

/** A head count, or the largest of per-layer ones. */
const mostOf = (v: number | readonly number[] | undefined): number | undefined =>
  v === undefined || typeof v === "number" ? v : v.reduce((a, b) => Math.max(a, b), 0);

/**
 * A model's dimensions from its GGUF metadata, or undefined where it does not say enough (the
 * engine then falls back to node-llama-cpp's own estimate). Per-layer head counts take the
 * largest, which sizes for the worst layer.
 */
export function modelDimsOf(metadata: DimsMetadata, vocabulary: number): ModelDims | undefined {
  const layers = metadata.block_count;
  const embedding = metadata.embedding_length;
  const heads = mostOf(metadata.attention?.head_count);
  if (!layers || !embedding || !heads) return undefined;
  const kvHeads = mostOf(metadata.attention?.head_count_kv) || heads;
  const headWidth = embedding / heads;
  return {
    layers,
    kvHeads,
    keyWidth: metadata.attention?.key_length ?? headWidth,
    valueWidth: metadata.attention?.value_length ?? headWidth,
    embedding,
    vocabulary: metadata.vocab_size ?? vocabulary,
  };
}

/** The KV cache of one sequence of `contextSize` tokens: every layer's keys and values, f16. */
export function kvBytesPerSequence(dims: ModelDims, contextSize: number): number {
  return dims.layers * dims.kvHeads * (dims.keyWidth + dims.valueWidth) * KV_ELEMENT_BYTES * contextSize;
}

/**
 * The compute buffer per token of batch, roughly: the logits row (vocabulary floats) and a few
 * embedding-wide activations, f32. llama.cpp's measured buffers (about 0.5 MB a token for an 8B
 * Llama 3 at 512) sit within a factor of two of it, which is all a choice between 512 and 2048 needs.
 */
export function computeBytesPerBatchToken(dims: ModelDims): number {
  return 4 * (dims.vocabulary + 8 * dims.embedding);
}

export interface GpuSizingInput {
  /** VRAM free with the model's weights already on the GPU. */
  freeVramBytes: number;
  kvBytesPerSequence: number;
  computeBytesPerBatchToken: number;
  /** Tokens per sequence. */
  contextSize: number;
  /** The configured sequences; 0 chooses. */
  parallel: number;
}

export interface GpuSizing {
  parallel: number;
  /** Tokens per llama_decode (node-llama-cpp makes it n_batch and n_ubatch alike). */
  batchSize: number;
}

/**
 * Parallel sequences and batch size on a GPU. A GPU runs a step of 64 tokens in about the time of
 * one, so sequences are cheap in time and cost only their KV cache: take as many as half the
 * usable VRAM holds (up to GPU_MAX_PARALLEL), leaving the rest to other models and the compute
 * buffer. A larger batch prefills a long prompt in fewer, fuller steps (llama-server's n_batch is
 * 2048); take the largest whose compute buffer stays a small share of the VRAM, no longer than a
 * sequence's context, and never less than one token per sequence.
 */
export function gpuSizing(input: GpuSizingInput): GpuSizing {
  const usable = Math.max(0, input.freeVramBytes - HEADROOM_BYTES) * 0.9;
  const batch =
    BATCH_SIZES.find((b) => b * input.computeBytesPerBatchToken <= usable * COMPUTE_SHARE) ??
    BATCH_SIZES[BATCH_SIZES.length - 1]!;
  let parallel = input.parallel;
  if (parallel <= 0) {
    const kvBudget = Math.max(0, usable - batch * input.computeBytesPerBatchToken) * KV_SHARE;
    const fits = input.kvBytesPerSequence > 0 ? Math.floor(kvBudget / input.kvBytesPerSequence) : GPU_MAX_PARALLEL;
    parallel = Math.max(1, Math.min(GPU_MAX_PARALLEL, fits));
  }
  // No prompt step is longer than a sequence's context (llama.cpp clamps n_batch to n_ctx, which
  // node-llama-cpp's queue would not know); a decode step holds one token per sequence.
  return { parallel, batchSize: Math.max(Math.min(batch, input.contextSize), parallel) };
}

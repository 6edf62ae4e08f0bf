/**
 * What a GGUF file says about itself, read from its header only (docs/ENGINE-NOTES.md §4.2): the model
 * library lists files with these facts and the model manager sizes its memory budget with the
 * estimates. Anything wrong with a file (not a GGUF, truncated, a missing split part) becomes a
 * GgufFileError carrying a reason a person can read, never a crash.
 */
import fs from "node:fs/promises";
import path from "node:path";
import {
  GgmlType,
  GgufFileType,
  GgufInsights,
  readGgufFileInfo,
  type GgufFileInfo,
  type GgufTensorInfo,
} from "node-llama-cpp";
import type { GgufFacts } from "../wire/models.js";
import { GgufHeaderError, validateGgufHeader } from "./gguf-validate.js";
import { laneShares, type EngineRuntime } from "./runtime.js";
import { thinksFromFile } from "./thinking.js";

/**
 * Which llama.cpp instance computes tensor sizes. Pass the server's runtime: without one,
 * node-llama-cpp makes a backend-less instance of its own, and if that happens before the runtime
 * starts, llama.cpp's log output bypasses the server's logger for the life of the process.
 */
export interface GgufReadOptions {
  runtime?: Pick<EngineRuntime, "llama"> | null;
}

/** A file that is not a usable GGUF; `reason` says why in plain words. */
export class GgufFileError extends Error {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
    this.name = "GgufFileError";
  }
}

interface Cached {
  key: string;
  info: GgufFileInfo;
  insights: GgufInsights;
}

// Header reads are cheap but not free (the tokenizer arrays of a big model are megabytes), and
// the manager asks for estimates of the same files again and again. Insights belong to one llama
// instance, so each has its own cache (a server's runtime, or none).
const caches = new WeakMap<object, Map<string, Cached>>();
const NO_RUNTIME = {};
const CACHE_LIMIT = 64;

function cacheFor(options: GgufReadOptions): Map<string, Cached> {
  const key = options.runtime?.llama ?? NO_RUNTIME;
  let cache = caches.get(key);
  if (!cache) {
    cache = new Map();
    caches.set(key, cache);
  }
  return cache;
}

async function statKey(files: readonly string[]): Promise<string> {
  const stats = await Promise.all(files.map((f) => fs.stat(f)));
  return stats.map((s) => `${s.size}:${s.mtimeMs}`).join("|");
}

function explain(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "ENOENT") return `File not found: ${e.path ?? "a part of the model"}.`;
  if (e?.code === "EACCES" || e?.code === "EPERM") return `Permission denied reading ${e.path ?? "the file"}.`;
  if (e?.constructor?.name === "InvalidGgufMagicError" || /GGUF magic/i.test(e?.message ?? ""))
    return "Not a GGUF file (the file does not start with the GGUF signature).";
  if (e?.constructor?.name === "UnsupportedGgufValueTypeError") return `Not a valid GGUF file: ${e.message}`;
  // A header cut short surfaces as a read past the end or as missing fields.
  if (e instanceof RangeError || /out of range|outside|beyond|end of/i.test(e?.message ?? ""))
    return "The file is truncated: its header ends early.";
  if (e instanceof TypeError) return "The file is truncated or damaged: its header could not be read.";
  return `The file could not be read as a GGUF model: ${e?.message ?? String(err)}`;
}

async function load(files: readonly string[], options: GgufReadOptions): Promise<Cached> {
  const cache = cacheFor(options);
  const llama = options.runtime?.llama;
  const first = files[0];
  if (first === undefined) throw new GgufFileError("No file given.");
  let key: string;
  try {
    key = await statKey(files);
  } catch (err) {
    throw new GgufFileError(explain(err), { cause: err });
  }
  const hit = cache.get(first);
  if (hit && hit.key === key) {
    cache.delete(first);
    cache.set(first, hit);
    return hit;
  }
  let info: GgufFileInfo;
  let insights: GgufInsights;
  try {
    // node-llama-cpp's reader trusts the header's counts; a hostile one is refused first (gguf-validate.ts).
    for (const file of files) await validateGgufHeader(file);
    info = await readGgufFileInfo(first, {
      logWarnings: false,
      sourceType: "filesystem",
      spliceSplitFiles: files.length > 1,
    });
    if (typeof info.metadata?.general?.architecture !== "string")
      throw new GgufFileError("The file is truncated or damaged: it names no model architecture.");
    insights = await GgufInsights.from(info, llama);
  } catch (err) {
    if (err instanceof GgufFileError) throw err;
    if (err instanceof GgufHeaderError) throw new GgufFileError(err.reason, { cause: err });
    throw new GgufFileError(explain(err), { cause: err });
  }
  if (info.splicedParts !== files.length) {
    throw new GgufFileError(`The model has ${info.splicedParts} part(s) but ${files.length} file(s) were found.`);
  }
  await checkComplete(files, info, llama);
  const entry = { key, info, insights };
  cache.set(first, entry);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  return entry;
}

/**
 * A download cut short or a copy that ran out of disk still has a valid header; the tensor data
 * then ends before the last tensor does. Each part must reach the end of its last tensor.
 */
async function checkComplete(
  files: readonly string[],
  info: GgufFileInfo,
  llama: EngineRuntime["llama"] | undefined,
): Promise<void> {
  const tensors = info.fullTensorInfo ?? [];
  const lastByPart = new Map<number, GgufTensorInfo>();
  for (const t of tensors) {
    const last = lastByPart.get(t.filePart);
    if (!last || BigInt(t.offset) > BigInt(last.offset)) lastByPart.set(t.filePart, t);
  }
  // filePart numbering is the order of the parts; map it onto the files in that order.
  const partIds = [...lastByPart.keys()].sort((a, b) => a - b);
  for (const [i, partId] of partIds.entries()) {
    const last = lastByPart.get(partId)!;
    const file = files[i];
    if (file === undefined) break;
    const lastInsights = await GgufInsights.from({ ...info, fullTensorInfo: [last] }, llama);
    const lastBytes = lastInsights.estimateModelResourceRequirements({ gpuLayers: 0, useMmap: false }).cpuRam;
    const expected = Number(BigInt(last.fileOffset) + BigInt(lastBytes));
    const { size } = await fs.stat(file);
    if (size < expected) {
      const where = files.length > 1 ? ` (part ${i + 1} of ${files.length})` : "";
      throw new GgufFileError(`The file is truncated${where}: it has ${size} bytes but its tensors need ${expected}.`);
    }
  }
}

function quantizationOf(info: GgufFileInfo, insights: GgufInsights): string | null {
  const fileType = info.metadata.general.file_type;
  if (typeof fileType === "number") {
    const name = GgufFileType[fileType];
    if (name) return name.replace(/^MOSTLY_/, "");
  }
  const dominant = insights.dominantTensorType;
  return dominant === undefined ? null : (GgmlType[dominant] ?? null);
}

/**
 * Reads the header of a model, given all its parts in order. Rejects with GgufFileError when the
 * file is missing, not a GGUF, truncated, or one of its parts is missing.
 */
export async function readGgufFacts(files: readonly string[], options: GgufReadOptions = {}): Promise<GgufFacts> {
  const { info, insights } = await load(files, options);
  const arch = info.metadata.general.architecture;
  const archMeta = info.architectureMetadata as {
    pooling_type?: number;
    context_length?: number;
    embedding_length?: number;
  };
  const projector = arch === "clip" || arch === ("mllama_vision" as string);
  const embeddingOnly =
    !projector && (archMeta.pooling_type !== undefined || (insights.hasEncoder && !insights.hasDecoder));
  const parts = info.splicedParts;
  return {
    architecture: arch,
    name: typeof info.metadata.general.name === "string" ? info.metadata.general.name : null,
    parameters: insights.totalParameters,
    quantization: quantizationOf(info, insights),
    trainContextSize: insights.trainContextSize ?? null,
    layers: insights.totalLayers,
    embeddingLength: insights.embeddingVectorSize ?? null,
    hasChatTemplate: typeof info.metadata.tokenizer?.chat_template === "string",
    thinks: !projector && !embeddingOnly && thinksFromFile(info, path.basename(files[0] ?? "")),
    supportsEmbeddings: embeddingOnly,
    supportsRanking: insights.supportsRanking,
    kind: projector ? "projector" : embeddingOnly && !insights.hasDecoder ? "embedding" : "llm",
    weightsBytes: insights.modelSize,
    parts,
  };
}

export interface MemoryEstimateOptions extends GgufReadOptions {
  /** Tokens per sequence. */
  contextSize: number;
  sequences: number;
  /** Contexts the sequences are spread over (decode lanes), each with its own buffers. Defaults to 1. */
  lanes?: number;
  /** Layers offloaded to the GPU. Defaults to 0 (CPU only). */
  gpuLayers?: number;
}

/** Bytes of RAM and VRAM the model plus a context of that shape is expected to take. */
export interface MemoryEstimate {
  ram: number;
  vram: number;
  total: number;
}

/** Estimates what loading the model with this context costs, from its header alone. */
export async function estimateModelMemory(
  files: readonly string[],
  options: MemoryEstimateOptions,
): Promise<MemoryEstimate> {
  const { insights } = await load(files, options);
  const gpuLayers = options.gpuLayers ?? 0;
  const model = insights.estimateModelResourceRequirements({ gpuLayers });
  let contextRam = 0;
  let contextVram = 0;
  for (const sequences of laneShares(Math.max(1, options.sequences), options.lanes ?? 1)) {
    const context = insights.estimateContextResourceRequirements({
      contextSize: Math.max(1, options.contextSize),
      sequences,
      modelGpuLayers: gpuLayers,
    });
    contextRam += context.cpuRam;
    contextVram += context.gpuVram;
  }
  const ram = Math.ceil(model.cpuRam + contextRam);
  const vram = Math.ceil(model.gpuVram + contextVram);
  return { ram, vram, total: ram + vram };
}

/** The context length the model was trained with, or null when the header does not say. */
export async function trainContextSizeOf(
  files: readonly string[],
  options: GgufReadOptions = {},
): Promise<number | null> {
  return (await load(files, options)).insights.trainContextSize ?? null;
}

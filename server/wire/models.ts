/**
 * The shapes of /api/models (server/api/models.ts; server/api/README.md, "Models"): the library,
 * per-model settings, the recommended list and downloads. Bodies the server parses are zod
 * schemas; shapes it only writes are interfaces that the route's code is typed against, so a
 * changed field fails the typecheck on both sides.
 */
import { z } from "zod";

/** The facts the library shows for one model (all parts of a split model together), read from its GGUF header (engine/gguf-info.ts). */
export interface GgufFacts {
  /** `general.architecture`, e.g. "llama", "qwen3", "bert", "clip". */
  architecture: string;
  /** `general.name`, when the file has one. */
  name: string | null;
  /** Number of weights, from the tensor shapes. */
  parameters: number;
  /** The file type ("Q4_K_M", "Q8_0", "F16"...), or the dominant tensor type when the file names none. */
  quantization: string | null;
  /** The context length the model was trained with, in tokens. */
  trainContextSize: number | null;
  layers: number;
  /** Width of the model's hidden state (the embedding vector size). */
  embeddingLength: number | null;
  hasChatTemplate: boolean;
  /**
   * The model thinks before it answers, as its file says (its chat template's thought syntax, or the
   * chat format its name and architecture call for): known before it is loaded. Once loaded,
   * `loaded.thinks` is what the chosen chat format does.
   */
  thinks: boolean;
  /** True for models made for embeddings (a pooling type, or an encoder-only architecture). */
  supportsEmbeddings: boolean;
  supportsRanking: boolean;
  /**
   * "llm" generates text; "embedding" only embeds; "projector" is a vision/audio projector
   * (mmproj) that is not a model on its own.
   */
  kind: "llm" | "embedding" | "projector";
  /** Bytes of weights (what loading the model costs before any context). */
  weightsBytes: number;
  /** Number of files the model is split into (1 for a single file). */
  parts: number;
}

/** "unloaded" models are in the library but not in memory. */
export type LocalModelState = "unloaded" | "loading" | "loaded" | "unloading" | "error";

/** Per-model load settings (PUT /api/models/:id/settings; kept by models/model-settings.ts). */
export const ModelSettingsSchema = z.strictObject({
  /** Tokens per sequence; 0 chooses from the model (capped at 4096). Defaults to the server's --ctx-size. */
  contextSize: z.number().int().min(0).max(1_048_576).optional(),
  /** "auto" fits what free VRAM allows, "max" offloads every layer, a number that many. Defaults to "auto". */
  gpuLayers: z.union([z.literal("auto"), z.literal("max"), z.number().int().min(0).max(10_000)]).optional(),
  /** Sequences decoded together; 0 chooses from the model and memory. Defaults to the server's --parallel. */
  parallel: z.number().int().min(0).max(64).optional(),
  /** CPU threads for this model's math; 0 uses the server's. Defaults to the server's --threads. */
  threads: z.number().int().min(0).max(256).optional(),
  /** Speculative decoding by prompt lookup for this model. Defaults to the server's --prompt-lookup. */
  promptLookup: z.boolean().optional(),
  /**
   * A smaller model with the same vocabulary that drafts for this one: a model of the library (its
   * id) or a GGUF path. Defaults to the server's --draft-model.
   */
  draftModel: z.string().min(1).max(4096).optional(),
});
export type ModelSettings = z.infer<typeof ModelSettingsSchema>;

/** One model of the library as GET /api/models describes it. */
export interface LibraryModelView {
  id: string;
  file: string;
  files: string[];
  location: "managed" | "folder" | "external";
  folder: string;
  sizeBytes: number;
  modifiedAt: number;
  status: "ok" | "invalid" | "broken";
  error: string | null;
  facts: GgufFacts | null;
  state: LocalModelState;
  loadProgress: number | null;
  loadError: string | null;
  memoryBytes: number | null;
  lastUsedAt: number | null;
  pinned: boolean;
  loaded: {
    contextSize: number;
    parallel: number;
    lanes: number;
    gpuLayers: number;
    trainContextSize: number;
    chatWrapper: string;
    /** The model writes thoughts apart from its answer (a reasoning control applies). */
    thinks: boolean;
    /** How it speculates (README, "Speculative decoding"), the draft by file name; null where it does not. */
    speculative: { promptLookup: boolean; draftModel: string | null; draftMax: number } | null;
    busy: number;
    queued: number;
  } | null;
  settings: ModelSettings;
}

/** GET /api/models and POST /api/models/rescan. */
export interface ModelLibraryList {
  models: LibraryModelView[];
  remote: { id: string; provider: string; ownedBy: string }[];
  /** The managed models folder and any extra folders. */
  folders: { path: string; location: "managed" | "folder" }[];
  memory: { budgetBytes: number; usedBytes: number };
}

/** One model of the curated first-run list (models/recommended.ts). */
export interface RecommendedModel {
  /** The id the model gets in the library once downloaded (its file name without .gguf). */
  id: string;
  name: string;
  description: string;
  /** What to send as `source` to POST /api/models/downloads. */
  source: string;
  fileName: string;
  parameters: string;
  quantization: string;
  /** Approximate download size in bytes. */
  downloadBytes: number;
  /** Approximate memory needed to run it with a 4096-token context, in bytes. */
  memoryBytes: number;
  license: string;
}

/** One entry of GET /api/models/recommended: the model and where this machine stands with it. */
export type RecommendedView = RecommendedModel & {
  installed: boolean;
  modelId: string | null;
  downloadId: string | null;
  fitsMemory: boolean;
};

/** Body of POST /api/models/downloads. */
export const DownloadRequestSchema = z.object({
  /** `hf:owner/repo/file.gguf`, `hf:owner/repo:Q4_K_M`, `owner/repo`, a huggingface.co URL, or any http(s) URL of a .gguf. */
  source: z.string().trim().min(1).max(2000),
  /** For a repository: which quantization to take (e.g. "Q4_K_M"). Defaults to Q4_K_M when the repository has several. */
  quantization: z
    .string()
    .regex(/^[\w.-]{1,40}$/, "must be a quantization name such as Q4_K_M")
    .optional(),
  /** The name to save a plain URL's file as. Defaults to the URL's last path segment. */
  fileName: z.string().min(1).max(200).optional(),
  /** Expected sha256 (hex) of a single-file download, when the source does not publish one. */
  sha256: z
    .string()
    .regex(/^[a-fA-F0-9]{64}$/, "must be 64 hex digits")
    .optional(),
});
export type DownloadRequest = z.infer<typeof DownloadRequestSchema>;

export type DownloadState = "queued" | "downloading" | "paused" | "verifying" | "completed" | "failed" | "cancelled";

/** What the API and the progress stream show of one download (models/downloads.ts). */
export interface DownloadSnapshot {
  id: string;
  source: string;
  /** The id the model has (or will have) in the library. */
  modelId: string;
  state: DownloadState;
  files: { name: string; size: number | null; bytes: number; sha256: string | null }[];
  /** Bytes on disk so far, all files together. */
  bytes: number;
  /** Total bytes, once known. */
  total: number | null;
  /** Bytes per second over the last few seconds. */
  speed: number;
  /** Seconds left at the current speed, when it can be told. */
  eta: number | null;
  /** Why it failed or paused by itself. */
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

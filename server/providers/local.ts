/**
 * The local provider: models on this machine, run by the engine. Issue #6 grows this into a
 * library with just-in-time loading and LRU eviction; today it serves the models it was given.
 */
import path from "node:path";
import { ModelNotFoundError, NotReadyError } from "../errors.js";
import type { Logger } from "../logger.js";
import { LocalModel, type LocalModelOptions } from "../engine/local-model.js";
import { createRuntime, type EngineRuntime, type GpuChoice } from "../engine/runtime.js";
import type { PoolStats } from "../engine/slot-pool.js";
import type { EmbeddingRequest, EmbeddingResult, GenerationRequest, GenerationStream, ModelInfo, Provider } from "./types.js";

export interface LocalProviderOptions {
  gpu: GpuChoice;
  threads: number;
  parallel: number;
  ctxSize: number;
  maxQueue: number;
  defaultMaxTokens: number;
  logger: Logger;
  onPoolChange?: (model: string, stats: PoolStats) => void;
}

export type LocalModelState = "loading" | "loaded" | "error";

/** The id a model file is known by: its file name without `.gguf`. */
export function modelIdFromPath(file: string): string {
  return path.basename(file).replace(/\.gguf$/i, "");
}

export class LocalProvider implements Provider {
  readonly id = "local";
  private runtime: Promise<EngineRuntime> | null = null;
  private readonly models = new Map<string, { state: LocalModelState; model?: LocalModel; loading?: Promise<LocalModel>; error?: string; created: number }>();

  constructor(private readonly options: LocalProviderOptions) {}

  getRuntime(): Promise<EngineRuntime> {
    this.runtime ??= createRuntime({ gpu: this.options.gpu, threads: this.options.threads, logger: this.options.logger });
    return this.runtime;
  }

  /** Loads a GGUF and serves it under its file name. */
  async load(file: string, onLoadProgress?: (p: number) => void): Promise<LocalModel> {
    const id = modelIdFromPath(file);
    const existing = this.models.get(id);
    if (existing?.model) return existing.model;
    if (existing?.loading) return existing.loading;
    const runtime = await this.getRuntime();
    const options: LocalModelOptions = {
      id,
      path: file,
      parallel: this.options.parallel,
      ctxSize: this.options.ctxSize,
      maxQueue: this.options.maxQueue,
      defaultMaxTokens: this.options.defaultMaxTokens,
      runtime,
      logger: this.options.logger,
      onPoolChange: (stats) => this.options.onPoolChange?.(id, stats),
      onLoadProgress,
    };
    const loading = LocalModel.load(options);
    this.models.set(id, { state: "loading", loading, created: Math.floor(Date.now() / 1000) });
    try {
      const model = await loading;
      this.models.set(id, { state: "loaded", model, created: Math.floor(Date.now() / 1000) });
      return model;
    } catch (err) {
      this.models.set(id, { state: "error", error: (err as Error).message, created: Math.floor(Date.now() / 1000) });
      throw err;
    }
  }

  loaded(): LocalModel[] {
    return [...this.models.values()].flatMap((m) => (m.model ? [m.model] : []));
  }

  states(): { id: string; state: LocalModelState; error?: string }[] {
    return [...this.models.entries()].map(([id, m]) => ({ id, state: m.state, ...(m.error ? { error: m.error } : {}) }));
  }

  async listModels(): Promise<ModelInfo[]> {
    return [...this.models.entries()]
      .filter(([, m]) => m.state !== "error")
      .map(([id, m]) => ({ id, ownedBy: "local", created: m.created, provider: this.id }));
  }

  async hasModel(model: string): Promise<boolean> {
    return this.models.has(this.normalize(model));
  }

  private normalize(model: string): string {
    return model.replace(/\.gguf$/i, "");
  }

  private async get(model: string): Promise<LocalModel> {
    const entry = this.models.get(this.normalize(model));
    if (!entry || entry.state === "error") throw new ModelNotFoundError(model, [...this.models.keys()]);
    if (entry.model) return entry.model;
    if (entry.loading) return entry.loading;
    throw new NotReadyError(`The model '${model}' is still loading.`);
  }

  async generate(request: GenerationRequest, signal: AbortSignal): Promise<GenerationStream> {
    return (await this.get(request.model)).generate(request, signal);
  }

  async embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
    return (await this.get(request.model)).embed(request.input, signal);
  }

  /** Gives running generations `graceMs` to finish, then cancels them and frees every model. */
  async close(graceMs = 0): Promise<void> {
    await Promise.allSettled(this.loaded().map((m) => m.close(graceMs)));
    this.models.clear();
    if (this.runtime) await (await this.runtime).dispose();
  }
}

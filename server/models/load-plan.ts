/**
 * What loading a model will use and take, decided before any memory is spent: its settings (its
 * own, else the server's), the context size, the parallel sequences, the runtime (its own thread
 * count, if set) and the memory estimate the budget checks. The model manager (manager.ts) plans,
 * makes room, then loads.
 */
import os from "node:os";
import { estimateModelMemory, trainContextSizeOf, type MemoryEstimate } from "../engine/gguf-info.js";
import { chooseParallel } from "../engine/local-model.js";
import type { EngineRuntime } from "../engine/runtime.js";
import type { ModelSettings } from "./model-settings.js";

/** A model without its own context size gets its training context, capped here. */
const DEFAULT_CTX_CAP = 4096;

export interface LoadPlan {
  contextSize: number;
  /** 0 lets the engine choose (with a GPU). */
  parallel: number;
  gpuLayers: NonNullable<ModelSettings["gpuLayers"]>;
  /** The server's runtime, or one with the model's own thread count. */
  runtime: EngineRuntime;
  /** Weights plus contexts, as loaded with this plan. */
  estimate: MemoryEstimate;
}

/** What a load plan sizes: the settings of memory and threads (speculation is the manager's, speculationFor). */
export type LoadSettings = Required<Pick<ModelSettings, "contextSize" | "gpuLayers" | "parallel" | "threads">>;

/** The load settings of a model: its own, else the server's. */
export function loadSettingsOf(own: ModelSettings, server: { contextSize: number; parallel: number }): LoadSettings {
  return {
    contextSize: own.contextSize ?? server.contextSize,
    gpuLayers: own.gpuLayers ?? "auto",
    parallel: own.parallel ?? server.parallel,
    threads: own.threads ?? 0,
  };
}

export async function planLoad(files: string[], settings: LoadSettings, runtime: EngineRuntime): Promise<LoadPlan> {
  const contextSize =
    settings.contextSize > 0
      ? settings.contextSize
      : Math.min((await trainContextSizeOf(files, { runtime })) ?? DEFAULT_CTX_CAP, DEFAULT_CTX_CAP);
  let parallel = settings.parallel;
  if (parallel <= 0 && runtime.gpu === false) {
    // Choose here rather than in the engine, so the budget check sizes what is loaded.
    const one = await estimateModelMemory(files, { contextSize, sequences: 1, runtime });
    const two = await estimateModelMemory(files, { contextSize, sequences: 2, runtime });
    parallel = chooseParallel(one.total - (two.total - one.total), Math.max(1, two.total - one.total), os.freemem());
  }
  const modelRuntime =
    settings.threads > 0 && settings.threads !== runtime.threads ? runtime.forThreads(settings.threads) : runtime;
  const estimate = await estimateModelMemory(files, {
    contextSize,
    sequences: parallel > 0 ? parallel : 4,
    lanes: modelRuntime.lanes,
    runtime,
  });
  return { contextSize, parallel, gpuLayers: settings.gpuLayers, runtime: modelRuntime, estimate };
}

/**
 * The model manager: the one owner of a local model's lifecycle. Every model in the library can be
 * named by a request, and is loaded just in time, kept while it is used, unloaded after an idle
 * time, and evicted least-recently-used first when loading another would exceed the memory budget
 * (memory-budget.ts). Loads and unloads run one at a time (docs/STYLE.md #7); requests for a model
 * that is loading wait for it, up to a bound, instead of failing. A file's first load goes through
 * the load probe (engine/load-probe.ts); what a load uses comes from load-plan.ts; the mechanics of
 * a loaded model are engine/local-model.ts. `providers/local.ts` serves requests on top of it.
 */
import fs from "node:fs";
import path from "node:path";
import type { LocalModelState } from "../wire/models.js";
import { estimateModelMemory, GgufFileError, type MemoryEstimate } from "../engine/gguf-info.js";
import { LoadProbe, ModelCheckFailedError, ModelUnusableError } from "../engine/load-probe.js";
import type { ChildSpawner } from "../util/disposable-child.js";
import { LocalModel, type LocalModelInfo } from "../engine/local-model.js";
import { createRuntime, type EngineBinary, type EngineRuntime, type GpuChoice } from "../engine/runtime.js";
import type { PoolStats } from "../engine/slot-pool.js";
import { DEFAULT_DRAFT_MAX, type SpeculationConfig } from "../engine/speculative.js";
import { BadRequestError, HearthError, ModelNotFoundError, NotReadyError, ShuttingDownError } from "../errors.js";
import type { Logger } from "../logger.js";
import { DownloadManager, type DownloadManagerOptions } from "./downloads.js";
import { ModelLibrary, type LibraryModel } from "./library.js";
import { loadSettingsOf, planLoad } from "./load-plan.js";
import { MemoryBudget } from "./memory-budget.js";
import { ModelSettingsStore } from "./model-settings.js";
import { assertSafeModelName } from "./names.js";

export interface ModelManagerOptions {
  gpu: GpuChoice;
  threads: number;
  /** 0 = auto. Defaults to 0. */
  batchThreads?: number;
  /** 0 = auto. Defaults to 0. */
  lanes?: number;
  /** Defaults to "auto". */
  engineBinary?: EngineBinary;
  parallel: number;
  ctxSize: number;
  maxQueue: number;
  defaultMaxTokens: number;
  logger: Logger;
  onPoolChange?: (model: string, stats: PoolStats) => void;
  /** Called whenever a model changes state (for metrics and logs). */
  onModelState?: (model: string, info: ModelStateInfo) => void;
  /** The models folder (`<data-dir>/models`): downloads and imports land there. */
  modelsDir: string;
  /** More folders whose models are listed and can be loaded. Defaults to none. */
  extraModelDirs?: readonly string[];
  /** Unload a model after this many seconds without requests; 0 never. Defaults to 0. */
  idleTimeoutSeconds?: number;
  /** Bytes all loaded models may take together (weights plus contexts); 0 chooses from the machine. Defaults to 0. */
  memoryBudgetBytes?: number;
  /** Seconds a request waits for its model to load (or for memory to free up) before a 503. Defaults to 120. */
  loadWaitSeconds?: number;
  /** Where per-model settings are kept. Defaults to none (settings live in memory only). */
  settingsFile?: string;
  /** Where load-probe verdicts are kept (engine/load-probe.ts). Defaults to none (memory only). */
  loadCheckFile?: string;
  /**
   * Starts the disposable processes of the load probe and the chat-template checker
   * (util/disposable-child.ts). Defaults to children of this process with its own Node.
   */
  children?: ChildSpawner;
  /** Use this library instead of building one from the folders. */
  library?: ModelLibrary;
  /** Base URL of Hugging Face for downloads. Defaults to https://huggingface.co. */
  hfEndpoint?: string;
  /** Sent to `hfEndpoint` only. Defaults to none. */
  hfToken?: string;
  /** A chat wrapper name or Jinja template for every local model instead of its own. Defaults to none. */
  chatTemplate?: string;
  /**
   * Speculative decoding for every local model (engine/speculative.ts), the draft model as given
   * (a GGUF path or a model of the library); a model's own settings override it. Defaults to none.
   */
  speculative?: SpeculationConfig | null;
  /** Options for the download manager (timeouts, retries), mostly for tests. */
  downloadOptions?: Partial<Omit<DownloadManagerOptions, "modelsDir" | "library" | "logger" | "hfEndpoint">>;
}

/** "unloaded" models are in the library but not in memory (the type is the wire's: wire/models.ts). */
export type { LocalModelState };

/** One model's state, as `/health/ready`, the metrics and `/api/models` report it. */
export interface ModelStateInfo {
  id: string;
  state: LocalModelState;
  /** Load progress 0..1 while loading. */
  progress?: number;
  error?: string;
  /** Estimated bytes the model takes while loaded (weights plus its context). */
  memoryBytes?: number;
  /** When a request last used it (ms since the epoch). */
  lastUsedAt?: number;
  /** Pinned models are never unloaded for being idle (the one given with --model). */
  pinned?: boolean;
}

interface Entry {
  id: string;
  files: string[];
  state: Exclude<LocalModelState, "unloaded">;
  model?: LocalModel;
  loading?: Promise<LocalModel>;
  progress: number;
  error?: string;
  memory: number;
  lastUsed: number;
  pinned: boolean;
  /** Requests between naming the model and being admitted by its slot pool. */
  pending: number;
  /** True while its load waits for busy models to free memory. */
  waitingForMemory: boolean;
  stats: PoolStats;
  idleTimer?: NodeJS.Timeout;
  /** When the idle timer fires (ms since the epoch), while one is set. */
  expiresAt?: number;
}

/** The longest delay setTimeout takes (2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

type UnloadReason = "idle" | "gone" | "evicted" | "requested" | "deleted";

export class ModelManager {
  readonly library: ModelLibrary;
  readonly settings: ModelSettingsStore;
  readonly downloads: DownloadManager;
  private runtime: Promise<EngineRuntime> | null = null;
  private readonly entries = new Map<string, Entry>();
  /** Per-model idle times set by requests (Ollama's `keep_alive`), in ms; forgotten when the model unloads. */
  private readonly keepAlives = new Map<string, number>();
  /** Load and unload operations, one at a time. */
  private lock: Promise<unknown> = Promise.resolve();
  private readonly changeWaiters = new Set<() => void>();
  private readonly shutdown = new AbortController();
  private readonly budget: MemoryBudget;
  /** A file's first load runs in a disposable child first, so a file that crashes llama.cpp cannot take the server down. */
  private readonly loadProbe: LoadProbe;

  constructor(private readonly options: ModelManagerOptions) {
    this.budget = new MemoryBudget(options.memoryBudgetBytes ?? 0);
    this.loadProbe = new LoadProbe({
      cacheFile: options.loadCheckFile ?? null,
      logger: options.logger,
      ...(options.children ? { children: options.children } : {}),
    });
    this.library =
      options.library ??
      new ModelLibrary({
        modelsDir: options.modelsDir,
        extraDirs: options.extraModelDirs ?? [],
        logger: options.logger,
        runtime: () => this.getRuntime(),
        knownBroken: async (files) => this.loadProbe.brokenReason(files, await this.getRuntime()),
      });
    this.downloads = new DownloadManager({
      ...options.downloadOptions,
      modelsDir: options.modelsDir,
      hfEndpoint: options.hfEndpoint ?? "https://huggingface.co",
      ...(options.hfToken ? { hfToken: options.hfToken } : {}),
      library: this.library,
      logger: options.logger,
    });
    // A model whose file left the library (deleted or moved outside Hearth) is let go once idle.
    this.library.onChange((models) => {
      const present = new Set(models.map((m) => m.id));
      for (const entry of this.entries.values()) {
        if (!present.has(entry.id) && entry.state === "loaded" && this.isIdle(entry))
          void this.serialized(() => this.doUnload(entry, "gone")).catch(() => undefined);
      }
    });
    this.settings = new ModelSettingsStore(options.settingsFile ?? null, (err) =>
      options.logger.warn({ err: err.message }, "model settings file ignored"),
    );
  }

  getRuntime(): Promise<EngineRuntime> {
    this.runtime ??= createRuntime({
      gpu: this.options.gpu,
      threads: this.options.threads,
      batchThreads: this.options.batchThreads ?? 0,
      lanes: this.options.lanes ?? 0,
      binary: this.options.engineBinary ?? "auto",
      logger: this.options.logger,
    });
    return this.runtime;
  }

  private get loadWaitMs(): number {
    return (this.options.loadWaitSeconds ?? 120) * 1000;
  }

  // --- which models are available -------------------------------------------------------------

  /** The library's models that can be loaded (status `ok`), once the first scan finished. */
  async usable(): Promise<LibraryModel[]> {
    await this.library.ready();
    return this.library.list().filter((m) => m.status === "ok");
  }

  /** True when the library has `name` (with or without `.gguf`), usable or not. */
  async has(name: string): Promise<boolean> {
    assertSafeModelName(name);
    await this.library.ready();
    return this.library.get(this.normalize(name)) !== undefined;
  }

  // --- load, unload, delete -------------------------------------------------------------------

  /**
   * Loads a GGUF given by path (the `--model` at start-up) and serves it under its file name.
   * It is pinned: idle time never unloads it. Waits for the load however long it takes.
   */
  async load(file: string, onLoadProgress?: (p: number) => void): Promise<LocalModel> {
    const known = this.library.byFile(file) ?? (await this.library.addExternal(file));
    const entry = this.entryFor(known);
    entry.pinned = true;
    return this.ensureLoaded(entry, { onLoadProgress });
  }

  /** Loads a library model by id (the /api load action). */
  async loadById(id: string, options: { pinned?: boolean; signal?: AbortSignal } = {}): Promise<ModelStateInfo> {
    const model = await this.libraryModel(id);
    const entry = this.entryFor(model);
    if (options.pinned !== undefined) entry.pinned = options.pinned;
    entry.pending++;
    try {
      await this.ensureLoaded(entry, { signal: options.signal, bounded: true });
    } finally {
      entry.pending--;
      this.touched(entry);
    }
    return this.stateOf(id);
  }

  /** Unloads a model now; requests it is running are cancelled. Resolves when its memory is free. */
  async unload(id: string): Promise<ModelStateInfo> {
    const entry = this.entries.get(id);
    if (!entry) {
      await this.libraryModel(id);
      return this.stateOf(id);
    }
    await this.serialized(() => this.doUnload(entry, "requested"));
    return this.stateOf(id);
  }

  /** Unloads a model and deletes its files from the models folder. */
  async deleteModel(id: string): Promise<void> {
    this.library.assertDeletable(await this.libraryModel(id));
    const entry = this.entries.get(id);
    if (entry) await this.serialized(() => this.doUnload(entry, "deleted"));
    await this.library.deleteFiles(id);
    await this.settings.remove(id);
  }

  /**
   * Runs `use` with the model `name` loaded (just in time), keeping it from being evicted or
   * unloaded for idleness until `use` resolves (for a generation: until its slot pool admitted it).
   */
  async withModel<T>(name: string, signal: AbortSignal, use: (model: LocalModel) => Promise<T>): Promise<T> {
    const libraryModel = await this.libraryModel(name);
    if (libraryModel.status !== "ok") {
      const reason = libraryModel.error ?? "the file is not usable";
      // Asked for and refused before any load (the header check, a probe verdict from disk): its
      // state says why, in /api/models and /health/ready, as for a load that failed.
      const entry = this.entryFor(libraryModel);
      if (entry.state !== "loading" && entry.state !== "loaded" && entry.state !== "unloading") {
        entry.error = reason;
        this.setState(entry, "error");
      }
      throw new BadRequestError(`The model '${libraryModel.id}' cannot be loaded: ${reason}`, {
        param: "model",
        code: "model_unusable",
      });
    }
    const entry = this.entryFor(libraryModel);
    entry.pending++;
    try {
      const model = await this.ensureLoaded(entry, { signal, bounded: true });
      entry.lastUsed = Date.now();
      return await use(model);
    } finally {
      entry.pending--;
      this.touched(entry);
    }
  }

  /** Gives running generations `graceMs` to finish, then cancels them and frees every model. */
  async close(graceMs = 0): Promise<void> {
    this.shutdown.abort(new ShuttingDownError());
    const downloads = this.downloads.close();
    for (const e of this.entries.values()) clearTimeout(e.idleTimer);
    const closing = [...this.entries.values()].map(async (e) => {
      const model = e.model ?? (await e.loading?.catch(() => undefined));
      await model?.close(graceMs);
    });
    await Promise.allSettled(closing);
    this.entries.clear();
    this.notifyChange();
    await downloads;
    if (this.runtime) await (await this.runtime.catch(() => null))?.dispose();
  }

  /**
   * How long `name` stays loaded once nothing runs on it, instead of the server's idle timeout
   * (Ollama's `keep_alive`): 0 unloads it as soon as it is idle, Infinity never (pinned or not),
   * undefined goes back to the server's setting. Held until the model unloads.
   */
  async keepAlive(name: string, ms: number | undefined): Promise<void> {
    const { id } = await this.libraryModel(name);
    if (ms === undefined) this.keepAlives.delete(id);
    else this.keepAlives.set(id, ms);
    const entry = this.entries.get(id);
    if (entry) this.touched(entry);
  }

  /** When a loaded, idle model will be unloaded (ms since the epoch); null when it will not (yet). */
  expiresAt(id: string): number | null {
    return this.entries.get(id)?.expiresAt ?? null;
  }

  // --- state ----------------------------------------------------------------------------------

  loaded(): LocalModel[] {
    return [...this.entries.values()].flatMap((e) => (e.state === "loaded" && e.model ? [e.model] : []));
  }

  /** Models that are loaded, loading, unloading or failed to load (the engine's own state). */
  states(): ModelStateInfo[] {
    return [...this.entries.keys()].map((id) => this.stateOf(id));
  }

  /** One model's state, "unloaded" when the library has it and memory does not. */
  stateOf(id: string): ModelStateInfo {
    const e = this.entries.get(id);
    if (!e) return { id, state: "unloaded" };
    return {
      id,
      state: e.state,
      ...(e.state === "loading" ? { progress: e.progress } : {}),
      ...(e.error ? { error: e.error } : {}),
      ...(e.memory > 0 ? { memoryBytes: e.memory } : {}),
      lastUsedAt: e.lastUsed,
      pinned: e.pinned,
    };
  }

  /** The loaded model's runtime facts (context, parallel...), when loaded. */
  loadedInfo(id: string): (LocalModelInfo & PoolStats) | null {
    const e = this.entries.get(id);
    return e?.state === "loaded" && e.model ? { ...e.model.info, ...e.model.stats } : null;
  }

  /**
   * The memory budget in bytes. Before the engine started, the automatic budget counts RAM only
   * (VRAM is measured when the engine starts).
   */
  memoryBudget(): number {
    return this.budget.current();
  }

  // --- the lifecycle itself -------------------------------------------------------------------

  /**
   * How model `id` speculates: its own settings (`promptLookup`, `draftModel`) over the server's,
   * the draft model resolved to a file (a path, or a model of the library by id).
   */
  private speculationFor(id: string): SpeculationConfig | null {
    const own = this.settings.get(id);
    const server = this.options.speculative ?? null;
    const promptLookup = own.promptLookup ?? server?.promptLookup ?? false;
    const draftSpec = own.draftModel ?? server?.draftModel;
    if (!promptLookup && !draftSpec) return null;
    const draftMax = server?.draftMax ?? DEFAULT_DRAFT_MAX;
    return { promptLookup, draftMax, ...(draftSpec ? { draftModel: this.draftFile(draftSpec) } : {}) };
  }

  private draftFile(spec: string): string {
    if (fs.statSync(spec, { throwIfNoEntry: false })?.isFile()) return path.resolve(spec);
    const file = this.library.get(this.normalize(spec))?.files[0];
    if (file) return file;
    throw new BadRequestError(`The draft model '${spec}' is neither a GGUF file nor a model in the library.`, {
      param: "draftModel",
      code: "model_not_found",
    });
  }

  private normalize(model: string): string {
    return model.replace(/\.gguf$/i, "");
  }

  private async libraryModel(name: string): Promise<LibraryModel> {
    assertSafeModelName(name);
    await this.library.ready();
    const id = this.normalize(name);
    const model = this.library.get(id);
    if (!model)
      throw new ModelNotFoundError(
        name,
        this.library
          .list()
          .filter((m) => m.status === "ok")
          .map((m) => m.id),
      );
    return model;
  }

  private entryFor(model: LibraryModel): Entry {
    let entry = this.entries.get(model.id);
    if (!entry) {
      entry = {
        id: model.id,
        files: model.files,
        state: "error",
        progress: 0,
        memory: 0,
        lastUsed: Date.now(),
        pinned: false,
        pending: 0,
        waitingForMemory: false,
        stats: { size: 0, busy: 0, queued: 0 },
      };
      this.entries.set(model.id, entry);
    }
    return entry;
  }

  private setState(entry: Entry, state: Entry["state"]): void {
    entry.state = state;
    this.options.onModelState?.(entry.id, this.stateOf(entry.id));
    this.notifyChange();
  }

  private async ensureLoaded(
    entry: Entry,
    options: { signal?: AbortSignal; bounded?: boolean; onLoadProgress?: (p: number) => void },
  ): Promise<LocalModel> {
    if (this.shutdown.signal.aborted) throw new ShuttingDownError();
    clearTimeout(entry.idleTimer);
    if (entry.state === "loaded" && entry.model) return entry.model;
    if (entry.state !== "loading") {
      // Not loaded, failed before, or being unloaded: (re)load after whatever runs now.
      entry.error = undefined;
      entry.progress = 0;
      this.setState(entry, "loading");
      const loading = this.serialized(() => this.doLoad(entry, options.onLoadProgress));
      entry.loading = loading;
      loading.catch(() => undefined);
    }
    const loading = entry.loading!;
    if (!options.bounded) return loading;
    return this.bounded(loading, options.signal, () =>
      entry.waitingForMemory
        ? `Not enough memory for '${entry.id}' while other models are busy; retry in a moment.`
        : `The model '${entry.id}' is still loading; retry in a moment.`,
    );
  }

  /** Waits for `work`, but no longer than the load wait nor past the signal. */
  private async bounded<T>(
    work: Promise<T>,
    signal: AbortSignal | undefined,
    timeoutMessage: () => string,
  ): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new NotReadyError(timeoutMessage(), 5)), this.loadWaitMs);
          timer.unref();
        }),
        new Promise<never>((_, reject) => {
          if (!signal) return;
          if (signal.aborted) return reject(signal.reason);
          onAbort = () => reject(signal.reason);
          signal.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private loadedMemory(except: Entry): number {
    let sum = 0;
    for (const e of this.entries.values())
      if (e !== except && (e.state === "loaded" || e.state === "unloading")) sum += e.memory;
    return sum;
  }

  private isIdle(e: Entry): boolean {
    return e.pending === 0 && e.stats.busy === 0 && e.stats.queued === 0;
  }

  private async doLoad(entry: Entry, onLoadProgress?: (p: number) => void): Promise<LocalModel> {
    // An unload that ran while this load waited its turn may have dropped the entry.
    if (!this.entries.has(entry.id)) this.entries.set(entry.id, entry);
    try {
      if (this.shutdown.signal.aborted) throw new ShuttingDownError();
      const runtime = await this.getRuntime();
      const settings = loadSettingsOf(this.settings.get(entry.id), {
        contextSize: this.options.ctxSize,
        parallel: this.options.parallel,
      });
      const plan = await planLoad(entry.files, settings, runtime);
      const speculative = this.speculationFor(entry.id);
      // A draft model is loaded beside the model, one draft sequence per sequence: the budget counts it.
      const draftFile = speculative?.draftModel && speculative.draftMax > 0 ? speculative.draftModel : null;
      const draftMemory = async (contextSize: number, sequences: number) =>
        draftFile ? (await estimateModelMemory([draftFile], { contextSize, sequences, runtime })).total : 0;
      const planned = await draftMemory(plan.contextSize, plan.parallel > 0 ? plan.parallel : 4);
      await this.makeRoom(entry, {
        ...plan.estimate,
        ram: plan.estimate.ram + planned,
        total: plan.estimate.total + planned,
      });
      await this.loadProbe.ensureLoadable(
        entry.files,
        plan.runtime,
        { gpuLayers: plan.gpuLayers, contextSize: plan.contextSize },
        {
          id: entry.id,
          signal: this.shutdown.signal,
          onBroken: (reason) => this.library.markBroken(entry.files[0]!, reason),
        },
      );
      const model = await LocalModel.load({
        id: entry.id,
        path: entry.files[0]!,
        parallel: plan.parallel,
        ctxSize: plan.contextSize,
        gpuLayers: plan.gpuLayers,
        ...(this.options.chatTemplate !== undefined ? { chatTemplate: this.options.chatTemplate } : {}),
        speculative,
        maxQueue: this.options.maxQueue,
        defaultMaxTokens: this.options.defaultMaxTokens,
        runtime: plan.runtime,
        logger: this.options.logger,
        ...(this.options.children ? { children: this.options.children } : {}),
        signal: this.shutdown.signal,
        onPoolChange: (stats) => {
          entry.stats = stats;
          entry.lastUsed = Date.now();
          this.options.onPoolChange?.(entry.id, stats);
          this.touched(entry);
        },
        onLoadProgress: (p) => {
          entry.progress = p;
          onLoadProgress?.(p);
        },
      });
      if (this.shutdown.signal.aborted) {
        await model.close();
        throw new ShuttingDownError();
      }
      const actual = await estimateModelMemory(entry.files, {
        contextSize: model.info.contextSize,
        sequences: model.info.parallel,
        lanes: model.info.lanes,
        gpuLayers: model.info.gpuLayers,
        runtime,
      }).catch(() => plan.estimate);
      entry.memory =
        actual.total + (await draftMemory(model.info.contextSize, model.info.parallel).catch(() => planned));
      entry.model = model;
      entry.stats = model.stats;
      entry.lastUsed = Date.now();
      this.setState(entry, "loaded");
      this.touched(entry);
      return model;
    } catch (err) {
      // The bare reason, as /api/models and /health/ready show it; the request gets it in a sentence.
      entry.error =
        err instanceof GgufFileError || err instanceof ModelUnusableError || err instanceof ModelCheckFailedError
          ? err.reason
          : (err as Error).message;
      entry.model = undefined;
      this.setState(entry, "error");
      this.options.logger.warn({ model: entry.id, err: entry.error }, "model failed to load");
      if (err instanceof HearthError || this.shutdown.signal.aborted) throw err;
      // A file the header check or llama.cpp refused is the request's problem to know about, not a server fault.
      throw new BadRequestError(`The model '${entry.id}' cannot be loaded: ${entry.error}`, {
        param: "model",
        code: "model_unusable",
        cause: err,
      });
    }
  }

  /**
   * Eviction: unloads idle models, least recently used first, until `need` fits the budget. Models
   * that are busy are waited for (bounded). A model bigger than an explicit budget is refused; with
   * the automatic budget a lone model may try, and llama.cpp has the last word.
   */
  private async makeRoom(entry: Entry, need: MemoryEstimate): Promise<void> {
    const budget = await this.budget.resolve(await this.getRuntime());
    this.budget.assertCanFit(entry.id, need, budget);
    const deadline = Date.now() + this.loadWaitMs;
    while (this.loadedMemory(entry) + need.total > budget) {
      const candidates = [...this.entries.values()]
        .filter((e) => e !== entry && e.state === "loaded" && this.isIdle(e))
        .sort((a, b) => a.lastUsed - b.lastUsed);
      const victim = candidates[0];
      if (victim) {
        await this.doUnload(victim, "evicted");
        continue;
      }
      if (this.loadedMemory(entry) === 0) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new NotReadyError(
          `Not enough memory for '${entry.id}' while other models are busy; retry in a moment.`,
          5,
        );
      }
      entry.waitingForMemory = true;
      try {
        await this.waitForChange(left);
      } finally {
        entry.waitingForMemory = false;
      }
      if (this.shutdown.signal.aborted) throw new ShuttingDownError();
    }
  }

  private async doUnload(entry: Entry, reason: UnloadReason): Promise<void> {
    if (this.entries.get(entry.id) !== entry) return;
    // Idle unloads were decided earlier; a request may have come in since.
    if ((reason === "idle" || reason === "gone") && (!this.isIdle(entry) || entry.state !== "loaded")) return;
    clearTimeout(entry.idleTimer);
    entry.expiresAt = undefined;
    const model = entry.model ?? (entry.state === "loading" ? await entry.loading?.catch(() => undefined) : undefined);
    if (model) {
      this.setState(entry, "unloading");
      await model.close(0);
      this.options.logger.info({ model: entry.id, reason }, "model unloaded");
    }
    entry.model = undefined;
    entry.memory = 0;
    // A request that came in during the unload has queued a fresh load of this entry: keep it.
    if (entry.state === "loading") return;
    this.entries.delete(entry.id);
    this.keepAlives.delete(entry.id);
    this.options.onModelState?.(entry.id, { id: entry.id, state: "unloaded" });
    this.notifyChange();
  }

  /** After any use: restart the idle clock once nothing runs, and wake waiters for memory. */
  private touched(entry: Entry): void {
    this.notifyChange();
    clearTimeout(entry.idleTimer);
    entry.expiresAt = undefined;
    const serverIdleMs = (this.options.idleTimeoutSeconds ?? 0) * 1000;
    const idleMs = this.keepAlives.get(entry.id) ?? (serverIdleMs > 0 && !entry.pinned ? serverIdleMs : Infinity);
    if (!Number.isFinite(idleMs) || entry.state !== "loaded" || !this.isIdle(entry)) return;
    entry.expiresAt = Date.now() + idleMs;
    entry.idleTimer = setTimeout(
      () => {
        if (this.isIdle(entry) && entry.state === "loaded")
          void this.serialized(() => this.doUnload(entry, "idle")).catch(() => undefined);
        // Node fires a longer timer after 1 ms (TimeoutOverflowWarning): past ~24.8 days, unload then.
      },
      Math.min(idleMs, MAX_TIMER_MS),
    );
    entry.idleTimer.unref();
  }

  private notifyChange(): void {
    const waiters = [...this.changeWaiters];
    this.changeWaiters.clear();
    for (const w of waiters) w();
  }

  private waitForChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.changeWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      this.changeWaiters.add(done);
    });
  }
}

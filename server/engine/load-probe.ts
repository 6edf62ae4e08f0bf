/**
 * The load probe: before the server loads a model file for the first time, a disposable child
 * process (load-probe-child.ts) loads it the same way, reads text with its vocabulary, creates a
 * context and evaluates a short prompt. llama.cpp answers many malformed files with an abort
 * (GGML_ASSERT, an uncaught C++ exception) or a fault rather than an error, which would end the
 * server for every client; the header check (gguf-validate.ts) knows some of these, and llama.cpp
 * will always have more. Here a crash ends only the child, and the file is marked broken with the
 * reason (the stage it got to and the last line llama.cpp wrote).
 *
 * Verdicts are kept on disk (`<data-dir>/model-checks.json`), keyed by each part's real path,
 * size and modification time plus the engine (llama.cpp release, binary, backend), so a restart
 * does not probe again and a changed file or a new engine does. Only what the file decides is
 * kept: "ok" and "crashed". A stall (no progress for a minute), a child killed from outside (the
 * OOM killer) or a clean load error is about this attempt, not remembered across restarts.
 */
import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { engineProcessEnv } from "../config.js";
import { BadRequestError, HearthError, ShuttingDownError } from "../errors.js";
import type { Logger } from "../logger.js";
import { nodeChildSpawner, type ChildSpawner } from "../util/disposable-child.js";
import type { ProbeMessage, ProbeRequest, ProbeStage } from "./load-probe-child.js";
import type { EngineRuntime } from "./runtime.js";

/** How the server will load the file; the child does the same. */
export interface ProbeLoadOptions {
  gpuLayers: number | "auto" | "max";
  contextSize: number;
}

/**
 * What the probe found. `ok`: the file loads and evaluates. `crashed`: llama.cpp took the child
 * down; the file is broken. `stalled`: no progress within the stall limit; treated as broken until
 * the file changes or the server restarts. `failed`: llama.cpp refused it with an error (the
 * server's own load would too). `killed`: the child was killed from outside (the OOM killer). `unavailable`: the child
 * could not run at all (no Node to run it with, the engine would not start there); the caller
 * loads in-process as before.
 */
export type ProbeVerdict =
  { kind: "ok" } | { kind: "crashed" | "stalled" | "failed" | "killed" | "unavailable"; reason: string };

export interface LoadProbeOptions {
  /** Where verdicts are kept; null keeps them in memory only. */
  cacheFile: string | null;
  logger: Logger;
  /** Milliseconds without any word from the child before it is given up as hung. Defaults to 60,000. */
  stallMs?: number;
  /** Starts the child (util/disposable-child.ts). Defaults to a child of this process with its own Node. */
  children?: ChildSpawner;
}

interface Stored {
  verdict: "ok" | "crashed";
  reason?: string;
  /** When it was probed (ms since the epoch). */
  at: number;
  /** The first part's path, for a person reading the file. */
  file: string;
}

/** Verdicts kept on disk at most; the oldest go first. */
const MAX_STORED = 500;
const DEFAULT_STALL_MS = 60_000;
/** The tail of the child's stderr kept for the reason. */
const STDERR_TAIL = 16 * 1024;

const STAGE_WORDS: Record<ProbeStage, string> = {
  started: "starting the engine",
  engine: "loading it",
  loaded: "reading text with its vocabulary",
  tokenized: "creating a context",
  context: "evaluating a prompt",
  evaluated: "finishing",
};

/**
 * What the child's stderr says about its end: the last line llama.cpp wrote itself (an assertion,
 * "terminate called after throwing ...", "what(): ...") with build paths cut, else the last line
 * it logged through the engine's logger (a JSON line; a fault often leaves only those), marked as such.
 */
export function lastStderrLine(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const rawLines = lines.filter((l) => !l.startsWith("{"));
  let raw = rawLines.at(-1);
  // An uncaught C++ exception is two lines: "terminate called after throwing an instance of 'X'", "what(): ...".
  if (raw?.startsWith("what():") && rawLines.length > 1) raw = `${rawLines.at(-2)} ${raw}`;
  // ".../llama.cpp/src/llama-vocab.cpp:2539: GGML_ASSERT(...)" -> "llama-vocab.cpp:2539: GGML_ASSERT(...)"
  if (raw) return raw.replace(/^\S*[/\\](?=[\w.-]+:\d+:)/, "").slice(0, 300);
  const logged = lines.at(-1);
  if (!logged) return "";
  try {
    return `its last log line was "${String((JSON.parse(logged) as { msg?: unknown }).msg)}"`.slice(0, 300);
  } catch {
    return logged.slice(0, 300);
  }
}

/** A file the probe found unusable: a 400 for the request, with the bare `reason` for the model's state. */
export class ModelUnusableError extends BadRequestError {
  constructor(
    id: string,
    readonly reason: string,
  ) {
    super(`The model '${id}' cannot be loaded: ${reason}`, { param: "model", code: "model_unusable" });
  }
}

/** The probe itself could not finish (killed from outside): a 503, with the bare `reason`. */
export class ModelCheckFailedError extends HearthError {
  constructor(
    id: string,
    readonly reason: string,
  ) {
    super(503, "server_error", `The model '${id}' could not be checked: ${reason}`, { code: "model_check_failed" });
  }
}

export class LoadProbe {
  private stored: Map<string, Stored> | null = null;
  /** What this process found that holds until the file changes (stalls included), by key. */
  private readonly remembered = new Map<string, ProbeVerdict>();
  private readonly inFlight = new Map<string, Promise<ProbeVerdict>>();
  private writing: Promise<void> = Promise.resolve();
  private warnedUnavailable = false;
  private spawner: ChildSpawner | undefined;

  constructor(private readonly options: LoadProbeOptions) {}

  /**
   * The key of the files as they are now, with the engine that would load them. Null when a part
   * cannot be read (the load itself will say why).
   */
  private async keyOf(files: readonly string[], runtime: EngineRuntime): Promise<string | null> {
    try {
      const parts = await Promise.all(
        files.map(async (f) => {
          const real = await fs.realpath(f);
          const s = await fs.stat(real);
          return [real, s.size, s.mtimeMs];
        }),
      );
      const engine = [runtime.llama.llamaCppRelease.release, runtime.buildType, runtime.variant, runtime.gpu];
      return crypto
        .createHash("sha256")
        .update(JSON.stringify([parts, engine]))
        .digest("hex");
    } catch {
      return null;
    }
  }

  /** The verdicts in the cache file (none when it is missing or unreadable). */
  private async readFile(): Promise<Map<string, Stored>> {
    const stored = new Map<string, Stored>();
    if (!this.options.cacheFile) return stored;
    try {
      const raw = JSON.parse(await fs.readFile(this.options.cacheFile, "utf8")) as {
        verdicts?: Record<string, Stored>;
      };
      for (const [key, v] of Object.entries(raw.verdicts ?? {})) {
        if ((v?.verdict === "ok" || v?.verdict === "crashed") && typeof v.at === "number") stored.set(key, v);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        this.options.logger.warn({ err: (err as Error).message }, "model check results unreadable; checking again");
    }
    return stored;
  }

  private async load(): Promise<Map<string, Stored>> {
    this.stored ??= await this.readFile();
    return this.stored;
  }

  private async save(key: string, value: Stored): Promise<void> {
    (await this.load()).set(key, value);
    const file = this.options.cacheFile;
    if (!file) return;
    this.writing = this.writing.then(async () => {
      // Merged with what is on disk now: another server on the same file may have added verdicts.
      const merged = new Map([...(await this.readFile()), ...this.stored!]);
      while (merged.size > MAX_STORED) merged.delete(merged.keys().next().value!);
      this.stored = merged;
      const body = `${JSON.stringify({ version: 1, verdicts: Object.fromEntries(merged) }, null, 1)}\n`;
      // Written whole, then renamed over the old one: a crash mid-write never leaves half a file.
      const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
      try {
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(tmp, body);
        await fs.rename(tmp, file);
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message }, "could not save model check results");
        await fs.rm(tmp, { force: true }).catch(() => undefined);
      }
    });
    await this.writing;
  }

  /** The reason the files are known to be broken (crashed or stalled), without probing; undefined if not known broken. */
  async brokenReason(files: readonly string[], runtime: EngineRuntime): Promise<string | undefined> {
    const key = await this.keyOf(files, runtime);
    if (!key) return undefined;
    const stored = (await this.load()).get(key);
    if (stored?.verdict === "crashed") return stored.reason;
    const verdict = this.remembered.get(key);
    return verdict && verdict.kind !== "ok" ? verdict.reason : undefined;
  }

  /**
   * Probes `files` unless a verdict on them as they are now is known. Resolves with the verdict;
   * `signal` (server shutdown) kills the child.
   */
  async check(
    files: readonly string[],
    runtime: EngineRuntime,
    load: ProbeLoadOptions,
    signal?: AbortSignal,
  ): Promise<ProbeVerdict> {
    const key = await this.keyOf(files, runtime);
    if (!key) return { kind: "unavailable", reason: "the file could not be read" };
    const stored = (await this.load()).get(key);
    if (stored) return stored.verdict === "ok" ? { kind: "ok" } : { kind: "crashed", reason: stored.reason ?? "" };
    const known = this.remembered.get(key);
    if (known) return known;
    // The same files asked for twice at once (two servers' worth of requests cannot, but two ids of one file can).
    const running = this.inFlight.get(key);
    if (running) return running;
    const request: ProbeRequest = {
      file: files[0]!,
      gpu: runtime.gpu === false ? "cpu" : (runtime.gpu as ProbeRequest["gpu"]),
      threads: runtime.threads,
      // The binary the server runs: a local build (native or portable) or the prebuilt one.
      binary: runtime.buildType === "localBuild" ? "local" : "prebuilt",
      gpuLayers: load.gpuLayers,
      contextSize: load.contextSize,
    };
    const started = Date.now();
    const probing = this.run(request, signal);
    this.inFlight.set(key, probing);
    const verdict = await probing.finally(() => this.inFlight.delete(key));
    if (verdict.kind === "ok" || verdict.kind === "crashed" || verdict.kind === "stalled")
      this.remembered.set(key, verdict);
    const ms = Date.now() - started;
    if (verdict.kind === "ok" || verdict.kind === "crashed") {
      await this.save(key, {
        verdict: verdict.kind,
        ...(verdict.kind === "crashed" ? { reason: verdict.reason } : {}),
        at: Date.now(),
        file: files[0]!,
      });
    }
    if (verdict.kind === "ok") this.options.logger.info({ file: files[0], ms }, "model load check passed");
    else
      this.options.logger.warn(
        { file: files[0], ms, verdict: verdict.kind, reason: verdict.reason },
        "model load check",
      );
    return verdict;
  }

  /**
   * Probes the files (or takes the known verdict) and throws the error a request should get when
   * they must not be loaded: 400 `model_unusable` for a file that crashed the engine, stalled or
   * was refused, 503 `model_check_failed` when the check itself was killed. `onBroken` hears of a
   * crash or stall, to list the model as broken. When the check cannot run here at all, the load
   * goes ahead unchecked, as before the probe existed, with a warning.
   */
  async ensureLoadable(
    files: readonly string[],
    runtime: EngineRuntime,
    load: ProbeLoadOptions,
    context: { id: string; signal?: AbortSignal; onBroken?: (reason: string) => void },
  ): Promise<void> {
    const verdict = await this.check(files, runtime, load, context.signal);
    if (context.signal?.aborted) throw new ShuttingDownError();
    switch (verdict.kind) {
      case "ok":
        return;
      case "unavailable":
        if (!this.warnedUnavailable)
          this.options.logger.warn(
            { reason: verdict.reason },
            "models cannot be checked in a separate process here; loading them without the check",
          );
        this.warnedUnavailable = true;
        return;
      case "crashed":
      case "stalled":
        context.onBroken?.(verdict.reason);
        throw new ModelUnusableError(context.id, verdict.reason);
      case "failed":
        throw new ModelUnusableError(context.id, verdict.reason);
      case "killed":
        throw new ModelCheckFailedError(context.id, verdict.reason);
    }
  }

  private run(request: ProbeRequest, signal: AbortSignal | undefined): Promise<ProbeVerdict> {
    const stallMs = this.options.stallMs ?? DEFAULT_STALL_MS;
    const spawn = (this.spawner ??= this.options.children ?? nodeChildSpawner());
    return new Promise((resolve) => {
      const child = spawn({
        program: "load-probe",
        input: request,
        // The engine's own variables (GPU drivers, library paths) and nothing else: no secrets.
        // No backtrace on abort: ggml would run gdb for one, which takes seconds and buries the reason.
        env: { ...engineProcessEnv(), GGML_NO_BACKTRACE: "1" },
      });
      let stage: ProbeStage | null = null;
      let result: ProbeMessage | null = null;
      let stdout = "";
      let stderr = "";
      let settled = false;
      let stalled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (verdict: ProbeVerdict) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        child.kill();
        resolve(verdict);
      };
      const alive = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          stalled = true;
          child.kill();
        }, stallMs);
      };
      const onAbort = () => child.kill();
      signal?.addEventListener("abort", onAbort, { once: true });
      alive();
      child.onOutput((stream, text) => {
        if (stream === "stderr") {
          stderr = (stderr + text).slice(-STDERR_TAIL);
          return;
        }
        alive();
        stdout += text;
        let nl: number;
        while ((nl = stdout.indexOf("\n")) >= 0) {
          const line = stdout.slice(0, nl);
          stdout = stdout.slice(nl + 1);
          try {
            const m = JSON.parse(line) as ProbeMessage;
            if ("stage" in m && !("ok" in m)) stage = m.stage;
            if ("ok" in m) result = m;
          } catch {
            // not a message of ours
          }
        }
      });
      child.onExit(({ code, signal: sig, error }) => {
        if (error !== undefined)
          return finish({ kind: "unavailable", reason: `the check process could not start (${error})` });
        const last = lastStderrLine(stderr);
        const how = sig ?? `exit code ${code}`;
        const r = result as ProbeMessage | null;
        if (r && "ok" in r) {
          if (r.ok) return finish({ kind: "ok" });
          return finish({ kind: "failed", reason: r.error });
        }
        if (signal?.aborted) return finish({ kind: "killed", reason: "the server is shutting down" });
        // The engine never started there (or took over the stall limit to): nothing is known about the file.
        if (stage === null || stage === "started")
          return finish({
            kind: "unavailable",
            reason: `the check process ended before its engine started (${how})${last ? `: ${last}` : ""}`,
          });
        if (stalled)
          return finish({
            kind: "stalled",
            reason: `the check made no progress for ${Math.round(stallMs / 1000)} s while ${STAGE_WORDS[stage]}${last ? ` (last output: ${last})` : ""}`,
          });
        // Killed from outside (the OOM killer sends SIGKILL): about this attempt, not the file.
        if (sig === "SIGKILL" || sig === "SIGTERM" || sig === "SIGINT")
          return finish({
            kind: "killed",
            reason: `the check process was killed (${sig}) while ${STAGE_WORDS[stage]}, perhaps for lack of memory`,
          });
        finish({
          kind: "crashed",
          reason: `llama.cpp crashed (${how}) while ${STAGE_WORDS[stage]}${last ? `: ${last}` : ""}`,
        });
      });
    });
  }
}

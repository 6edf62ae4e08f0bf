/**
 * Model downloads: fetch + HTTP Range, written by hand rather than through node-llama-cpp's
 * downloader (ipull). ipull retries a dead host for minutes and ignores an AbortSignal while it
 * starts (docs/ENGINE-NOTES.md §0.15, §5), verifies no checksum, and keeps its resume state in its own
 * format; here every failure mode is ours to word and to test against a local stand-in server.
 *
 * A download is staged in `<models>/.downloads/<id>/` (`<name>.part` plus `job.json`), which the
 * library never lists. Only once every part has its expected size and sha256 (when the source
 * publishes one) and reads as a GGUF is it renamed into the models folder. A connection cut
 * mid-file is resumed with a Range request; after repeated failures the download pauses and keeps
 * its bytes for a later resume. Anything fatal (unreachable host before the first byte, HTTP
 * errors, size or checksum mismatch) removes the staging folder: nothing half-written stays.
 */
import crypto from "node:crypto";
import { EventEmitter } from "node:events";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { GgufFileError } from "../engine/gguf-info.js";
import { HearthError, NotFoundError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { DownloadRequest, DownloadSnapshot, DownloadState } from "../wire/models.js";
import { assertFolderInside, folderInside } from "./containment.js";
import { STAGING_DIR, type ModelLibrary } from "./library.js";
import { DownloadError, parseSource, planDownload, type Fetcher, type PlannedFile } from "./sources.js";

export interface DownloadManagerOptions {
  modelsDir: string;
  hfEndpoint: string;
  /** Hugging Face access token: sent to `hfEndpoint`'s origin only (not to its CDN, not to plain URLs). Defaults to none. */
  hfToken?: string;
  library: ModelLibrary;
  logger: Logger;
  /** Downloads that run at once; more wait in "queued". Defaults to 2. */
  maxConcurrent?: number;
  /** Milliseconds to wait for a server's answer. Defaults to 15000. */
  connectTimeoutMs?: number;
  /** Milliseconds without a byte before a connection counts as lost. Defaults to 30000. */
  stallTimeoutMs?: number;
  /** Reconnections without progress before a download pauses itself. Defaults to 5. */
  retries?: number;
  /** First retry delay in ms, doubled each time. Defaults to 500. */
  retryDelayMs?: number;
  /** Least time between two progress events of one download. Defaults to 250. */
  progressIntervalMs?: number;
  /** Defaults to the global fetch. */
  fetcher?: Fetcher;
}

const JobFileSchema = z.object({
  id: z.string(),
  source: z.string(),
  modelId: z.string(),
  createdAt: z.number(),
  files: z.array(
    z.object({
      url: z.string(),
      name: z.string(),
      size: z.number().optional(),
      sha256: z.string().optional(),
      etag: z.string().optional(),
    }),
  ),
});

interface JobFile extends PlannedFile {
  etag?: string;
  bytes: number;
  /** Hash of the bytes on disk, kept across reconnections so a resume does not re-read the file. */
  hash?: crypto.Hash;
  hashedBytes?: number;
}

interface Job {
  id: string;
  source: string;
  modelId: string;
  state: DownloadState;
  files: JobFile[];
  error: string | null;
  createdAt: number;
  updatedAt: number;
  controller: AbortController | null;
  run: Promise<void> | null;
  /** Settles when the first bytes arrive, or with the error that came before them. */
  started: Deferred<void> | null;
  receivedAny: boolean;
  samples: { t: number; bytes: number }[];
  lastEmit: number;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Stops a transfer on purpose: pause, cancel, or the server shutting down. */
class Stop extends Error {
  constructor(readonly kind: "pause" | "cancel" | "shutdown") {
    super(kind);
  }
}

/** A connection that broke or stalled mid-transfer: worth another Range request. */
class Interrupted extends Error {}

const seconds = (ms: number) => `${ms < 1000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s`;

const TERMINAL: readonly DownloadState[] = ["completed", "failed", "cancelled"];

/**
 * Words a fetch failure for a person. Every failure without an HTTP answer (no such host, refused,
 * no route, silent, dropped) is one message and `host_unreachable`, as a provider test says it
 * (providers/remote-errors.ts noAnswerMessage): anyone on /api can start a download from any URL,
 * and the old messages told which ports of which hosts listen. The cause is kept in `networkCode`
 * for the log. `offline` (the host was never reached: fail at once rather than retry) and
 * `retryable` still follow the cause. A TLS certificate that is refused is said as such: a TLS
 * server answered, and the person needs to know why it was not trusted.
 */
export function describeNetworkError(err: unknown, url: string): DownloadError {
  const host = new URL(url).host;
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code =
    cause?.code ?? (err as NodeJS.ErrnoException)?.code ?? ((err as Error)?.name === "TimeoutError" ? "ETIMEDOUT" : "");
  if (["CERT_HAS_EXPIRED", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "DEPTH_ZERO_SELF_SIGNED_CERT"].includes(code))
    return new DownloadError(`The TLS certificate of ${host} was refused (${code}).`);
  const offline = [
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNREFUSED",
    "ENETUNREACH",
    "EHOSTUNREACH",
    "ENETDOWN",
    "ETIMEDOUT",
    "UND_ERR_CONNECT_TIMEOUT",
  ].includes(code);
  return new DownloadError(
    `${host} gave no HTTP answer: you may be offline, the address may be wrong, nothing there may serve HTTP, ` +
      "or it is too slow. The server's log says which.",
    offline,
    !offline,
    502,
    code || "unknown",
  );
}

/**
 * Adds the Hugging Face token to requests for `origin` only. Redirects are followed by hand
 * (`request` below), so each hop comes through here and the CDN (another host, signed URLs) or any
 * other host never sees the token.
 */
function withTokenFor(origin: string, token: string, fetcher: Fetcher): Fetcher {
  return (url, init) => {
    if (new URL(url).origin !== origin) return fetcher(url, init);
    const headers = new Headers(init?.headers);
    headers.set("Authorization", `Bearer ${token}`);
    return fetcher(url, { ...init, headers });
  };
}

export class DownloadManager extends EventEmitter<{ update: [DownloadSnapshot] }> {
  private readonly jobs = new Map<string, Job>();
  private readonly stagingRoot: string;
  private readonly fetcher: Fetcher;
  private closed = false;
  private restored: Promise<void> | null = null;

  constructor(private readonly options: DownloadManagerOptions) {
    super();
    this.setMaxListeners(0);
    this.stagingRoot = path.join(path.resolve(options.modelsDir), STAGING_DIR);
    const fetcher: Fetcher = options.fetcher ?? ((url, init) => fetch(url, init));
    this.fetcher = options.hfToken
      ? withTokenFor(new URL(options.hfEndpoint).origin, options.hfToken, fetcher)
      : fetcher;
  }

  private get connectTimeoutMs(): number {
    return this.options.connectTimeoutMs ?? 15_000;
  }

  /** Finds downloads a previous run left paused (their staging folders) and lists them as paused. */
  restore(): Promise<void> {
    this.restored ??= (async () => {
      if (fs.existsSync(this.stagingRoot) && !(await folderInside(this.options.modelsDir, this.stagingRoot))) {
        // Its leftovers are removed below: never in a folder a link leads to outside the models folder.
        this.options.logger.warn(
          { folder: this.stagingRoot },
          "the downloads folder is a link outside the models folder; paused downloads are not restored",
        );
        return;
      }
      const dirs = await fsp.readdir(this.stagingRoot, { withFileTypes: true }).catch(() => []);
      for (const d of dirs) {
        const dir = path.join(this.stagingRoot, d.name);
        if (!d.isDirectory() || this.jobs.has(d.name)) continue;
        const saved = JobFileSchema.safeParse(
          await fsp
            .readFile(path.join(dir, "job.json"), "utf8")
            .then(JSON.parse)
            .catch(() => null),
        );
        if (!saved.success || saved.data.id !== d.name) {
          // Leftovers of an import or a download that never got going.
          await this.removeDir(dir);
          continue;
        }
        const files: JobFile[] = [];
        for (const f of saved.data.files)
          files.push({ ...f, bytes: (await fsp.stat(path.join(dir, `${f.name}.part`)).catch(() => null))?.size ?? 0 });
        const job = this.newJob(saved.data.id, saved.data.source, saved.data.modelId, files, saved.data.createdAt);
        job.state = "paused";
        job.error = "Interrupted when Hearth stopped; resume to continue.";
        this.jobs.set(job.id, job);
      }
    })();
    return this.restored;
  }

  async list(): Promise<DownloadSnapshot[]> {
    await this.restore();
    return [...this.jobs.values()].map((j) => this.snapshot(j));
  }

  async get(id: string): Promise<DownloadSnapshot> {
    await this.restore();
    return this.snapshot(this.job(id));
  }

  /**
   * Resolves the source and starts (or queues) the download. Resolves once the first bytes arrive
   * or the download is queued; rejects, leaving nothing behind, when the source is invalid, the
   * host cannot be reached, or the model is already there.
   */
  async start(request: DownloadRequest): Promise<DownloadSnapshot> {
    if (this.closed) throw new DownloadError("The server is shutting down.", false, false, 503);
    await this.restore();
    const parsed = parseSource(request.source, this.options.hfEndpoint, request.quantization);
    const signal = AbortSignal.timeout(this.connectTimeoutMs);
    let plan;
    try {
      plan = await planDownload(parsed, request, {
        hfEndpoint: this.options.hfEndpoint,
        fetcher: this.fetcher,
        signal,
      });
    } catch (err) {
      if (err instanceof HearthError) throw err;
      const described = describeNetworkError(err, parsed.kind === "url" ? parsed.url : this.options.hfEndpoint);
      this.options.logger.warn(
        { source: request.source, cause: described.networkCode },
        "model download could not start: no HTTP answer",
      );
      throw described;
    }
    await this.options.library.ready();
    const existing = plan.files.find((f) => fs.existsSync(path.join(this.options.modelsDir, f.name)));
    if (existing) {
      throw new HearthError(409, "invalid_request_error", `${existing.name} is already in the models folder.`, {
        param: "source",
        code: "already_exists",
      });
    }
    const busy = [...this.jobs.values()].find(
      (j) => !TERMINAL.includes(j.state) && j.files.some((f) => plan.files.some((p) => p.name === f.name)),
    );
    if (busy) {
      throw new HearthError(
        409,
        "invalid_request_error",
        `${plan.files[0]!.name} is already being downloaded (download ${busy.id}).`,
        { param: "source", code: "already_downloading" },
      );
    }
    const job = this.newJob(
      `dl_${crypto.randomBytes(8).toString("hex")}`,
      request.source,
      plan.modelId,
      plan.files.map((f) => ({ ...f, bytes: 0 })),
      Date.now(),
    );
    job.started = deferred();
    await fsp.mkdir(this.dir(job), { recursive: true });
    await assertFolderInside(this.options.modelsDir, this.dir(job), "download into");
    await this.persist(job);
    this.jobs.set(job.id, job);
    this.schedule();
    // Waiting behind other downloads: answer now; its errors will show in its state.
    if (!job.run) job.started.resolve();
    this.emitUpdate(job, true);
    try {
      await job.started.promise;
    } catch (err) {
      // Failed before any byte arrived (offline, 404...): the caller gets the error, and the job is gone.
      this.jobs.delete(job.id);
      throw err;
    }
    return this.snapshot(job);
  }

  /** Stops a download and keeps its bytes for a later resume. */
  async pause(id: string): Promise<DownloadSnapshot> {
    const job = this.job(id);
    if (job.state === "queued") this.setState(job, "paused");
    else if (job.state === "downloading") {
      job.controller?.abort(new Stop("pause"));
      await job.run;
    } else if (job.state !== "paused")
      throw new HearthError(
        409,
        "invalid_request_error",
        `The download is ${job.state}; only a running download can be paused.`,
        { code: "invalid_state" },
      );
    return this.snapshot(job);
  }

  /** Continues a paused download from where it stopped (an HTTP Range request). */
  async resume(id: string): Promise<DownloadSnapshot> {
    const job = this.job(id);
    if (job.state !== "paused") {
      if (job.state === "queued" || job.state === "downloading") return this.snapshot(job);
      throw new HearthError(
        409,
        "invalid_request_error",
        `The download is ${job.state}; only a paused download can be resumed.`,
        { code: "invalid_state" },
      );
    }
    job.error = null;
    this.setState(job, "queued");
    this.schedule();
    return this.snapshot(job);
  }

  /** Stops a download and deletes its bytes; a finished one is only removed from the list. */
  async cancel(id: string): Promise<DownloadSnapshot> {
    const job = this.job(id);
    if (TERMINAL.includes(job.state)) {
      this.jobs.delete(id);
      return this.snapshot(job);
    }
    const running = job.run;
    if (running) {
      job.controller?.abort(new Stop("cancel"));
      await running;
    }
    job.error = null;
    this.setState(job, "cancelled");
    await this.removeDir(this.dir(job));
    return this.snapshot(job);
  }

  /** Stops every transfer (keeping bytes for a resume on the next start). */
  async close(): Promise<void> {
    this.closed = true;
    const running = [...this.jobs.values()].filter((j) => j.run);
    for (const j of running) j.controller?.abort(new Stop("shutdown"));
    await Promise.allSettled(running.map((j) => j.run));
    this.removeAllListeners();
  }

  private job(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new NotFoundError(`No download '${id}'.`, { param: "id", code: "download_not_found" });
    return job;
  }

  private newJob(id: string, source: string, modelId: string, files: JobFile[], createdAt: number): Job {
    return {
      id,
      source,
      modelId,
      state: "queued",
      files,
      error: null,
      createdAt,
      updatedAt: Date.now(),
      controller: null,
      run: null,
      started: null,
      receivedAny: false,
      samples: [],
      lastEmit: 0,
    };
  }

  private dir(job: Job): string {
    return path.join(this.stagingRoot, job.id);
  }

  /** Deletes a staging folder, unless a link makes it a folder outside the models folder. */
  private async removeDir(dir: string): Promise<void> {
    if (!fs.existsSync(dir)) return;
    if (!(await folderInside(this.options.modelsDir, dir))) {
      this.options.logger.warn({ folder: dir }, "not deleting a staging folder that links outside the models folder");
      return;
    }
    await fsp.rm(dir, { recursive: true, force: true });
  }

  private async persist(job: Job): Promise<void> {
    const data = {
      id: job.id,
      source: job.source,
      modelId: job.modelId,
      createdAt: job.createdAt,
      files: job.files.map(({ url, name, size, sha256, etag }) => ({ url, name, size, sha256, etag })),
    };
    const file = path.join(this.dir(job), "job.json");
    await fsp.writeFile(`${file}.tmp`, JSON.stringify(data));
    await fsp.rename(`${file}.tmp`, file);
  }

  private schedule(): void {
    if (this.closed) return;
    const max = this.options.maxConcurrent ?? 2;
    let running = [...this.jobs.values()].filter((j) => j.run).length;
    for (const job of this.jobs.values()) {
      if (running >= max) break;
      if (job.state !== "queued" || job.run) continue;
      running++;
      job.controller = new AbortController();
      job.run = this.runJob(job).finally(() => {
        job.run = null;
        job.controller = null;
        this.schedule();
      });
    }
  }

  private async runJob(job: Job): Promise<void> {
    this.setState(job, "downloading");
    try {
      for (const file of job.files) await this.transfer(job, file);
      this.setState(job, "verifying");
      await this.publish(job);
      this.setState(job, "completed");
      job.started?.resolve();
    } catch (err) {
      await this.settleFailure(job, err);
    }
  }

  private async settleFailure(job: Job, err: unknown): Promise<void> {
    const reason = (job.controller?.signal.reason as unknown) ?? err;
    if (reason instanceof Stop) {
      if (reason.kind === "pause") this.setState(job, "paused");
      else if (reason.kind === "shutdown") {
        job.error = "Interrupted when Hearth stopped; resume to continue.";
        this.setState(job, "paused");
      }
      // A cancel finishes in cancel(), which removes the files.
      job.started?.resolve();
      return;
    }
    if (err instanceof Interrupted) {
      job.error = err.message;
      this.setState(job, "paused");
      job.started?.resolve();
      return;
    }
    job.error =
      err instanceof HearthError || err instanceof GgufFileError
        ? err.message
        : `The download failed: ${(err as Error)?.message ?? String(err)}`;
    this.options.logger.warn(
      {
        download: job.id,
        source: job.source,
        err: job.error,
        ...(err instanceof DownloadError && err.networkCode ? { cause: err.networkCode } : {}),
      },
      "model download failed",
    );
    await this.removeDir(this.dir(job)).catch(() => undefined);
    this.setState(job, "failed");
    job.started?.reject(err instanceof HearthError ? err : new DownloadError(job.error));
  }

  /** Brings one file to its full size, reconnecting with Range requests after interruptions. */
  private async transfer(job: Job, file: JobFile): Promise<void> {
    const part = path.join(this.dir(job), `${file.name}.part`);
    const signal = job.controller!.signal;
    let failures = 0;
    const stat = await fsp.stat(part).catch(() => null);
    file.bytes = stat?.size ?? 0;
    if (file.size !== undefined && file.bytes > file.size) file.bytes = 0;
    await this.ensureHash(file, part);
    while (true) {
      if (signal.aborted) throw signal.reason;
      if (file.size !== undefined && file.bytes === file.size && (file.bytes > 0 || job.receivedAny)) return;
      const before = file.bytes;
      try {
        const done = await this.fetchOnce(job, file, part, signal);
        if (done) return;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (!(err instanceof Interrupted || (err instanceof DownloadError && err.retryable))) throw err;
        if (file.bytes > before) failures = 0;
        failures++;
        const retries = this.options.retries ?? 5;
        this.options.logger.debug(
          { download: job.id, file: file.name, bytes: file.bytes, failures, err: (err as Error).message },
          "download interrupted",
        );
        if (failures > retries) {
          throw new Interrupted(
            `The connection kept failing (${(err as Error).message}); paused at ${file.bytes} bytes of ${file.name}. Resume to continue.`,
          );
        }
        await sleep((this.options.retryDelayMs ?? 500) * 2 ** (failures - 1), signal);
      }
    }
  }

  /** Makes `file.hash` cover exactly the bytes on disk (re-reading them after a restart). */
  private async ensureHash(file: JobFile, part: string): Promise<void> {
    if (!file.sha256) return;
    if (file.hash && file.hashedBytes === file.bytes) return;
    const hash = crypto.createHash("sha256");
    if (file.bytes > 0) {
      for await (const chunk of fs.createReadStream(part, { start: 0, end: file.bytes - 1 }))
        hash.update(chunk as Buffer);
    }
    file.hash = hash;
    file.hashedBytes = file.bytes;
  }

  /**
   * One request from `file.bytes` on. Returns true when the file is complete; throws Interrupted
   * when the connection broke (the caller reconnects), DownloadError for what retrying cannot fix.
   */
  private async fetchOnce(job: Job, file: JobFile, part: string, jobSignal: AbortSignal): Promise<boolean> {
    const attempt = new AbortController();
    const onJobAbort = () => attempt.abort(jobSignal.reason);
    jobSignal.addEventListener("abort", onJobAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const arm = (ms: number, why: () => Error) => {
      clearTimeout(timer);
      timer = setTimeout(() => attempt.abort(why()), ms);
    };
    const host = new URL(file.url).host;
    try {
      arm(this.connectTimeoutMs, () =>
        job.receivedAny
          ? new Interrupted(`no answer from ${host} within ${seconds(this.connectTimeoutMs)}`)
          : new DownloadError(
              `${host} did not answer within ${seconds(this.connectTimeoutMs)}: you may be offline, or the server is down.`,
              true,
            ),
      );
      const offset = file.bytes;
      const { res, linkedSize, linkedSha } = await this.request(file.url, offset, file.etag, attempt.signal);
      if (linkedSize !== undefined && file.size === undefined) file.size = linkedSize;
      if (linkedSha && !file.sha256) {
        file.sha256 = linkedSha;
        await this.ensureHash(file, part);
      }
      if (res.status === 416) {
        await res.body?.cancel().catch(() => undefined);
        const total = Number(/\/(\d+)$/.exec(res.headers.get("content-range") ?? "")?.[1] ?? NaN);
        if (offset > 0 && (file.size ?? total) === offset) return true;
        file.bytes = 0;
        throw new Interrupted("the server refused the resume position");
      }
      if (res.status === 401 || res.status === 403) {
        throw new DownloadError(
          `${new URL(file.url).host} refused access to ${file.name} (HTTP ${res.status}): the model is private or gated and needs an access token.`,
          false,
          false,
          403,
        );
      }
      if (res.status === 404 || res.status === 410)
        throw new DownloadError(
          `${file.name} was not found at ${new URL(file.url).host} (HTTP ${res.status}).`,
          false,
          false,
          404,
        );
      if (res.status >= 500 || res.status === 429)
        throw new DownloadError(`${new URL(file.url).host} answered HTTP ${res.status}.`, false, true);
      if (res.status !== 200 && res.status !== 206)
        throw new DownloadError(`${new URL(file.url).host} answered HTTP ${res.status} for ${file.name}.`);
      let start = offset;
      if (res.status === 200 && offset > 0) {
        // The server ignored the Range (or the file changed and If-Range said so): start over.
        start = 0;
        file.bytes = 0;
        file.hash = file.sha256 ? crypto.createHash("sha256") : undefined;
        file.hashedBytes = 0;
      }
      if (res.status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
        if (!m || Number(m[1]) !== offset)
          throw new DownloadError(
            `${new URL(file.url).host} sent the wrong part of ${file.name} (Content-Range: ${res.headers.get("content-range")}).`,
          );
        if (m[3] !== "*") this.checkDeclaredSize(file, Number(m[3]));
      } else {
        const length = res.headers.get("content-length");
        if (length !== null && res.headers.get("content-encoding") === null)
          this.checkDeclaredSize(file, Number(length));
      }
      const etag = res.headers.get("etag");
      if (etag && !etag.startsWith("W/") && etag !== file.etag) {
        file.etag = etag;
        await this.persist(job);
      }
      if (!res.body) throw new Interrupted("the answer had no body");
      if (start === 0) await fsp.writeFile(part, "");
      else await fsp.truncate(part, start);
      const handle = await fsp.open(part, "a");
      const stallMs = this.options.stallTimeoutMs ?? 30_000;
      const stalled = () => new Interrupted(`the transfer stalled for ${seconds(stallMs)}`);
      // Writes are batched: one write (and one progress sample) per MiB or per 250 ms rather than
      // per network chunk. Flushes run one after another, so the file grows in order.
      const pending: Uint8Array[] = [];
      let pendingBytes = 0;
      let lastFlushAt = Date.now();
      let flushing: Promise<void> = Promise.resolve();
      const writeOut = async () => {
        lastFlushAt = Date.now();
        if (pendingBytes === 0) return;
        const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        const n = pendingBytes;
        pending.length = 0;
        pendingBytes = 0;
        await handle.write(buf);
        file.hash?.update(buf);
        file.bytes += n;
        file.hashedBytes = file.bytes;
        this.progress(job);
      };
      const flush = () => (flushing = flushing.then(writeOut));
      clearTimeout(timer);
      let lastByteAt = Date.now();
      const watchdog = setInterval(
        () => {
          if (Date.now() - lastByteAt > stallMs) attempt.abort(stalled());
          else if (pendingBytes > 0 && Date.now() - lastFlushAt >= 250) flush().catch(() => undefined);
        },
        Math.max(20, Math.min(250, stallMs / 4)),
      );
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          if (file.size !== undefined && file.bytes + pendingBytes + chunk.byteLength > file.size) {
            throw new DownloadError(
              `${file.name} is larger than the ${file.size} bytes the source announced: size mismatch, download rejected.`,
            );
          }
          pending.push(chunk);
          pendingBytes += chunk.byteLength;
          lastByteAt = Date.now();
          if (!job.receivedAny) {
            job.receivedAny = true;
            job.started?.resolve();
          }
          if (pendingBytes >= 1024 * 1024 || Date.now() - lastFlushAt >= 250) await flush();
        }
        await flush();
        await handle.sync();
      } catch (err) {
        // What arrived before the break is a valid prefix of the file: keep it for the resume.
        await flush().catch(() => undefined);
        if (attempt.signal.aborted) throw attempt.signal.reason;
        if (err instanceof HearthError) throw err;
        throw new Interrupted(`connection lost: ${((err as { cause?: Error }).cause ?? (err as Error)).message}`);
      } finally {
        clearInterval(watchdog);
        await handle.close();
      }
      if (file.size === undefined) file.size = file.bytes;
      if (file.bytes < file.size) throw new Interrupted(`the connection closed at ${file.bytes} of ${file.size} bytes`);
      return true;
    } catch (err) {
      if (attempt.signal.aborted && !(err instanceof DownloadError)) throw attempt.signal.reason;
      if (err instanceof Interrupted || err instanceof HearthError || err instanceof Stop) throw err;
      const described = describeNetworkError(err, file.url);
      // Unreachable before the first byte is an answer, not a hiccup: say so at once.
      if (described.offline && !job.receivedAny) throw described;
      throw new Interrupted(
        job.receivedAny ? `connection lost (${described.networkCode ?? "unknown"})` : described.message,
      );
    } finally {
      clearTimeout(timer);
      jobSignal.removeEventListener("abort", onJobAbort);
    }
  }

  private checkDeclaredSize(file: JobFile, total: number): void {
    if (!Number.isFinite(total)) return;
    if (file.size !== undefined && file.size !== total) {
      throw new DownloadError(
        `${file.name} should be ${file.size} bytes but the server sends ${total}: size mismatch, download rejected.`,
      );
    }
    file.size = total;
  }

  /**
   * GET with a Range from `offset`, following redirects by hand: Hugging Face puts the file's size
   * and sha256 (X-Linked-Size, X-Linked-ETag) on the redirect to its CDN, which fetch would hide.
   */
  private async request(
    url: string,
    offset: number,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<{ res: Response; linkedSize?: number; linkedSha?: string }> {
    let current = url;
    let linkedSize: number | undefined;
    let linkedSha: string | undefined;
    for (let hop = 0; hop < 10; hop++) {
      const headers: Record<string, string> = { "Accept-Encoding": "identity", "User-Agent": "Hearth" };
      if (offset > 0) {
        headers.Range = `bytes=${offset}-`;
        if (etag) headers["If-Range"] = etag;
      }
      const res = await this.fetcher(current, { signal, redirect: "manual", headers });
      const size = res.headers.get("x-linked-size");
      if (size && /^\d+$/.test(size)) linkedSize ??= Number(size);
      const sha = res.headers.get("x-linked-etag")?.replace(/^W\//, "").replaceAll('"', "");
      if (sha && /^[a-f0-9]{64}$/i.test(sha)) linkedSha ??= sha.toLowerCase();
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel().catch(() => undefined);
        current = new URL(location, current).toString();
        continue;
      }
      return { res, ...(linkedSize !== undefined ? { linkedSize } : {}), ...(linkedSha ? { linkedSha } : {}) };
    }
    throw new DownloadError(`Too many redirects fetching ${url}.`);
  }

  /** Checks every file (size, sha256, a readable GGUF), then moves them into the models folder. */
  private async publish(job: Job): Promise<void> {
    const dir = this.dir(job);
    for (const file of job.files) {
      const part = path.join(dir, `${file.name}.part`);
      const { size } = await fsp.stat(part);
      if (file.size !== undefined && size !== file.size)
        throw new DownloadError(
          `${file.name} has ${size} bytes, not the ${file.size} expected: size mismatch, download rejected.`,
        );
      if (file.sha256) {
        await this.ensureHash(file, part);
        const digest = file.hash!.copy().digest("hex");
        if (digest !== file.sha256)
          throw new DownloadError(
            `${file.name} does not match its published sha256 (expected ${file.sha256}, got ${digest}): checksum mismatch, download rejected.`,
          );
      }
      await fsp.rename(part, path.join(dir, file.name));
    }
    const staged = job.files.map((f) => path.join(dir, f.name));
    try {
      await this.options.library.readFacts(staged);
    } catch (err) {
      if (err instanceof GgufFileError)
        throw new DownloadError(`The downloaded file is not a usable model: ${err.reason}`);
      throw err;
    }
    const targets = job.files.map((f) => path.join(this.options.modelsDir, f.name));
    for (const t of targets) {
      if (fs.existsSync(t))
        throw new HearthError(
          409,
          "invalid_request_error",
          `${path.basename(t)} appeared in the models folder meanwhile.`,
          { code: "already_exists" },
        );
    }
    for (const [i, t] of targets.entries()) await fsp.rename(staged[i]!, t);
    await this.removeDir(dir);
    await this.options.library.scan();
    const listed = this.options.library.byFile(targets[0]!);
    if (listed) job.modelId = listed.id;
  }

  private setState(job: Job, state: DownloadState): void {
    job.state = state;
    if (state !== "downloading") job.samples = [];
    this.emitUpdate(job, true);
  }

  private progress(job: Job): void {
    const now = Date.now();
    const bytes = job.files.reduce((s, f) => s + f.bytes, 0);
    job.samples.push({ t: now, bytes });
    while (job.samples.length > 2 && now - job.samples[0]!.t > 5000) job.samples.shift();
    this.emitUpdate(job, false);
  }

  private emitUpdate(job: Job, force: boolean): void {
    const now = Date.now();
    job.updatedAt = now;
    if (!force && now - job.lastEmit < (this.options.progressIntervalMs ?? 250)) return;
    job.lastEmit = now;
    this.emit("update", this.snapshot(job));
  }

  private snapshot(job: Job): DownloadSnapshot {
    const bytes = job.files.reduce((s, f) => s + f.bytes, 0);
    const known = job.files.every((f) => f.size !== undefined);
    const total = known ? job.files.reduce((s, f) => s + (f.size ?? 0), 0) : null;
    const first = job.samples[0];
    const last = job.samples[job.samples.length - 1];
    const speed =
      job.state === "downloading" && first && last && last.t > first.t
        ? ((last.bytes - first.bytes) * 1000) / (last.t - first.t)
        : 0;
    return {
      id: job.id,
      source: job.source,
      modelId: job.modelId,
      state: job.state,
      files: job.files.map((f) => ({ name: f.name, size: f.size ?? null, bytes: f.bytes, sha256: f.sha256 ?? null })),
      bytes,
      total,
      speed: Math.round(speed),
      eta: speed > 0 && total !== null ? Math.max(0, Math.round((total - bytes) / speed)) : null,
      error: job.error,
      createdAt: job.createdAt,
      updatedAt: job.updatedAt,
    };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The history's second thread, for writes too large to make on the thread that serves HTTP.
 * better-sqlite3 is synchronous: recording a 19 MB /v1 message is one INSERT and one COMMIT of
 * 19 MB (90–250 ms on the 2-core build machine, more under load), and while SQLite waits for
 * another writer's lock the thread sleeps in its busy handler. Here a worker thread holds a second
 * connection to the same WAL database and runs the very code the server's thread would
 * (`HistoryRecorder.fileApiRequestNow`, writer-thread-worker.ts): one way to write a message, on
 * another thread. Nothing is handed over but plain data (the request's messages) and the result.
 *
 * The worker starts at the first large write and stays for the server's life (unref'd: it never
 * keeps the process up). BENCHMARKS.md, "Large messages", has the numbers.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { ApiRequestRecord, ApiFiling } from "./recorder.js";

/** One write for the worker: `fileApiRequestNow(request, provider, hashes)`. */
export interface WriterJob {
  id: number;
  request: ApiRequestRecord;
  provider: string;
  hashes: readonly string[];
}

/** The worker's answer to a job: the filing, or the error (message and SQLite code). */
export type WriterAnswer =
  { id: number; ok: true; filing: ApiFiling } | { id: number; ok: false; message: string; code?: string };

/** What the worker is told when it starts. */
export interface WriterThreadData {
  file: string;
  /** Milliseconds the worker's connection waits for another writer's lock. */
  busyTimeoutMs: number;
}

/**
 * The worker may wait for the lock far longer than the server's own connection (5 s): waiting
 * there stalls nothing, and a /v1 reply is recorded instead of dropped when a long import or
 * delete holds the lock.
 */
const WORKER_BUSY_TIMEOUT_MS = 60_000;

/**
 * The worker could not start or has stopped (not a failed write: that rejects with SQLite's own
 * error). The write is then made on the caller's thread; the worker is not started again.
 */
export class WriterThreadUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WriterThreadUnavailableError";
  }
}

const SELF = fileURLToPath(import.meta.url);
const WORKER_FILE = path.join(path.dirname(SELF), `writer-thread-worker${path.extname(SELF)}`);

export class HistoryWriterThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (f: ApiFiling) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closed = false;
  private failure: WriterThreadUnavailableError | undefined;

  /** `file` is the database the server's own connection has open (migrated). */
  constructor(private readonly file: string) {}

  /** Runs `fileApiRequestNow` on the worker's connection. Rejects with the worker's error (its `code` kept). */
  fileApiRequest(request: ApiRequestRecord, provider: string, hashes: readonly string[]): Promise<ApiFiling> {
    if (this.closed) return Promise.reject(new Error("history is closed"));
    if (this.failure) return Promise.reject(this.failure);
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<ApiFiling>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Only the fields recording reads: a request may carry what cannot be cloned.
      const job: WriterJob = { id, request: slim(request), provider, hashes };
      worker.ref(); // a write in flight keeps the process up until it has landed
      worker.postMessage(job);
    });
  }

  /** Stops the worker; its connection is closed (WAL kept consistent by SQLite), pending writes fail. */
  close(): void {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    worker.postMessage("close");
    this.failAll(new Error("history is closed"));
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const workerData: WriterThreadData = { file: this.file, busyTimeoutMs: WORKER_BUSY_TIMEOUT_MS };
    // Under tsx (tests, `npm run serve`) the worker gets tsx's loader first: on Node 20 a worker
    // does not inherit it. A build runs the compiled .js as it is.
    const worker = WORKER_FILE.endsWith(".ts")
      ? new Worker(
          `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(
            new URL(`file://${WORKER_FILE}`).href,
          )}); })`,
          { eval: true, workerData },
        )
      : new Worker(WORKER_FILE, { workerData });
    worker.unref();
    worker.on("message", (answer: WriterAnswer) => {
      const waiting = this.pending.get(answer.id);
      if (!waiting) return;
      this.pending.delete(answer.id);
      if (this.pending.size === 0) worker.unref();
      if (answer.ok) waiting.resolve(answer.filing);
      else waiting.reject(Object.assign(new Error(answer.message), answer.code ? { code: answer.code } : {}));
    });
    const gone = (cause: unknown) => {
      if (this.worker !== worker) return; // closed on purpose
      this.worker = undefined;
      this.failure = new WriterThreadUnavailableError(
        `the history writer thread stopped: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
      this.failAll(this.failure);
    };
    worker.on("error", gone);
    worker.on("exit", (code) => gone(`exit code ${code}`));
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    for (const { reject } of this.pending.values()) reject(err);
    this.pending.clear();
  }
}

function slim(r: ApiRequestRecord): ApiRequestRecord {
  return {
    model: r.model,
    messages: r.messages,
    sampling: r.sampling,
    ...(r.maxTokens !== undefined ? { maxTokens: r.maxTokens } : {}),
    ...(r.reasoning !== undefined ? { reasoning: r.reasoning } : {}),
  };
}

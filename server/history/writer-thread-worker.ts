/**
 * The worker side of writer-thread.ts: a second connection to the server's history database,
 * running the recorder's own filing code for each job it is sent. It opens the database the way
 * the server does (openHistoryDatabase: pragmas, and migrations, which the server's connection has
 * already applied, so none run here) and closes it when told to.
 */
import { parentPort, workerData } from "node:worker_threads";
import { HistoryRecorder } from "./recorder.js";
import { HistoryStore } from "./store.js";
import type { WriterAnswer, WriterJob, WriterThreadData } from "./writer-thread.js";

const { file, busyTimeoutMs } = workerData as WriterThreadData;
const store = HistoryStore.open(file, { busyTimeoutMs });
const recorder = new HistoryRecorder(store);

parentPort!.on("message", (job: WriterJob | "close") => {
  if (job === "close") {
    // A plain close: the server's connection checkpoints the WAL when it closes.
    store.db.close();
    parentPort!.close();
    return;
  }
  let answer: WriterAnswer;
  try {
    answer = { id: job.id, ok: true, filing: recorder.fileApiRequestNow(job.request, job.provider, job.hashes) };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    answer = {
      id: job.id,
      ok: false,
      message: err instanceof Error ? err.message : String(err),
      ...(typeof code === "string" ? { code } : {}),
    };
  }
  parentPort!.postMessage(answer);
});

/**
 * The history service one server owns: the store (the one connection), the recorder (the one
 * writer of turns) and retention. `createServer` opens it and closes it on shutdown.
 */
import path from "node:path";
import type { Logger } from "../logger.js";
import { openHistoryDatabaseReadOnly } from "./db.js";
import { HistoryRecorder } from "./recorder.js";
import { HistoryStore } from "./store.js";
import { UsageStore } from "./usage.js";
import { HistoryWriterThread } from "./writer-thread.js";

export interface HistoryOptions {
  /** The database file. Defaults to `<dataDir>/history.sqlite`. */
  file?: string;
  dataDir: string;
  /** Days to keep `api` conversations; 0 keeps them forever. */
  apiRetentionDays: number;
  logger: Pick<Logger, "info" | "warn">;
  /** How often retention runs while the server is up. Defaults to 6 hours. */
  pruneEveryMs?: number;
}

export interface History {
  readonly store: HistoryStore;
  readonly recorder: HistoryRecorder;
  /** What each API key used, per model and day (issue 20). */
  readonly usage: UsageStore;
  readonly file: string;
  close(): void;
}

export const HISTORY_FILE = "history.sqlite";

export function openHistory(options: HistoryOptions): History {
  const file = options.file ?? path.join(options.dataDir, HISTORY_FILE);
  const store = HistoryStore.open(file);
  const writerThread = new HistoryWriterThread(file);
  const recorder = new HistoryRecorder(store, { logger: options.logger, writerThread });
  const prune = () => {
    try {
      const removed = store.pruneApiConversations(options.apiRetentionDays);
      if (removed > 0)
        options.logger.info({ removed, days: options.apiRetentionDays }, "history: pruned old API conversations");
    } catch (err) {
      options.logger.warn({ err }, "history: retention pruning failed");
    }
  };
  prune();
  const timer = setInterval(prune, options.pruneEveryMs ?? 6 * 3_600_000);
  timer.unref();
  return {
    store,
    recorder,
    usage: new UsageStore(store.db),
    file,
    close() {
      clearInterval(timer);
      writerThread.close();
      store.close();
    },
  };
}

/**
 * What reading the history takes, and nothing that writes: the history MCP server's view
 * (server/history-mcp/), given the server's own store or a read-only one.
 */
export type HistoryReader = Pick<HistoryStore, "search" | "getConversation" | "getMessage" | "listConversations">;

/**
 * The history file opened read-only, beside a server that may be writing it (`hearth mcp`).
 * Only the reads are handed out, and the connection itself refuses writes
 * (openHistoryDatabaseReadOnly). Throws HistoryDatabaseError.
 */
export function openHistoryReader(file: string): HistoryReader & { close(): void } {
  const db = openHistoryDatabaseReadOnly(file);
  const store = new HistoryStore(db);
  return {
    search: store.search,
    getConversation: (id, options) => store.getConversation(id, options),
    getMessage: (id) => store.getMessage(id),
    listConversations: (query) => store.listConversations(query),
    // Not store.close(): a reader has nothing to checkpoint or optimize, and may not.
    close: () => db.close(),
  };
}

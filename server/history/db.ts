/**
 * Opens the history database: the driver, the pragmas, an FTS5 probe and the migrations. This is
 * the only place that decides how SQLite stores Hearth's history.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { MIGRATIONS, type Migration } from "./migrations/index.js";

export type Db = BetterSqlite3.Database;

const require = createRequire(import.meta.url);

/**
 * better-sqlite3 12 is built for Node's ABI and cannot load inside Electron; there the N-API
 * build (13.x, installed under the alias `better-sqlite3-electron`) is used. Same API
 * (docs/ENGINE-NOTES.md §6.3, option A). 13.x must never load under Node 20: it segfaults.
 */
function loadDriver(): typeof BetterSqlite3 {
  return require(process.versions.electron ? "better-sqlite3-electron" : "better-sqlite3") as typeof BetterSqlite3;
}

/** Why the history database could not be opened. Start-up fails with this message; it is not an HTTP error. */
export class HistoryDatabaseError extends Error {
  constructor(
    message: string,
    readonly code: "too_new" | "too_old" | "not_found" | "not_a_database" | "no_fts5" | "pragma" | "migration",
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "HistoryDatabaseError";
  }
}

export interface OpenHistoryDatabaseOptions {
  /** Schema steps to apply. Defaults to every migration this build has; tests pass a prefix to build old versions. */
  migrations?: readonly Migration[];
  /** Milliseconds a connection waits for another writer's lock. Defaults to 5000. */
  busyTimeoutMs?: number;
}

/**
 * Durability: WAL + synchronous=NORMAL. A transaction that committed is in the WAL file (written
 * with write(2) before COMMIT returns), so it survives a crash or kill -9 of the app. On a power
 * cut or OS crash the last transactions since the previous WAL sync may be lost, but the file is
 * never corrupted (it rolls back to a consistent state). `closeHistoryDatabase` checkpoints with
 * a sync, so everything written before a clean quit is on disk. FULL would fsync every commit
 * (2.4x slower per message, docs/ENGINE-NOTES.md §7.5) for power-loss safety of the last seconds of chat,
 * which is not worth it for a chat log.
 *
 * macOS: fsync() there leaves data in the drive's own cache; only F_FULLFSYNC reaches the platter.
 * With WAL + NORMAL the only syncs are at checkpoints, so `checkpoint_fullfsync` makes what was
 * checkpointed survive a power cut at the price of a rare slow sync; `fullfsync` (every sync)
 * would add nothing, since NORMAL does not sync commits. Elsewhere the pragma has no effect.
 */
const PRAGMAS: readonly { name: string; set: string; expect: number | string }[] = [
  { name: "journal_mode", set: "WAL", expect: "wal" },
  // Per connection; right after switching to WAL it reads back as FULL, so it is set after.
  { name: "synchronous", set: "NORMAL", expect: 1 },
  // Cascading deletes (conversation -> messages -> FTS rows) depend on it; node:sqlite has it off.
  { name: "foreign_keys", set: "ON", expect: 1 },
  // Set by the constructor's `timeout` too; asserted so a second process never fails at once with SQLITE_BUSY.
  { name: "busy_timeout", set: "", expect: -1 },
  // Keeps the WAL file from staying at its high-water mark after a burst of writes.
  { name: "journal_size_limit", set: String(64 * 1024 * 1024), expect: 64 * 1024 * 1024 },
  // Sorting search candidates should not touch disk.
  { name: "temp_store", set: "MEMORY", expect: 2 },
  // F_FULLFSYNC at checkpoints on macOS (see above).
  { name: "checkpoint_fullfsync", set: "ON", expect: 1 },
];

/** Opens (creating if needed) and migrates the database at `file`. Throws HistoryDatabaseError. */
export function openHistoryDatabase(file: string, options: OpenHistoryDatabaseOptions = {}): Db {
  const migrations = options.migrations ?? MIGRATIONS;
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (file !== ":memory:") ownerOnly(file);
  const Database = loadDriver();
  const db = new Database(file, { timeout: busyTimeoutMs });
  try {
    // Read before anything writes: a database from a newer Hearth must stay byte-for-byte as it is.
    const version = schemaVersionOf(
      db,
      file,
      migrations.length,
      "Update Hearth, or start with another data folder (--data-dir).",
    );
    applyPragmas(db, busyTimeoutMs);
    probeFts5(db);
    migrate(db, migrations, version);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Opens an existing database for reading only (`hearth mcp`): no file is created, nothing is
 * migrated, and the connection refuses every write (SQLITE_OPEN_READONLY, and `query_only` besides).
 * It reads beside a running server: WAL lets a reader see each committed write while the server
 * goes on writing. SQLite may create the empty `-wal` and `-shm` files a WAL reader needs (with the
 * database file's permissions) and leaves them; the database file itself is never written.
 * Throws HistoryDatabaseError: `not_found` (no history yet), `too_new`, `too_old` (an older Hearth's
 * schema, which only a server can upgrade) or `not_a_database`.
 */
export function openHistoryDatabaseReadOnly(file: string, options: { busyTimeoutMs?: number } = {}): Db {
  if (!fs.existsSync(file))
    throw new HistoryDatabaseError(
      `There is no history at ${file} yet. Chat in Hearth first, or point at its data folder (--data-dir).`,
      "not_found",
    );
  const Database = loadDriver();
  let db: Db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: options.busyTimeoutMs ?? 5000 });
  } catch (err) {
    throw new HistoryDatabaseError(`Cannot open ${file}: ${(err as Error).message}`, "not_a_database", { cause: err });
  }
  try {
    const version = schemaVersionOf(db, file, MIGRATIONS.length, "Update Hearth.");
    if (version < MIGRATIONS.length)
      throw new HistoryDatabaseError(
        `The history database ${file} has schema version ${version}; this Hearth reads ${MIGRATIONS.length}. ` +
          "Start the Hearth app or `hearth serve` once to upgrade it.",
        "too_old",
      );
    db.pragma("query_only = ON");
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * The schema version of an open database, read without writing. Throws `not_a_database` for a file
 * SQLite cannot read, and `too_new` (with `advice`) for a version past the `known` migrations.
 */
function schemaVersionOf(db: Db, file: string, known: number, advice: string): number {
  let version: number;
  try {
    version = db.pragma("user_version", { simple: true }) as number;
  } catch (err) {
    throw new HistoryDatabaseError(`${file} is not a SQLite database (${(err as Error).message}).`, "not_a_database", {
      cause: err,
    });
  }
  if (version > known) {
    throw new HistoryDatabaseError(
      `The history database ${file} was written by a newer version of Hearth (schema version ${version}; ` +
        `this version knows up to ${known}). It was not opened or changed. ${advice}`,
      "too_new",
    );
  }
  return version;
}

/**
 * History is as private as the secrets file: a folder made for it is 0700, and the database is 0600
 * before SQLite opens it. SQLite gives the WAL and shared-memory files it creates the database
 * file's permissions; ones left by an older Hearth (0644) are narrowed too. No effect on Windows.
 */
function ownerOnly(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  if (process.platform === "win32") return;
  // "wx": only a file that does not exist yet is opened here. Closing a descriptor of a file this
  // process has open in SQLite would drop that connection's POSIX locks.
  try {
    fs.closeSync(fs.openSync(file, "wx", 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if ((fs.statSync(f).mode & 0o077) !== 0) fs.chmodSync(f, 0o600);
    } catch (err) {
      // Not there (WAL and SHM come and go), or not ours to change: SQLite reports what matters.
      if (!["ENOENT", "EPERM"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
    }
  }
}

function applyPragmas(db: Db, busyTimeoutMs: number): void {
  for (const p of PRAGMAS) {
    const set = p.name === "busy_timeout" ? String(busyTimeoutMs) : p.set;
    const expect = p.name === "busy_timeout" ? busyTimeoutMs : p.expect;
    if (p.name === "journal_mode") switchToWal(db, busyTimeoutMs);
    else db.pragma(`${p.name} = ${set}`);
    const got = db.pragma(p.name, { simple: true }) as unknown;
    if (got !== expect) {
      throw new HistoryDatabaseError(
        `SQLite refused PRAGMA ${p.name} = ${set} (reads back ${String(got)}). ` +
          (p.name === "journal_mode" ? "WAL needs a local file system that supports shared memory." : ""),
        "pragma",
      );
    }
  }
}

/**
 * Converting a fresh file to WAL needs exclusive access, and SQLite does not run the busy handler
 * for it: with another process holding the file's write lock at that moment (two servers starting
 * on one fresh data folder, one already migrating) it failed at once with "database is locked"
 * whatever busy_timeout said (seen in CI: 2 of 6 processes). WAL is a property of the file, so it
 * is read first (no lock once any process has converted it), and the conversion is retried, with a
 * growing pause, for up to busy_timeout.
 */
function switchToWal(db: Db, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (let pauseMs = 5; ; pauseMs = Math.min(pauseMs * 2, 100)) {
    let busy: unknown = null;
    try {
      if (db.pragma("journal_mode", { simple: true }) === "wal") return;
      if (db.pragma("journal_mode = WAL", { simple: true }) === "wal") return;
    } catch (err) {
      if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
      busy = err;
    }
    // Refused without an error (the lock was not granted) or busy: wait for the other process.
    if (Date.now() >= deadline) {
      if (busy) throw busy;
      return; // the read-back in applyPragmas reports what the file is in
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs);
  }
}

function probeFts5(db: Db): void {
  try {
    db.exec("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x); DROP TABLE temp.fts5_probe;");
  } catch (err) {
    throw new HistoryDatabaseError("This SQLite build has no FTS5, which history search needs.", "no_fts5", {
      cause: err,
    });
  }
}

function migrate(db: Db, migrations: readonly Migration[], seen: number): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`Migration ${m.name} has version ${m.version}, expected ${i + 1}.`);
  });
  if (seen >= migrations.length) return;
  // One IMMEDIATE transaction for every pending step: it takes the write lock before reading the
  // version, so two processes starting at once on a fresh data folder (the app and a `hearth serve`,
  // or two test servers) serialise here instead of both running CREATE TABLE; the second waits up
  // to busy_timeout, then sees the new version and has nothing left to do. A failure leaves the
  // file at the version it had.
  db.transaction(() => {
    const from = db.pragma("user_version", { simple: true }) as number;
    for (const m of migrations.slice(from)) {
      try {
        m.up(db);
      } catch (err) {
        throw new HistoryDatabaseError(
          `Upgrading the history database to version ${m.version} (${m.name}) failed: ${(err as Error).message}`,
          "migration",
          { cause: err },
        );
      }
      db.pragma(`user_version = ${m.version}`);
    }
  }).immediate();
}

/** Checkpoints the WAL into the main file (with a sync) and closes, so a clean quit leaves one file. */
export function closeHistoryDatabase(db: Db): void {
  if (!db.open) return;
  try {
    db.pragma("optimize");
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
}

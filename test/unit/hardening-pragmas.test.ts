/**
 * The durability pragmas the history database runs with, read back from a real file after it was
 * opened, closed and opened again (pragmas are per connection): WAL, synchronous=NORMAL (commits
 * survive kill -9; see server/history/db.ts for why not FULL), checkpoint_fullfsync (F_FULLFSYNC
 * at checkpoints on macOS), and foreign keys for the cascading deletes the FTS index relies on.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { closeHistoryDatabase, openHistoryDatabase } from "../../server/history/db.js";

test("WAL, synchronous NORMAL, checkpoint_fullfsync and foreign keys at every open", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-pragmas-"));
  try {
    const file = path.join(dir, "history.sqlite");
    closeHistoryDatabase(openHistoryDatabase(file));
    const db = openHistoryDatabase(file);
    try {
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
      assert.equal(db.pragma("synchronous", { simple: true }), 1, "NORMAL");
      assert.equal(db.pragma("checkpoint_fullfsync", { simple: true }), 1);
      assert.equal(
        db.pragma("fullfsync", { simple: true }),
        0,
        "no per-sync F_FULLFSYNC: NORMAL does not sync commits",
      );
      assert.equal(db.pragma("foreign_keys", { simple: true }), 1);
      assert.ok(fs.existsSync(`${file}-wal`), "the WAL file exists while open");
    } finally {
      closeHistoryDatabase(db);
    }
    assert.equal(fs.existsSync(`${file}-wal`), false, "a clean close checkpoints and removes the WAL");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

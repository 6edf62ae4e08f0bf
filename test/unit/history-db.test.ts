import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { closeHistoryDatabase, HistoryDatabaseError, openHistoryDatabase } from "../../server/history/db.js";
import { INDEXED_CHARS } from "../../server/history/migrations/004-bounded-search.js";
import { MIGRATIONS, SCHEMA_VERSION } from "../../server/history/migrations/index.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-history-db-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmpFile = () => path.join(dir, `db-${++n}`, "history.sqlite");
const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

describe("openHistoryDatabase", () => {
  test("sets and keeps the durability pragmas", () => {
    const db = openHistoryDatabase(tmpFile());
    try {
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
      assert.equal(db.pragma("synchronous", { simple: true }), 1);
      assert.equal(db.pragma("foreign_keys", { simple: true }), 1);
      assert.equal(db.pragma("busy_timeout", { simple: true }), 5000);
      assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    } finally {
      closeHistoryDatabase(db);
    }
  });

  test("a fresh database passes integrity and FTS checks, and reopening changes nothing", () => {
    const file = tmpFile();
    closeHistoryDatabase(openHistoryDatabase(file));
    const db = openHistoryDatabase(file);
    try {
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
      for (const t of ["messages_fts", "messages_trigram", "conversations_fts"]) {
        db.prepare(`INSERT INTO ${t} (${t}, rank) VALUES ('integrity-check', 1)`).run();
      }
      assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    } finally {
      closeHistoryDatabase(db);
    }
  });

  test("migration 1 builds the core schema from an empty file", () => {
    const db = openHistoryDatabase(tmpFile(), { migrations: MIGRATIONS.slice(0, 1) });
    try {
      assert.equal(db.pragma("user_version", { simple: true }), 1);
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
      assert.deepEqual(tables, ["conversations", "messages"]);
      db.prepare("INSERT INTO conversations (id, source, created_at, updated_at) VALUES ('c', 'ui', 1, 1)").run();
      assert.throws(
        () =>
          db.prepare("INSERT INTO conversations (id, source, created_at, updated_at) VALUES ('d', 'x', 1, 1)").run(),
        /CHECK/,
      );
      // One shown child per branch point.
      db.prepare(
        "INSERT INTO messages (conversation_rid, role, content, created_at, updated_at) VALUES (1, 'user', 'a', 1, 1)",
      ).run();
      assert.throws(
        () =>
          db
            .prepare(
              "INSERT INTO messages (conversation_rid, role, content, created_at, updated_at) VALUES (1, 'user', 'b', 1, 1)",
            )
            .run(),
        /UNIQUE/,
      );
    } finally {
      closeHistoryDatabase(db);
    }
  });

  test("migration 2 indexes rows written at version 1", () => {
    const file = tmpFile();
    const v1 = openHistoryDatabase(file, { migrations: MIGRATIONS.slice(0, 1) });
    v1.prepare(
      "INSERT INTO conversations (id, title, source, created_at, updated_at) VALUES ('c1', 'Zürich trip', 'ui', 1, 1)",
    ).run();
    v1.prepare(
      "INSERT INTO messages (conversation_rid, role, content, created_at, updated_at) VALUES (1, 'user', 'Where is the café near Électron street? 東京タワー', 1, 1)",
    ).run();
    closeHistoryDatabase(v1);

    const db = openHistoryDatabase(file);
    try {
      assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
      const count = (sql: string, q: string) => db.prepare(sql).pluck().get(q);
      assert.equal(count("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", '"cafe"'), 1);
      assert.equal(count("SELECT count(*) FROM messages_trigram WHERE messages_trigram MATCH ?", '"京タワ"'), 1);
      assert.equal(count("SELECT count(*) FROM conversations_fts WHERE conversations_fts MATCH ?", '"zurich"'), 1);
      db.prepare("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)").run();
    } finally {
      closeHistoryDatabase(db);
    }
  });

  test("migration 3 gives new ids and valid times to what imports let in before they were checked", () => {
    const file = tmpFile();
    const v2 = openHistoryDatabase(file, { migrations: MIGRATIONS.slice(0, 2) });
    const conv = v2.prepare(
      "INSERT INTO conversations (id, title, source, created_at, updated_at) VALUES (?, ?, 'ui', ?, ?) RETURNING rid",
    );
    const msg = v2.prepare(
      "INSERT INTO messages (conversation_rid, role, content, created_at, updated_at) VALUES (?, 'user', 'hi', ?, ?)",
    );
    const kept = conv.pluck().get("conv_Kept-id_1", "kept", 5, 6) as number;
    msg.run(kept, 5, 6);
    for (const [id, time] of [
      ["a\nb", 1],
      ["x€y", 2],
      ["9e15", 9e15],
      ["x".repeat(101), -5],
    ] as const) {
      const rid = conv.pluck().get(id, id.slice(0, 10), time, time) as number;
      msg.run(rid, time, time);
    }
    closeHistoryDatabase(v2);

    const db = openHistoryDatabase(file);
    try {
      const rows = db
        .prepare<[], { id: string; title: string; created_at: number; updated_at: number }>(
          "SELECT id, title, created_at, updated_at FROM conversations ORDER BY rid",
        )
        .all();
      assert.deepEqual(rows[0], { id: "conv_Kept-id_1", title: "kept", created_at: 5, updated_at: 6 });
      for (const i of [1, 2, 4]) assert.match(rows[i]!.id, /^conv_[0-9a-f]{24}$/, rows[i]!.title);
      assert.equal(rows[3]!.id, "9e15", "a valid id stays");
      assert.equal(new Set(rows.map((r) => r.id)).size, rows.length);
      assert.deepEqual(
        rows.map((r) => r.created_at),
        [5, 1, 2, 8_640_000_000_000_000, 0],
      );
      const times = db.prepare("SELECT created_at FROM messages ORDER BY id").pluck().all();
      assert.deepEqual(times, [5, 1, 2, 8_640_000_000_000_000, 0]);
      assert.equal(db.pragma("foreign_key_check", { simple: true }), undefined);
    } finally {
      closeHistoryDatabase(db);
    }
  });

  test("migration 4 indexes what version 3 wrote, in contentless tables bounded to INDEXED_CHARS", () => {
    const file = tmpFile();
    const v3 = openHistoryDatabase(file, { migrations: MIGRATIONS.slice(0, 3) });
    v3.prepare("INSERT INTO conversations (id, source, created_at, updated_at) VALUES ('c1', 'ui', 1, 1)").run();
    const insert = v3.prepare(
      "INSERT INTO messages (conversation_rid, role, content, active, created_at, updated_at) VALUES (1, 'user', ?, ?, 1, 1)",
    );
    insert.run("Where is the café? 東京タワー", 1);
    insert.run(`start ${"x ".repeat(INDEXED_CHARS / 2)} beyond`, 0);
    closeHistoryDatabase(v3);

    const db = openHistoryDatabase(file);
    try {
      const count = (table: string, q: string) =>
        db.prepare(`SELECT count(*) FROM ${table} WHERE ${table} MATCH ?`).pluck().get(q);
      assert.equal(count("messages_fts", '"cafe"'), 1);
      assert.equal(count("messages_trigram", '"京タワ"'), 1);
      assert.equal(count("messages_fts", '"start"'), 1);
      assert.equal(count("messages_fts", '"beyond"'), 0, "past INDEXED_CHARS");
      const sql = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'messages_fts'").pluck().get() as string;
      assert.match(sql, /contentless_delete = 1/);
      db.prepare("DELETE FROM messages WHERE id = 1").run();
      assert.equal(count("messages_fts", '"cafe"'), 0);
      assert.equal(count("messages_trigram", '"京タワ"'), 0);
      for (const t of ["messages_fts", "messages_trigram"])
        db.prepare(`INSERT INTO ${t} (${t}, rank) VALUES ('integrity-check', 1)`).run();
    } finally {
      closeHistoryDatabase(db);
    }
  });

  test("refuses a database from a newer version and leaves the file byte-for-byte unchanged", () => {
    const file = tmpFile();
    closeHistoryDatabase(openHistoryDatabase(file));
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.pragma("journal_mode = DELETE");
    raw.close();
    const before = sha(file);
    assert.throws(
      () => openHistoryDatabase(file),
      (err: unknown) =>
        err instanceof HistoryDatabaseError &&
        err.code === "too_new" &&
        err.message.includes(`schema version ${SCHEMA_VERSION + 1}`) &&
        err.message.includes("newer version of Hearth"),
    );
    assert.equal(sha(file), before);
    assert.equal(fs.existsSync(`${file}-wal`), false);
  });

  test("a failing migration leaves the database at the version it had", () => {
    const file = tmpFile();
    closeHistoryDatabase(openHistoryDatabase(file, { migrations: MIGRATIONS.slice(0, 1) }));
    const broken = [
      ...MIGRATIONS,
      {
        version: MIGRATIONS.length + 1,
        name: "broken",
        up: (db: Database.Database) => db.exec("CREATE TABLE nope (x); SELECT * FROM missing_table"),
      },
    ];
    assert.throws(
      () => openHistoryDatabase(file, { migrations: broken }),
      (err: unknown) => err instanceof HistoryDatabaseError && err.code === "migration",
    );
    const raw = new Database(file, { readonly: true });
    try {
      assert.equal(raw.pragma("user_version", { simple: true }), 1);
      assert.equal(
        raw.prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('messages_fts', 'nope')").pluck().get(),
        0,
      );
    } finally {
      raw.close();
    }
  });

  test("a file that is not SQLite is reported as such", () => {
    const file = tmpFile();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, "this is not a database, just some text that is long enough to have a header ".repeat(20));
    assert.throws(
      () => openHistoryDatabase(file),
      (err: unknown) => err instanceof HistoryDatabaseError && err.code === "not_a_database",
    );
  });

  test("the switch to WAL waits for another process writing the fresh file, instead of failing", async () => {
    // Holding a read lock while another connection holds the write lock, the journal-mode change
    // gets SQLITE_BUSY without SQLite running the busy handler, so busy_timeout alone did not help.
    const file = tmpFile();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const Database = require("better-sqlite3");
const db = new Database(${JSON.stringify(file)});
db.exec("CREATE TABLE IF NOT EXISTS held (x)");
db.exec("BEGIN IMMEDIATE");
db.prepare("INSERT INTO held VALUES (1)").run();
console.log("holding");
setTimeout(() => { db.exec("COMMIT"); db.close(); }, 600);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"], cwd: fileURLToPath(new URL("../..", import.meta.url)) },
    );
    const exited = new Promise((resolve) => holder.on("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on("data", (d: Buffer) => d.toString().includes("holding") && resolve());
      holder.on("exit", (code) => reject(new Error(`the holder exited with ${code} before holding its lock`)));
    });
    const started = Date.now();
    const db = openHistoryDatabase(file);
    try {
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
      assert.ok(Date.now() - started >= 100, "it waited for the reader's lock");
    } finally {
      closeHistoryDatabase(db);
      await exited;
    }
  });

  test("processes opening one fresh file at the same moment migrate it once, and all open it", async () => {
    // The app and a `hearth serve` (or two test servers) starting together on a fresh data folder.
    const file = tmpFile();
    const go = path.join(dir, `go-${n}`);
    const child = path.join(dir, `open-${n}.mts`);
    const dbModule = fileURLToPath(new URL("../../server/history/db.ts", import.meta.url));
    fs.writeFileSync(
      child,
      `import fs from "node:fs";
import { openHistoryDatabase, closeHistoryDatabase } from ${JSON.stringify(dbModule)};
while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));
try { closeHistoryDatabase(openHistoryDatabase(${JSON.stringify(file)})); console.log("ok"); }
catch (err) { console.log("failed: " + err.message); process.exitCode = 1; }
`,
    );
    const runs = Array.from({ length: 6 }, () => {
      const p = spawn(process.execPath, ["--import", "tsx", child], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      p.stdout.on("data", (d: Buffer) => (out += d.toString()));
      return new Promise<string>((resolve) => p.on("exit", () => resolve(out.trim())));
    });
    // Let every child reach its wait loop before releasing them together.
    await new Promise((r) => setTimeout(r, 4000));
    fs.writeFileSync(go, "");
    const outputs = await Promise.all(runs);
    assert.deepEqual(outputs, Array(6).fill("ok"), `every process opened the database: ${outputs.join(" | ")}`);
    const raw = new Database(file, { readonly: true });
    try {
      assert.equal(raw.pragma("user_version", { simple: true }), SCHEMA_VERSION);
      assert.equal(raw.pragma("integrity_check", { simple: true }), "ok");
    } finally {
      raw.close();
    }
  });
});

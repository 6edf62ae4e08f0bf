/**
 * Durability loop: `hearth serve` is killed with SIGKILL at a random moment while replies stream
 * (through /api and /v1) and conversations are created, renamed and answered. After each kill the
 * database passes PRAGMA integrity_check and the FTS5 integrity checks, and after each restart
 * every write the server acknowledged is there, and every reply the kill interrupted is kept,
 * marked partial, with the text the client had seen up to the bound README states (its first
 * text always; then less than FLUSH_CHARS characters missing).
 *
 * HEARTH_KILLS sets the number of kills (default 3, so npm test stays fast); BENCHMARKS.md has
 * the result of a 200-kill run.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { FLUSH_CHARS } from "../../server/history/recorder.js";
import { killHard, spawnHearth, type HearthProcess } from "../helpers/cli-process.js";
import { testModelPath } from "../helpers/models.js";
import { rawRequest, sseData } from "../helpers/raw-http.js";

const KILLS = Number(process.env.HEARTH_KILLS ?? 3);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-durability-"));
const dbFile = path.join(dataDir, "history.sqlite");
let current: HearthProcess | undefined;
after(async () => {
  if (current) await killHard(current);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** What the server acknowledged (and what it may have done without acknowledging) in one life. */
interface Ledger {
  /** Conversation id -> titles that may be current: the last acknowledged one and any sent after it. */
  conversations: Map<string, { titles: Set<string> }>;
  /** Non-streamed replies that were answered in full. */
  complete: { conversationId: string; userId: number; replyId: number }[];
  /** Streams: their user message was stored before the headers came; the reply may have been cut. */
  streams: { conversationId: string; userId: number; replyId: number; received: string; finished: boolean }[];
  /** /v1 streams (short, so a kill often lands in their first half second), by their unique user text. */
  v1: { content: string; received: string; finished: boolean }[];
}

const newLedger = (): Ledger => ({ conversations: new Map(), complete: [], streams: [], v1: [] });

/** The text of the content deltas of the whole SSE events received, and whether `[DONE]` came. */
function streamedText(raw: string): { text: string; done: boolean } {
  // Only whole events: a read can end inside one.
  const events = sseData(raw.slice(0, raw.lastIndexOf("\n\n") + 1));
  const text = events
    .filter((e) => e.startsWith("{"))
    .map((e) => (JSON.parse(e) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? "")
    .join("");
  return { text, done: events.includes("[DONE]") };
}

/** POSTs a streaming request and calls `onData` with everything received so far, until the connection ends or dies. */
function streamRaw(
  url: string,
  pathname: string,
  body: unknown,
  onResponse: (res: http.IncomingMessage) => boolean,
  onData: (raw: string) => void,
): Promise<void> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: "POST",
        path: pathname,
        agent: false,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        if (!onResponse(res)) {
          res.resume();
          return resolve();
        }
        let raw = "";
        res.on("data", (d: Buffer) => onData((raw += d.toString())));
        res.on("end", resolve);
        res.on("error", () => resolve());
        res.on("close", resolve);
      },
    );
    req.on("error", () => resolve());
    req.end(JSON.stringify(body));
  });
}

const json = (res: { body: string }) => JSON.parse(res.body) as Record<string, unknown>;

/** Streams a reply through /api until the connection dies; records what the client saw. */
function streamReply(url: string, conversationId: string, content: string, ledger: Ledger): Promise<void> {
  let entry: Ledger["streams"][number] | undefined;
  return streamRaw(
    url,
    `/api/conversations/${conversationId}/messages`,
    { content, params: { maxTokens: 6000, temperature: 1 } },
    (res) => {
      if (res.statusCode !== 200) return false;
      entry = {
        conversationId,
        userId: Number(res.headers["x-hearth-parent-id"]),
        replyId: Number(res.headers["x-hearth-message-id"]),
        received: "",
        finished: false,
      };
      ledger.streams.push(entry);
      return true;
    },
    (raw) => {
      const { text, done } = streamedText(raw);
      entry!.received = text;
      entry!.finished = done;
    },
  );
}

/** Creates, renames and answers conversations until the server dies. */
async function writeLoop(url: string, ledger: Ledger, rand: () => number, alive: () => boolean): Promise<void> {
  for (let n = 0; alive(); n++) {
    const created = await rawRequest(url, {
      path: "/api/conversations",
      body: JSON.stringify({ title: `created ${n}`, params: { maxTokens: 6 } }),
      timeoutMs: 5000,
    }).catch(() => null);
    if (!created || created.status !== 201) return;
    const id = json(created).id as string;
    const entry = { titles: new Set([`created ${n}`]) };
    ledger.conversations.set(id, entry);
    const title = `renamed ${n} ${Math.floor(rand() * 1e6)}`;
    entry.titles.add(title);
    const renamed = await rawRequest(url, {
      method: "PATCH",
      path: `/api/conversations/${id}`,
      body: JSON.stringify({ title }),
      timeoutMs: 5000,
    }).catch(() => null);
    if (!renamed) return;
    if (renamed.status === 200) entry.titles = new Set([title]);
    const answered = await rawRequest(url, {
      path: `/api/conversations/${id}/messages`,
      body: JSON.stringify({ content: `question ${n}`, stream: false }),
      timeoutMs: 10_000,
    }).catch(() => null);
    if (!answered) return;
    if (answered.status === 200)
      ledger.complete.push({
        conversationId: id,
        userId: Number(answered.headers["x-hearth-parent-id"]),
        replyId: Number(answered.headers["x-hearth-message-id"]),
      });
  }
}

/** /v1 streams, recorded as API conversations by the history recorder. */
async function v1Loop(url: string, life: number, ledger: Ledger, alive: () => boolean): Promise<void> {
  for (let n = 0; alive(); n++) {
    const entry = { content: `api story ${life}.${n}`, received: "", finished: false };
    ledger.v1.push(entry);
    await streamRaw(
      url,
      "/v1/chat/completions",
      { model: "stories260K", messages: [{ role: "user", content: entry.content }], max_tokens: 150, stream: true },
      (res) => res.statusCode === 200,
      (raw) => {
        const { text, done } = streamedText(raw);
        entry.received = text;
        entry.finished = done;
      },
    );
  }
}

/**
 * The bound README states for a reply the client was streaming: its first text is stored before it
 * is sent, and less than FLUSH_CHARS (an eighth of the reply, when more) of what it saw can be missing.
 */
function assertDurable(received: string, stored: string, what: string): void {
  assert.ok(
    received.startsWith(stored) || stored.startsWith(received),
    `${what}: the stored text and what the client saw agree`,
  );
  if (received.length > 0) assert.ok(stored.length > 0, `${what}: the client saw text, so some is stored`);
  const missing = received.length - stored.length;
  assert.ok(
    missing < Math.max(FLUSH_CHARS, stored.length / 8),
    `${what}: ${missing} characters the client saw are not stored`,
  );
}

function checkDatabase(): void {
  const db = new Database(dbFile);
  try {
    assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
    assert.equal((db.pragma("foreign_key_check") as unknown[]).length, 0, "no dangling references");
    // With rank 1, FTS5 also compares the index with the content table it indexes.
    for (const table of ["messages_fts", "messages_trigram", "conversations_fts"]) {
      db.prepare(`INSERT INTO ${table} (${table}, rank) VALUES ('integrity-check', 1)`).run();
    }
  } finally {
    db.close();
  }
}

interface StoredMessage {
  id: number;
  role: string;
  content: string;
  status: string;
}

async function verify(url: string, ledger: Ledger): Promise<void> {
  for (const [id, { titles }] of ledger.conversations) {
    const res = await rawRequest(url, { path: `/api/conversations/${id}` });
    assert.equal(res.status, 200, `acknowledged conversation ${id} is there`);
    const title = json(res).title as string;
    assert.ok(titles.has(title), `title of ${id}: '${title}' is one of ${[...titles].join(" | ")}`);
  }
  const messages = new Map<string, Map<number, StoredMessage>>();
  const messagesOf = async (conversationId: string) => {
    let m = messages.get(conversationId);
    if (!m) {
      const exported = JSON.parse((await rawRequest(url, { path: `/api/export?ids=${conversationId}` })).body) as {
        conversations: { messages: StoredMessage[] }[];
      };
      m = new Map(exported.conversations[0]!.messages.map((x) => [x.id, x]));
      messages.set(conversationId, m);
    }
    return m;
  };
  for (const c of ledger.complete) {
    const m = await messagesOf(c.conversationId);
    assert.equal(m.get(c.userId)?.status, "complete", `acknowledged question ${c.userId}`);
    assert.equal(m.get(c.replyId)?.status, "complete", `acknowledged reply ${c.replyId}`);
  }
  for (const s of ledger.streams) {
    const m = await messagesOf(s.conversationId);
    assert.equal(m.get(s.userId)?.role, "user", `the question of stream ${s.replyId} is kept`);
    const reply = m.get(s.replyId);
    assert.ok(reply, `the reply row ${s.replyId} exists`);
    if (!s.finished)
      assert.ok(
        reply.status === "partial" || reply.status === "complete",
        `an interrupted reply is kept and marked (${reply.status})`,
      );
    assertDurable(s.received, reply.content, `reply ${s.replyId}`);
    if (s.finished) assert.equal(reply.status, "complete");
  }
  const all = JSON.parse((await rawRequest(url, { path: "/api/export" })).body) as {
    conversations: { source: string; messages: (StoredMessage & { parentId: number | null })[] }[];
  };
  const api = all.conversations.filter((c) => c.source === "api").flatMap((c) => c.messages);
  for (const v of ledger.v1.filter((x) => x.received.length > 0)) {
    const question = api.find((m) => m.role === "user" && m.content === v.content);
    assert.ok(question, `the question of /v1 stream '${v.content}' is recorded`);
    const reply = api.find((m) => m.parentId === question.id && m.role === "assistant");
    assert.ok(reply, `the reply of /v1 stream '${v.content}' is recorded`);
    assertDurable(v.received, reply.content, `/v1 stream '${v.content}'`);
    if (v.finished) assert.equal(reply.status, "complete");
  }
}

test(`${KILLS} kill -9s during streaming and writes: the database stays intact and nothing acknowledged is lost`, async (ctx) => {
  const model = await testModelPath();
  const totals = {
    conversations: 0,
    complete: 0,
    streams: 0,
    interrupted: 0,
    partial: 0,
    v1Streams: 0,
    v1Interrupted: 0,
  };
  for (let life = 0; life < KILLS; life++) {
    const rand = random(1000 + life);
    current = await spawnHearth([
      "--model",
      model,
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--threads",
      "1",
      "--parallel",
      "3",
      "--ctx-size",
      "8192",
    ]);
    const url = current.url;
    if (life > 0) await verify(url, previous!);
    const ledger = newLedger();
    let alive = true;
    const p = current;
    void p.exited.then(() => (alive = false));
    const work = Promise.all([
      (async () => {
        // A new UI conversation with a long streamed reply, again and again.
        for (let n = 0; alive; n++) {
          const created = await rawRequest(url, {
            path: "/api/conversations",
            body: JSON.stringify({ title: `stream ${life}.${n}` }),
            timeoutMs: 5000,
          }).catch(() => null);
          if (!created || created.status !== 201) return;
          const id = json(created).id as string;
          ledger.conversations.set(id, { titles: new Set([`stream ${life}.${n}`]) });
          await streamReply(url, id, `Tell a long story number ${n}`, ledger);
        }
      })(),
      writeLoop(url, ledger, rand, () => alive),
      v1Loop(url, life, ledger, () => alive),
    ]);
    await new Promise((r) => setTimeout(r, 300 + Math.floor(rand() * 2200)));
    p.child.kill("SIGKILL");
    await p.exited;
    await work;
    checkDatabase();
    totals.conversations += ledger.conversations.size;
    totals.complete += ledger.complete.length;
    totals.streams += ledger.streams.length;
    totals.interrupted += ledger.streams.filter((s) => !s.finished).length;
    totals.v1Streams += ledger.v1.length;
    totals.v1Interrupted += ledger.v1.filter((v) => v.received.length > 0 && !v.finished).length;
    previous = ledger;
  }
  // The last life's ledger, after one more restart; then everything is still searchable.
  current = await spawnHearth(["--model", model, "--port", "0", "--data-dir", dataDir, "--threads", "1"]);
  await verify(current.url, previous!);
  const partial = JSON.parse((await rawRequest(current.url, { path: "/api/export" })).body) as {
    conversations: { messages: StoredMessage[] }[];
  };
  totals.partial = partial.conversations.flatMap((c) => c.messages).filter((m) => m.status === "partial").length;
  const hits = json(await rawRequest(current.url, { path: "/api/search?q=story" }));
  assert.ok((hits.hits as unknown[]).length > 0, "search still works");
  current.child.kill("SIGTERM");
  assert.equal(await current.exited, 0);
  checkDatabase();
  ctx.diagnostic(`${KILLS} kills: ${JSON.stringify(totals)}`);
  assert.ok(totals.interrupted >= KILLS, "each kill interrupted at least one streaming reply");
});

let previous: Ledger | undefined;

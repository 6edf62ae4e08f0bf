import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, beforeEach, describe, test } from "node:test";
import { HearthError } from "../../server/errors.js";
import { HistoryStore, titleFrom } from "../../server/history/store.js";
import type { ExportFile } from "../../server/history/types.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-history-store-"));
const stores: HistoryStore[] = [];
after(() => {
  for (const s of stores) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
let n = 0;
let clock = 1_700_000_000_000;
function openStore(): HistoryStore {
  const s = HistoryStore.open(path.join(dir, `s${++n}.sqlite`), { now: () => clock });
  stores.push(s);
  return s;
}
const ftsCount = (s: HistoryStore, table: string, q: string) =>
  s.db.prepare(`SELECT count(*) FROM ${table} WHERE ${table} MATCH ?`).pluck().get(q) as number;
function integrityCheck(s: HistoryStore): void {
  for (const t of ["messages_fts", "messages_trigram", "conversations_fts"]) {
    s.db.prepare(`INSERT INTO ${t} (${t}, rank) VALUES ('integrity-check', 1)`).run();
  }
  assert.equal(s.db.pragma("integrity_check", { simple: true }), "ok");
}

describe("HistoryStore conversations", () => {
  let s: HistoryStore;
  beforeEach(() => {
    s = openStore();
  });

  test("create, get, rename, pin and change settings", () => {
    const c = s.createConversation({
      source: "ui",
      model: "m1",
      provider: "local",
      systemPrompt: "Be brief.",
      params: { temperature: 0.5 },
    });
    assert.match(c.id, /^conv_[\w-]{16}$/);
    assert.deepEqual(
      {
        title: c.title,
        source: c.source,
        pinned: c.pinned,
        params: c.params,
        systemPrompt: c.systemPrompt,
        messageCount: c.messageCount,
      },
      {
        title: "",
        source: "ui",
        pinned: false,
        params: { temperature: 0.5 },
        systemPrompt: "Be brief.",
        messageCount: 0,
      },
    );
    s.appendMessage(c.id, { role: "user", content: "  How do tides work?\nAnd why twice a day?" });
    assert.equal(s.getConversation(c.id)?.title, "How do tides work?", "the first user message names the conversation");
    s.updateConversation(c.id, { title: "Tides" });
    s.appendMessage(c.id, { role: "user", content: "another" });
    assert.equal(s.getConversation(c.id)?.title, "Tides", "an explicit title stays");
    const updated = s.updateConversation(c.id, {
      pinned: true,
      params: { topP: 0.9 },
      model: "m2",
      systemPrompt: null,
    });
    assert.deepEqual(
      [updated.pinned, updated.params, updated.model, updated.systemPrompt],
      [true, { topP: 0.9 }, "m2", null],
    );
    assert.throws(
      () => s.updateConversation("conv_missing", { title: "x" }),
      (e: unknown) => e instanceof HearthError && e.status === 404,
    );
    assert.equal(s.getConversation("conv_missing"), undefined);
  });

  test("titleFrom trims to a line and a length", () => {
    assert.equal(titleFrom("\n  hello world  \nsecond"), "hello world");
    assert.equal(titleFrom(`  ${"😀".repeat(100)}\n${"y".repeat(5_000_000)}`, 10), `${"😀".repeat(9)}…`);
    assert.equal(titleFrom(`\r\n\t short \r\n${"z ".repeat(1_000_000)}`), "short");
    assert.equal(titleFrom(`${"word ".repeat(3_000_000)}`, 12), "word word w…");
    const long = titleFrom("x".repeat(200), 10);
    assert.equal([...long].length, 10);
    assert.ok(long.endsWith("…"));
  });

  test("list: pinned first, newest first, cursor pages, filters", () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      clock += 1000;
      const c = s.createConversation({ source: i % 2 === 0 ? "ui" : "api", model: i < 3 ? "a" : "b", title: `c${i}` });
      ids.push(c.id);
    }
    s.updateConversation(ids[1]!, { pinned: true });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = s.listConversations({ limit: 3, cursor });
      assert.ok(page.items.length <= 3);
      seen.push(...page.items.map((c) => c.title));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(seen, ["c1", "c6", "c5", "c4", "c3", "c2", "c0"]);
    assert.deepEqual(
      s.listConversations({ source: "api" }).items.map((c) => c.title),
      ["c1", "c5", "c3"],
    );
    assert.deepEqual(
      s.listConversations({ model: "a", pinned: false }).items.map((c) => c.title),
      ["c2", "c0"],
    );
    const c3 = s.getConversationInfo(ids[3]!)!;
    assert.deepEqual(
      s.listConversations({ from: c3.updatedAt, to: c3.updatedAt + 2000 }).items.map((c) => c.title),
      ["c4", "c3"],
    );
    assert.throws(
      () => s.listConversations({ cursor: "garbage" }),
      (e: unknown) => e instanceof HearthError && e.param === "cursor",
    );
  });

  test("appending a message moves the conversation to the top", () => {
    const a = s.createConversation({ source: "ui", title: "a" });
    clock += 10;
    s.createConversation({ source: "ui", title: "b" });
    clock += 10;
    s.appendMessage(a.id, { role: "user", content: "hi" });
    assert.deepEqual(
      s.listConversations().items.map((c) => c.title),
      ["a", "b"],
    );
  });
});

describe("HistoryStore branches", () => {
  test("regenerate and edit make branches; the newest is shown; switching shows the old one", () => {
    const s = openStore();
    const c = s.createConversation({ source: "ui" });
    const u1 = s.appendMessage(c.id, { role: "user", content: "Tell me a story" });
    const a1 = s.appendMessage(c.id, {
      role: "assistant",
      content: "Once upon a time",
      model: "m",
      completionTokens: 4,
    });
    const u2 = s.appendMessage(c.id, { role: "user", content: "Longer" });
    const a2 = s.appendMessage(c.id, { role: "assistant", content: "Once upon a long time" });
    // Regenerate a1: a sibling under u1.
    const a1b = s.appendMessage(c.id, { role: "assistant", content: "A dragon lived", parentId: u1.id });
    let thread = s.getConversation(c.id)!.messages;
    assert.deepEqual(
      thread.map((m) => m.id),
      [u1.id, a1b.id],
    );
    assert.deepEqual(thread[1]!.siblingIds, [a1.id, a1b.id]);
    assert.deepEqual(thread[0]!.siblingIds, [u1.id]);
    // Switch back: the old branch comes back with its own continuation.
    s.setActiveBranch(a1.id);
    thread = s.getConversation(c.id)!.messages;
    assert.deepEqual(
      thread.map((m) => m.id),
      [u1.id, a1.id, u2.id, a2.id],
    );
    assert.equal(s.leafId(c.id), a2.id);
    // Edit the first user message: a new root.
    const u1b = s.appendMessage(c.id, { role: "user", content: "Tell me a joke", parentId: null });
    thread = s.getConversation(c.id)!.messages;
    assert.deepEqual(
      thread.map((m) => m.id),
      [u1b.id],
    );
    assert.deepEqual(thread[0]!.siblingIds, [u1.id, u1b.id]);
    // `at` shows the branch through a message without changing the shown one.
    assert.deepEqual(
      s.getConversation(c.id, { at: u2.id })!.messages.map((m) => m.id),
      [u1.id, a1.id, u2.id, a2.id],
    );
    assert.deepEqual(
      s.getConversation(c.id)!.messages.map((m) => m.id),
      [u1b.id],
    );
    // Activating a deep message activates its ancestors.
    s.setActiveBranch(a2.id);
    assert.deepEqual(
      s.getConversation(c.id)!.messages.map((m) => m.id),
      [u1.id, a1.id, u2.id, a2.id],
    );
    assert.deepEqual(
      s.pathTo(u2.id).map((m) => m.id),
      [u1.id, a1.id, u2.id],
    );
    assert.equal(s.getConversationInfo(c.id)!.messageCount, 6);
  });

  test("a parent from another conversation is refused", () => {
    const s = openStore();
    const a = s.createConversation({ source: "ui" });
    const b = s.createConversation({ source: "ui" });
    const m = s.appendMessage(a.id, { role: "user", content: "x" });
    assert.throws(
      () => s.appendMessage(b.id, { role: "user", content: "y", parentId: m.id }),
      (e: unknown) => e instanceof HearthError && e.status === 400,
    );
    assert.throws(
      () => s.appendMessage("conv_nope", { role: "user", content: "y" }),
      (e: unknown) => e instanceof HearthError && e.status === 404,
    );
  });

  test("updateMessage streams content into the index and completes it", () => {
    const s = openStore();
    const c = s.createConversation({ source: "ui" });
    s.appendMessage(c.id, { role: "user", content: "q" });
    const a = s.appendMessage(c.id, { role: "assistant", content: "", status: "partial" });
    s.updateMessage(a.id, { content: "The lighthouse" });
    assert.equal(ftsCount(s, "messages_fts", '"lighthouse"'), 1);
    const done = s.updateMessage(a.id, {
      content: "The lighthouse keeper slept",
      status: "complete",
      finishReason: "stop",
      completionTokens: 5,
      promptTokens: 3,
      tokensPerSecond: 41.5,
      ttftMs: 12,
    });
    assert.deepEqual(
      [done.status, done.finishReason, done.completionTokens, done.tokensPerSecond, done.ttftMs],
      ["complete", "stop", 5, 41.5, 12],
    );
    assert.equal(ftsCount(s, "messages_fts", '"keeper"'), 1);
    assert.equal(ftsCount(s, "messages_trigram", '"ouse kee"'), 1);
    integrityCheck(s);
    assert.throws(
      () => s.updateMessage(99999, { content: "x" }),
      (e: unknown) => e instanceof HearthError && e.status === 404,
    );
  });
});

describe("HistoryStore deletes", () => {
  test("deleting a conversation removes its messages from every index", () => {
    const s = openStore();
    const keep = s.createConversation({ source: "ui", title: "kept walrus" });
    s.appendMessage(keep.id, { role: "user", content: "walrus facts" });
    const gone = s.createConversation({ source: "ui", title: "doomed walrus" });
    for (let i = 0; i < 20; i++)
      s.appendMessage(gone.id, { role: i % 2 ? "assistant" : "user", content: `walrus number ${i} 東京タワー` });
    assert.equal(ftsCount(s, "messages_fts", "walrus"), 21);
    assert.equal(s.deleteConversation(gone.id), true);
    assert.equal(s.deleteConversation(gone.id), false);
    assert.equal(ftsCount(s, "messages_fts", "walrus"), 1);
    assert.equal(ftsCount(s, "messages_trigram", '"東京タ"'), 0);
    assert.equal(ftsCount(s, "conversations_fts", "doomed"), 0);
    assert.equal(s.db.prepare("SELECT count(*) FROM messages").pluck().get(), 1);
    assert.deepEqual(
      s.search.search({ q: "walrus" }).hits.map((h) => h.conversationId),
      [keep.id, keep.id],
    );
    integrityCheck(s);
  });

  test("a long conversation is deleted in steps: the event loop turns between them, and what is left mid-way is a whole tree", async () => {
    const s = openStore();
    const keep = s.createConversation({ source: "ui", title: "kept walrus" });
    s.appendMessage(keep.id, { role: "user", content: "walrus facts" });
    const gone = s.createConversation({ source: "ui", title: "doomed walrus" });
    let parent: number | null = null;
    // Two branches, a few large messages (the byte bound of a step) and many short ones.
    for (let i = 0; i < 60; i++)
      parent = s.appendMessage(gone.id, {
        role: i % 2 ? "assistant" : "user",
        content: i % 20 === 5 ? `walrus ${"long text ".repeat(600_000)}` : `walrus number ${i} 東京タワー`,
        parentId: parent,
      }).id;
    s.appendMessage(gone.id, { role: "user", content: "walrus branch", parentId: 3 });
    const count = () => s.db.prepare("SELECT count(*) FROM messages").pluck().get() as number;
    const midway: { left: number; orphans: number }[] = [];
    let turns = 0;
    const watch = () => {
      turns++;
      midway.push({
        left: count(),
        orphans: s.db
          .prepare(
            "SELECT count(*) FROM messages m WHERE m.parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM messages p WHERE p.id = m.parent_id)",
          )
          .pluck()
          .get() as number,
      });
      if (!done) setImmediate(watch);
    };
    let done = false;
    setImmediate(watch);
    const deleted = s.deleteConversationInSteps(gone.id);
    assert.ok(count() >= 62 - 16, "at most one step runs before the first turn");
    assert.equal(await deleted, true);
    done = true;
    assert.ok(turns >= 4, `the event loop turned ${turns} times`);
    assert.ok(midway.some((m) => m.left > 1 && m.left < 62));
    assert.deepEqual(
      midway.filter((m) => m.orphans > 0),
      [],
    );
    assert.equal(await s.deleteConversationInSteps(gone.id), false);
    assert.equal(count(), 1);
    assert.equal(ftsCount(s, "messages_fts", "walrus"), 1);
    assert.equal(ftsCount(s, "messages_trigram", '"東京タ"'), 0);
    assert.equal(ftsCount(s, "conversations_fts", "doomed"), 0);
    integrityCheck(s);
  });

  test("deleteAll empties everything and the triggers still work afterwards", () => {
    const s = openStore();
    for (let i = 0; i < 5; i++) {
      const c = s.createConversation({ source: "api", title: `t${i} narwhal` });
      s.appendMessage(c.id, { role: "user", content: "narwhal tusk" });
    }
    assert.equal(s.deleteAll(), 5);
    assert.equal(s.listConversations().items.length, 0);
    assert.equal(ftsCount(s, "messages_fts", "narwhal"), 0);
    assert.equal(ftsCount(s, "conversations_fts", "narwhal"), 0);
    integrityCheck(s);
    const c = s.createConversation({ source: "ui", title: "after" });
    const m = s.appendMessage(c.id, { role: "user", content: "narwhal again" });
    assert.equal(ftsCount(s, "messages_fts", "narwhal"), 1);
    s.deleteConversation(c.id);
    assert.equal(ftsCount(s, "messages_fts", "narwhal"), 0, `delete trigger restored (message ${m.id})`);
    integrityCheck(s);
  });

  test("retention prunes old unpinned api conversations only", () => {
    const s = openStore();
    const start = clock;
    const oldApi = s.createConversation({ source: "api", title: "old api" });
    const oldPinned = s.createConversation({ source: "api", title: "old pinned", pinned: true });
    const oldUi = s.createConversation({ source: "ui", title: "old ui" });
    clock = start + 31 * 86_400_000;
    const freshApi = s.createConversation({ source: "api", title: "fresh" });
    assert.equal(s.pruneApiConversations(0), 0, "0 keeps forever");
    assert.equal(s.pruneApiConversations(30), 1);
    assert.deepEqual(
      s
        .listConversations()
        .items.map((c) => c.id)
        .sort(),
      [oldPinned.id, oldUi.id, freshApi.id].sort(),
    );
    assert.equal(s.getConversationInfo(oldApi.id), undefined);
  });
});

describe("HistoryStore export and import", () => {
  function populate(s: HistoryStore): string[] {
    const a = s.createConversation({
      source: "ui",
      title: "Branchy",
      model: "m",
      provider: "local",
      systemPrompt: "sys",
      params: { temperature: 0.2, stop: ["END"] },
      pinned: true,
    });
    const u = s.appendMessage(a.id, { role: "user", content: "Hello, café ☕ and `code`" });
    s.appendMessage(a.id, { role: "assistant", content: "first", status: "partial", model: "m" });
    const second = s.appendMessage(a.id, {
      role: "assistant",
      content: "second",
      parentId: u.id,
      completionTokens: 2,
      finishReason: "stop",
      tokensPerSecond: 10.5,
      ttftMs: 7,
    });
    s.appendMessage(a.id, { role: "user", content: "more" });
    s.appendMessage(a.id, { role: "assistant", content: "", status: "error", error: "model crashed" });
    s.setActiveBranch(second.id);
    const b = s.createConversation({ source: "api", title: "tools" });
    s.appendMessage(b.id, { role: "system", content: "You call tools." });
    s.appendMessage(b.id, { role: "user", content: "weather?" });
    s.appendMessage(b.id, {
      role: "assistant",
      content: "",
      toolCalls: [{ id: "call_1", name: "weather", arguments: '{"city":"Zürich"}' }],
      finishReason: "tool_calls",
    });
    s.appendMessage(b.id, { role: "tool", content: "sunny", toolCallId: "call_1" });
    return [a.id, b.id];
  }

  /** Message ids are local to a database; compare structure through positions instead. */
  function normalize(file: ExportFile) {
    return file.conversations.map((c) => {
      const index = new Map(c.messages.map((m, i) => [m.id, i]));
      return {
        ...c,
        messages: c.messages.map((m) => ({
          ...m,
          id: index.get(m.id),
          parentId: m.parentId === null ? null : index.get(m.parentId),
        })),
      };
    });
  }

  test("JSON round trip into another database keeps content, branches and times", async () => {
    const src = openStore();
    populate(src);
    const exported = src.exportJson();
    const text = JSON.stringify(exported);
    const dst = openStore();
    const result = await dst.importJson(JSON.parse(text));
    assert.equal(result.imported.length, 2);
    assert.deepEqual(normalize(dst.exportJson()), normalize(exported));
    assert.deepEqual(
      dst.getConversation(exported.conversations[0]!.id)!.messages.map((m) => m.content),
      src.getConversation(exported.conversations[0]!.id)!.messages.map((m) => m.content),
    );
    assert.equal(dst.search.search({ q: "cafe" }).hits.length, 1);
    integrityCheck(dst);
  });

  test("conflicts: skip by default, replace, or copy under a new id", async () => {
    const s = openStore();
    const ids = populate(s);
    const file = s.exportJson([ids[0]!]);
    assert.deepEqual(await s.importJson(file), { imported: [], skipped: [ids[0]] });
    s.updateConversation(ids[0]!, { title: "changed here" });
    assert.deepEqual(await s.importJson(file, { onConflict: "replace" }), { imported: [ids[0]], skipped: [] });
    assert.equal(s.getConversationInfo(ids[0]!)!.title, file.conversations[0]!.title, "the file's version replaced it");
    const copy = await s.importJson(file, { onConflict: "copy" });
    assert.equal(copy.imported.length, 1);
    assert.notEqual(copy.imported[0], ids[0]);
    assert.equal(s.listConversations().items.length, 3);
    integrityCheck(s);
  });

  test("a bad file is refused as a whole with a 400", async () => {
    const s = openStore();
    const bad = {
      format: "hearth-history",
      version: 1,
      exportedAt: 1,
      conversations: [
        {
          id: "conv_ok",
          source: "ui",
          createdAt: 1,
          updatedAt: 1,
          messages: [{ id: 1, role: "user", createdAt: 1, updatedAt: 1 }],
        },
        {
          id: "conv_bad",
          source: "ui",
          createdAt: 1,
          updatedAt: 1,
          messages: [{ id: 2, parentId: 5, role: "user", content: "x", createdAt: 1, updatedAt: 1 }],
        },
      ],
    };
    await assert.rejects(
      () => s.importJson(bad),
      (e: unknown) =>
        e instanceof HearthError &&
        e.status === 400 &&
        e.param === "conversations.1.messages.0.parentId" &&
        /before its parent/.test(e.message),
    );
    assert.equal(s.listConversations().items.length, 0);
    await assert.rejects(
      () => s.importJson({ hello: 1 }),
      (e: unknown) => e instanceof HearthError && e.status === 400,
    );
    // Defaults fill what a minimal hand-written file leaves out.
    assert.deepEqual((await s.importJson({ ...bad, conversations: [bad.conversations[0]] })).imported, ["conv_ok"]);
  });

  test("a large import is written in short transactions: other work runs between them", async () => {
    const s = openStore();
    const t = 1_700_000_000_000;
    const big = "lorem ipsum dolor ".repeat(3000); // 54,000 characters
    const conversations = Array.from({ length: 3 }, (_, c) => ({
      id: `conv_big${c}`,
      source: "ui",
      createdAt: t,
      updatedAt: t,
      messages: Array.from({ length: 10 }, (_, i) => ({
        id: i + 1,
        parentId: i === 0 ? null : i,
        role: i % 2 === 0 ? "user" : "assistant",
        content: big,
        createdAt: t,
        updatedAt: t,
      })),
    }));
    const file = { format: "hearth-history", version: 1, exportedAt: t, conversations };
    let ticks = 0;
    let stop = false;
    const tick = () => {
      ticks++;
      if (!stop) setImmediate(tick);
    };
    setImmediate(tick);
    const result = await s.importJson(file);
    stop = true;
    assert.equal(result.imported.length, 3);
    // 1.6 MB of text: in one transaction the event loop would not turn until it ended.
    assert.ok(ticks >= 6, `the event loop turned ${ticks} times during the import`);
    assert.equal(s.getConversation("conv_big2")!.messages.length, 10);
    integrityCheck(s);
  });

  test("an import that fails part-way removes what it wrote; a replaced conversation stays as it was", async () => {
    const s = openStore();
    const ids = populate(s);
    const file = s.exportJson([ids[0]!]);
    const t = 1_700_000_000_000;
    const later = {
      id: "conv_later",
      source: "ui",
      createdAt: t,
      updatedAt: t,
      messages: [{ id: 1, role: "user", content: "x", createdAt: t, updatedAt: t }],
    };
    const before = JSON.stringify(s.exportJson());
    // A write that fails half way through the file, as a full disk would.
    let conversationsWritten = 0;
    const original = (s as unknown as { stmt: { insertConversation: { get(v: unknown): unknown } } }).stmt
      .insertConversation;
    const get = original.get.bind(original);
    original.get = (v: unknown) => {
      if (++conversationsWritten === 2)
        throw Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
      return get(v);
    };
    try {
      await assert.rejects(
        s.importJson({ ...file, conversations: [...file.conversations, later] }, { onConflict: "replace" }),
      );
    } finally {
      original.get = get;
    }
    assert.equal(JSON.stringify(s.exportJson()), before, "the history is as it was");
    integrityCheck(s);
  });

  test("Markdown shows the shown branch with roles, statuses and tool calls", () => {
    const s = openStore();
    const ids = populate(s);
    const md = s.exportMarkdown();
    assert.match(md, /^# Branchy\n/);
    assert.match(md, /## System prompt\n\n> sys/);
    assert.match(md, /## User\n\n\*[^*]+\*\n\n> Hello, café ☕ and `code`/);
    assert.match(md, /> second/);
    assert.doesNotMatch(md, /> first/, "other branches are left out");
    assert.match(md, /Tool call `weather` \(call_1\)/);
    assert.match(md, /\n---\n/);
    assert.match(s.exportMarkdown([ids[1]!]), /^# tools/);
    assert.throws(
      () => s.exportMarkdown(["conv_nope"]),
      (e: unknown) => e instanceof HearthError && e.status === 404,
    );
  });
});

/**
 * A thinking model's thoughts in history (migration 5): recorded apart from the answer with their
 * duration, handed back to the model with its earlier replies, searched only when asked, kept
 * through export and import, and out of the search tables once deleted. Real SQLite files.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import type { GenerationEvent, GenerationStream } from "../../server/core/types.js";
import { closeHistoryDatabase, openHistoryDatabase } from "../../server/history/db.js";
import { MIGRATIONS } from "../../server/history/migrations/index.js";
import { toChatMessages, toChatRequest } from "../../server/history/prompt.js";
import { HistoryRecorder } from "../../server/history/recorder.js";
import { HistoryStore } from "../../server/history/store.js";
import type { SearchHit } from "../../server/history/types.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-history-reasoning-"));
const stores: HistoryStore[] = [];
after(() => {
  for (const s of stores) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
let n = 0;
function open(): HistoryStore {
  const store = HistoryStore.open(path.join(dir, `h${++n}.sqlite`));
  stores.push(store);
  return store;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function* scripted(events: (GenerationEvent | number)[]): GenerationStream {
  for (const e of events) {
    if (typeof e === "number") await sleep(e);
    else yield e;
  }
}
const usage = { promptTokens: 5, completionTokens: 9, cachedTokens: 0, reasoningTokens: 4 };
const where = (hits: SearchHit[]) =>
  hits.map((h) => `${h.kind}:${h.field ?? "-"}:${h.messageId ?? h.conversationTitle}`);

describe("recording thoughts", () => {
  test("thoughts are stored apart from the answer, with the time from the first to the last", async () => {
    const store = open();
    const c = store.createConversation({ source: "ui" });
    const u = store.appendMessage(c.id, { role: "user", content: "Hi" });
    let id = 0;
    const events = new HistoryRecorder(store).recordReply(
      scripted([
        { type: "reasoning", text: "Let me " },
        40,
        { type: "reasoning", text: "count." },
        { type: "text", text: "Hello there!" },
        { type: "finish", reason: "stop", usage },
      ]),
      { conversationId: c.id, parentId: u.id, model: "m" },
      (r) => (id = r.messageId),
    );
    for await (const _ of events);
    const reply = store.getMessage(id)!;
    assert.equal(reply.content, "Hello there!");
    assert.equal(reply.reasoning, "Let me count.");
    assert.ok(
      reply.reasoningMs !== null && reply.reasoningMs >= 30 && reply.reasoningMs < 5000,
      `${reply.reasoningMs}`,
    );
    assert.equal(reply.status, "complete");
  });

  test("a reply without thoughts keeps null; a thought cut short is stored as far as it got", async () => {
    const store = open();
    const c = store.createConversation({ source: "ui" });
    const u = store.appendMessage(c.id, { role: "user", content: "Hi" });
    const ids: number[] = [];
    const record = (events: (GenerationEvent | number)[]) =>
      new HistoryRecorder(store).recordReply(
        scripted(events),
        { conversationId: c.id, parentId: u.id, model: "m" },
        (r) => ids.push(r.messageId),
      );
    for await (const _ of record([
      { type: "text", text: "Plain." },
      { type: "finish", reason: "stop", usage },
    ]));
    const cut = record([
      { type: "reasoning", text: "Counting sheep" },
      { type: "reasoning", text: " one" },
    ]);
    for await (const _ of cut);
    assert.deepEqual([store.getMessage(ids[0]!)!.reasoning, store.getMessage(ids[0]!)!.reasoningMs], [null, null]);
    const partial = store.getMessage(ids[1]!)!;
    assert.equal(partial.reasoning, "Counting sheep one");
    assert.equal(partial.content, "");
    assert.equal(partial.status, "partial");
  });

  test("/v1 requests that send an earlier reply's thoughts back store them with it", async () => {
    const store = open();
    const recorder = new HistoryRecorder(store);
    const target = await recorder.fileApiRequest(
      {
        ...toChatRequest("m", [], {}, { temperature: 0, topP: 1, topK: 0, minP: 0 }),
        messages: [
          { role: "user", content: "Hi" },
          { role: "assistant", content: "Hello there!", reasoning: "Let me count." },
          { role: "user", content: "Again" },
        ],
        reasoning: { effort: "low" },
      },
      "local",
    );
    const detail = store.getConversation(target.conversationId)!;
    assert.equal(detail.messages[1]!.reasoning, "Let me count.");
    assert.equal(detail.params.reasoningEffort, "low");
  });
});

describe("the next turn", () => {
  test("earlier replies carry their thoughts to the model, and the chat's effort becomes the request's", () => {
    const store = open();
    const c = store.createConversation({ source: "ui", params: { reasoningEffort: "none" } });
    const u = store.appendMessage(c.id, { role: "user", content: "Hi" });
    const a = store.appendMessage(c.id, {
      role: "assistant",
      content: "Hello there!",
      reasoning: "Let me count.",
      reasoningMs: 12,
    });
    const plain = store.appendMessage(c.id, { role: "assistant", content: "No thoughts.", parentId: u.id });
    const messages = toChatMessages(c, store.pathTo(a.id));
    assert.deepEqual(messages[1], { role: "assistant", content: "Hello there!", reasoning: "Let me count." });
    assert.deepEqual(toChatMessages(c, store.pathTo(plain.id))[1], { role: "assistant", content: "No thoughts." });
    const request = toChatRequest("m", messages, c.params, { temperature: 0, topP: 1, topK: 0, minP: 0 });
    assert.deepEqual(request.reasoning, { effort: "none" });
    assert.equal(toChatRequest("m", messages, {}, { temperature: 0, topP: 1, topK: 0, minP: 0 }).reasoning, undefined);
  });
});

describe("searching thoughts", () => {
  test("answers by default; thoughts with in=reasoning; both with in=all, paged once each", () => {
    const store = open();
    const c = store.createConversation({ source: "ui", title: "Zebra facts" });
    const u = store.appendMessage(c.id, { role: "user", content: "Tell me about zebras" });
    const thought = store.appendMessage(c.id, {
      role: "assistant",
      content: "They are striped.",
      reasoning: "The user asks about the zebra; recall its stripes.",
    });
    const both = store.appendMessage(c.id, {
      role: "assistant",
      parentId: u.id,
      content: "A zebra is a horse.",
      reasoning: "Zebra, horse family.",
    });
    const search = (q: string, extra: Parameters<HistoryStore["runSearch"]>[0] | object = {}) =>
      store.runSearch({ q, ...extra });

    const answers = where(search("zebra").hits);
    assert.deepEqual(answers[0], "title:-:Zebra facts");
    assert.deepEqual(answers.slice(1).sort(), [`message:content:${u.id}`, `message:content:${both.id}`].sort());
    assert.deepEqual(search("recall").hits, [], "thoughts are not searched by default");
    const reasoningHits = search("recall", { in: "reasoning" }).hits;
    assert.deepEqual(where(reasoningHits), [`message:reasoning:${thought.id}`]);
    assert.equal(reasoningHits[0]!.snippet, "The user asks about the zebra; \uE000recall\uE001 its stripes.");
    assert.deepEqual(
      where(search("zebra", { in: "reasoning" }).hits).sort(),
      [`message:reasoning:${both.id}`, `message:reasoning:${thought.id}`].sort(),
    );
    const all = where(search("zebra", { in: "all" }).hits);
    assert.equal(all.length, 5);
    assert.deepEqual(all.slice(0, 3), answers, "titles and answers come first, as before");
    assert.deepEqual(all.slice(3).sort(), [`message:reasoning:${thought.id}`, `message:reasoning:${both.id}`].sort());

    // Paging walks titles, answers, then thoughts, each hit once, whatever the page size.
    for (const limit of [1, 2, 3, 4]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = search("zebra", { in: "all", limit, ...(cursor ? { cursor } : {}) });
        seen.push(...where(page.hits));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(seen, all, `limit ${limit}`);
    }
    // Substrings (the trigram table) and short substrings (a scan) read thoughts too.
    assert.deepEqual(where(search("ecal", { in: "reasoning" }).hits), [`message:reasoning:${thought.id}`]);
    assert.equal(search("ecal").hits.length, 0);
    assert.deepEqual(where(search(";", { in: "reasoning" }).hits), [`message:reasoning:${thought.id}`]);
  });

  test("rewritten and deleted thoughts leave the index; deleteAll empties it", () => {
    const store = open();
    const c = store.createConversation({ source: "ui" });
    store.appendMessage(c.id, { role: "user", content: "q" });
    const a = store.appendMessage(c.id, { role: "assistant", content: "", reasoning: "narwhal" });
    store.updateMessage(a.id, { reasoning: "unicorn" });
    assert.equal(store.runSearch({ q: "narwhal", in: "reasoning" }).hits.length, 0);
    assert.equal(store.runSearch({ q: "unicorn", in: "reasoning" }).hits.length, 1);
    store.deleteMessage(a.id);
    assert.equal(store.runSearch({ q: "unicorn", in: "reasoning" }).hits.length, 0);
    const b = store.appendMessage(c.id, { role: "assistant", content: "", reasoning: "okapi" });
    assert.equal(store.runSearch({ q: "okapi", in: "reasoning" }).hits.length, 1);
    store.deleteAll();
    assert.equal(store.runSearch({ q: "okapi", in: "reasoning" }).hits.length, 0);
    const d = store.createConversation({ source: "ui" });
    store.appendMessage(d.id, { role: "assistant", content: "", reasoning: "okapi again" });
    assert.equal(store.runSearch({ q: "okapi", in: "reasoning" }).hits.length, 1, "the delete trigger is back");
    void b;
  });

  test("a version 4 database gains the columns, and its messages no thoughts", () => {
    const file = path.join(dir, "v4.sqlite");
    const v4 = openHistoryDatabase(file, { migrations: MIGRATIONS.slice(0, 4) });
    v4.prepare("INSERT INTO conversations (id, source, created_at, updated_at) VALUES ('conv_a', 'ui', 1, 1)").run();
    v4.prepare(
      "INSERT INTO messages (conversation_rid, role, content, created_at, updated_at) VALUES (1, 'assistant', 'old reply', 1, 1)",
    ).run();
    closeHistoryDatabase(v4);
    const store = HistoryStore.open(file);
    stores.push(store);
    const m = store.getConversation("conv_a")!.messages[0]!;
    assert.deepEqual([m.content, m.reasoning, m.reasoningMs], ["old reply", null, null]);
    assert.equal(store.runSearch({ q: "old" }).hits.length, 1);
    assert.equal(store.runSearch({ q: "old", in: "reasoning" }).hits.length, 0);
  });
});

describe("export and import", () => {
  test("thoughts and their duration survive a round trip; files without them import as before", async () => {
    const from = open();
    const c = from.createConversation({ source: "ui" });
    from.appendMessage(c.id, { role: "user", content: "Hi" });
    from.appendMessage(c.id, { role: "assistant", content: "Hello", reasoning: "Let me count.", reasoningMs: 250 });
    const file = from.exportJson();
    const to = open();
    await to.importJson(file);
    const m = to.getConversation(c.id)!.messages[1]!;
    assert.deepEqual([m.content, m.reasoning, m.reasoningMs], ["Hello", "Let me count.", 250]);
    assert.equal(to.runSearch({ q: "count", in: "reasoning" }).hits.length, 1, "imported thoughts are searchable");
    assert.match(to.exportMarkdown(), /\*Thinking:\*\n\n> Let me count\.\n\n\*Answer:\*\n\n> Hello/);

    const old = structuredClone(file) as unknown as { conversations: { id: string; messages: object[] }[] };
    old.conversations[0]!.id = "conv_old";
    for (const msg of old.conversations[0]!.messages) {
      delete (msg as Record<string, unknown>).reasoning;
      delete (msg as Record<string, unknown>).reasoningMs;
    }
    await to.importJson(old);
    assert.equal(to.getConversation("conv_old")!.messages[1]!.reasoning, null);
  });
});

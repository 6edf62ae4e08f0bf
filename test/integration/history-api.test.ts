/** /api conversations, search, export/import and /v1 recording, against a real server and model. */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import type { ConversationDetail, Conversation, ExportFile } from "../../server/history/types.js";
import type { SearchPage } from "../../server/history/search.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.close();
});

async function api<T>(method: string, url: string, body?: unknown, expect = 200): Promise<T> {
  const res = await fetch(`${t.url}/api${url}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, expect, `${method} ${url}: ${text}`);
  return (text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text) as T;
}

/** Sends a chat turn through /api and reads the whole SSE reply. */
async function stream(
  url: string,
  body: unknown,
): Promise<{ events: Record<string, unknown>[]; raw: string; headers: Headers }> {
  const res = await fetch(`${t.url}/api${url}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const raw = await res.text();
  const events = raw
    .split("\n\n")
    .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
    .map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>);
  return { events, raw, headers: res.headers };
}

const textOf = (events: Record<string, unknown>[]) =>
  events.map((e) => (e.choices as { delta: { content?: string } }[])[0]?.delta.content ?? "").join("");

describe("/api conversations", () => {
  test("send streams /v1 chunks and records both messages with their numbers", async () => {
    const conv = await api<Conversation>(
      "POST",
      "/conversations",
      { systemPrompt: "You tell stories.", params: { maxTokens: 24, temperature: 0 } },
      201,
    );
    assert.equal(conv.source, "ui");
    const { events, raw, headers } = await stream(`/conversations/${conv.id}/messages`, {
      content: "Once upon a time there was a walrus",
    });
    assert.ok(raw.endsWith("data: [DONE]\n\n"));
    assert.equal(events[0]!.object, "chat.completion.chunk");
    assert.ok(events.some((e) => (e.choices as { finish_reason: string | null }[])[0]?.finish_reason));
    assert.ok(
      events.some((e) => e.usage && (e.usage as { completion_tokens: number }).completion_tokens > 0),
      "usage chunk",
    );
    const detail = await api<ConversationDetail>("GET", `/conversations/${conv.id}`);
    assert.equal(detail.title, "Once upon a time there was a walrus");
    assert.equal(detail.model, "stories260K");
    assert.equal(detail.provider, "local");
    const [user, reply] = detail.messages;
    assert.equal(user!.content, "Once upon a time there was a walrus");
    assert.equal(String(user!.id), headers.get("x-hearth-parent-id"));
    assert.equal(String(reply!.id), headers.get("x-hearth-message-id"));
    assert.equal(reply!.role, "assistant");
    assert.equal(reply!.status, "complete");
    assert.equal(reply!.content, textOf(events));
    assert.ok(reply!.completionTokens! > 0 && reply!.completionTokens! <= 24);
    assert.ok(reply!.promptTokens! > 0);
    assert.ok(reply!.finishReason === "length" || reply!.finishReason === "stop");
    assert.ok(reply!.ttftMs !== null && reply!.ttftMs >= 0);
    assert.ok(reply!.tokensPerSecond === null || reply!.tokensPerSecond > 0);
    const hits = await api<SearchPage>("GET", "/search?q=walrus");
    assert.ok(hits.hits.some((h) => h.kind === "message" && h.messageId === user!.id && h.role === "user"));
    assert.ok(hits.hits.some((h) => h.kind === "title" && h.conversationId === conv.id));
  });

  test("regenerate and edit create branches; activate switches between them", async () => {
    const conv = await api<Conversation>("POST", "/conversations", { params: { maxTokens: 8 } }, 201);
    await stream(`/conversations/${conv.id}/messages`, { content: "The dog ran" });
    let detail = await api<ConversationDetail>("GET", `/conversations/${conv.id}`);
    const [u1, a1] = detail.messages;
    await stream(`/conversations/${conv.id}/messages/${a1!.id}/regenerate`, { params: { seed: 7, temperature: 1 } });
    detail = await api<ConversationDetail>("GET", `/conversations/${conv.id}`);
    assert.equal(detail.messages.length, 2);
    const a2 = detail.messages[1]!;
    assert.notEqual(a2.id, a1!.id);
    assert.deepEqual(a2.siblingIds, [a1!.id, a2.id]);
    // Edit the user message: a new first message with its own reply.
    await stream(`/conversations/${conv.id}/messages/${u1!.id}/edit`, { content: "The cat slept" });
    detail = await api<ConversationDetail>("GET", `/conversations/${conv.id}`);
    assert.equal(detail.messages[0]!.content, "The cat slept");
    assert.deepEqual(detail.messages[0]!.siblingIds, [u1!.id, detail.messages[0]!.id]);
    assert.equal(detail.messages[1]!.status, "complete");
    // Back to the first branch, first reply.
    detail = await api<ConversationDetail>("POST", `/conversations/${conv.id}/messages/${a1!.id}/activate`);
    assert.deepEqual(
      detail.messages.map((m) => m.id),
      [u1!.id, a1!.id],
    );
    const at = await api<ConversationDetail>("GET", `/conversations/${conv.id}?at=${a2.id}`);
    assert.deepEqual(
      at.messages.map((m) => m.id),
      [u1!.id, a2.id],
    );
    await api(
      "POST",
      `/conversations/${conv.id}/messages/${u1!.id}/edit`,
      { content: "x", stream: false, model: "no-such-model" },
      404,
    );
  });

  test("non-streaming send returns a chat.completion", async () => {
    const conv = await api<Conversation>("POST", "/conversations", { params: { maxTokens: 5 } }, 201);
    const completion = await api<{ object: string; choices: { message: { content: string } }[] }>(
      "POST",
      `/conversations/${conv.id}/messages`,
      {
        content: "Hello",
        stream: false,
      },
    );
    assert.equal(completion.object, "chat.completion");
    const detail = await api<ConversationDetail>("GET", `/conversations/${conv.id}`);
    assert.equal(detail.messages[1]!.content, completion.choices[0]!.message.content);
  });

  test("a client that goes away mid-reply leaves the reply partial", async () => {
    const conv = await api<Conversation>("POST", "/conversations", { params: { maxTokens: 2000 } }, 201);
    const controller = new AbortController();
    const res = await fetch(`${t.url}/api/conversations/${conv.id}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "Tell a very long story" }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let seen = "";
    while ((seen.match(/"content":"[^"]/g) ?? []).length < 5)
      seen += Buffer.from((await reader.read()).value!).toString();
    controller.abort();
    let reply: ConversationDetail["messages"][number] | undefined;
    for (let i = 0; i < 100 && !reply?.content; i++) {
      await new Promise((r) => setTimeout(r, 50));
      reply = (await api<ConversationDetail>("GET", `/conversations/${conv.id}`)).messages[1];
    }
    await new Promise((r) => setTimeout(r, 300));
    reply = (await api<ConversationDetail>("GET", `/conversations/${conv.id}`)).messages[1];
    assert.equal(reply!.status, "partial");
    assert.ok(reply!.content.length > 0, "what was streamed is kept");
  });

  test("list, rename, pin, filters and validation", async () => {
    const a = await api<Conversation>("POST", "/conversations", { title: "Alpha" }, 201);
    const b = await api<Conversation>("POST", "/conversations", { title: "Beta" }, 201);
    await api("PATCH", `/conversations/${a.id}`, { title: "Alpha renamed", pinned: true });
    const list = await api<{ items: Conversation[]; nextCursor: string | null }>("GET", "/conversations?limit=1");
    assert.equal(list.items[0]!.title, "Alpha renamed", "pinned first");
    assert.ok(list.nextCursor);
    const next = await api<{ items: Conversation[] }>("GET", `/conversations?limit=1&cursor=${list.nextCursor}`);
    assert.equal(next.items[0]!.id, b.id);
    const pinned = await api<{ items: Conversation[] }>("GET", "/conversations?pinned=true");
    assert.deepEqual(
      pinned.items.map((c) => c.id),
      [a.id],
    );
    const future = await api<{ items: Conversation[] }>(
      "GET",
      `/conversations?from=${new Date(Date.now() + 86_400_000).toISOString()}`,
    );
    assert.equal(future.items.length, 0);
    const bad = await api<{ error: { param: string } }>("GET", "/conversations?source=nope", undefined, 400);
    assert.equal(bad.error.param, "source");
    await api("GET", "/conversations/conv_missing", undefined, 404);
    await api("POST", `/conversations/${a.id}/messages`, { content: "" }, 400);
    await api("POST", `/conversations/${a.id}/messages`, { content: "hi", parentId: 999999 }, 404);
    await api("GET", "/search?cursor=bogus&q=x", undefined, 400);
  });
});

describe("/v1 recording", () => {
  test("a growing message list lands in one api conversation", async () => {
    const first = await t.client.chat.completions.create({
      model: "stories260K",
      messages: [{ role: "user", content: "Zebras in the garden" }],
      max_tokens: 8,
    });
    const reply1 = first.choices[0]!.message.content ?? "";
    const stream = await t.client.chat.completions.create({
      model: "stories260K",
      messages: [
        { role: "user", content: "Zebras in the garden" },
        { role: "assistant", content: reply1 },
        { role: "user", content: "And then?" },
      ],
      max_tokens: 8,
      stream: true,
    });
    let reply2 = "";
    for await (const chunk of stream) reply2 += chunk.choices[0]?.delta.content ?? "";
    const list = await api<{ items: Conversation[] }>("GET", "/conversations?source=api");
    const convs = list.items.filter((c) => c.title === "Zebras in the garden");
    assert.equal(convs.length, 1, "one conversation, not one per request");
    const detail = await api<ConversationDetail>("GET", `/conversations/${convs[0]!.id}`);
    assert.deepEqual(
      detail.messages.map((m) => [m.role, m.content, m.status]),
      [
        ["user", "Zebras in the garden", "complete"],
        ["assistant", reply1, "complete"],
        ["user", "And then?", "complete"],
        ["assistant", reply2, "complete"],
      ],
    );
    // The same list again is a retry: a second reply beside the first, same conversation.
    await t.client.chat.completions.create({
      model: "stories260K",
      messages: [{ role: "user", content: "Zebras in the garden" }],
      max_tokens: 4,
    });
    const again = await api<ConversationDetail>("GET", `/conversations/${convs[0]!.id}`);
    assert.equal(again.messages[1]!.siblingIds.length, 2);
    assert.equal(
      (await api<{ items: Conversation[] }>("GET", "/conversations?source=api")).items.filter(
        (c) => c.title === "Zebras in the garden",
      ).length,
      1,
    );
  });

  test("recording can be switched off, and API keys never reach the database", async () => {
    const key = "sk-hearth-secret-key-1234567890";
    const off = await startTestServer({ recordApi: false, apiKey: key });
    try {
      const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
      const r = await fetch(`${off.url}/v1/chat/completions`, {
        method: "POST",
        headers,
        body: JSON.stringify({
          model: "stories260K",
          messages: [{ role: "user", content: "unrecorded" }],
          max_tokens: 3,
        }),
      });
      assert.equal(r.status, 200);
      const list = (await (await fetch(`${off.url}/api/conversations`, { headers })).json()) as { items: unknown[] };
      assert.equal(list.items.length, 0);
      assert.equal((await fetch(`${off.url}/api/conversations`)).status, 401, "/api is authorized like /v1");
      // A UI chat through /api is still recorded; the key is in no file of the data dir.
      const conv = (await (
        await fetch(`${off.url}/api/conversations`, { method: "POST", headers, body: "{}" })
      ).json()) as Conversation;
      await (
        await fetch(`${off.url}/api/conversations/${conv.id}/messages`, {
          method: "POST",
          headers,
          body: JSON.stringify({ content: "hi", stream: false, params: { maxTokens: 3 } }),
        })
      ).text();
    } finally {
      await off.server.close();
    }
    for (const f of fs.readdirSync(off.dataDir)) {
      const file = path.join(off.dataDir, f);
      if (fs.statSync(file).isFile()) assert.equal(fs.readFileSync(file).includes(key), false, `${f} holds the key`);
    }
    fs.rmSync(off.dataDir, { recursive: true, force: true });
  });
});

describe("/api export, import and deletes", () => {
  test("export all as JSON, delete all, import: the same history comes back", async () => {
    const before = await api<ExportFile>("GET", "/export?format=json");
    assert.ok(before.conversations.length >= 3);
    const md = await api<string>("GET", `/export?format=markdown`);
    assert.match(md, /^# /);
    const one = await api<ExportFile>("GET", `/conversations/${before.conversations[0]!.id}/export`);
    assert.equal(one.conversations.length, 1);
    await api("DELETE", "/conversations", undefined, 400);
    const { deleted } = await api<{ deleted: number }>("DELETE", "/conversations?confirm=true");
    assert.equal(deleted, before.conversations.length);
    assert.equal((await api<SearchPage>("GET", "/search?q=walrus")).hits.length, 0, "gone from search");
    const result = await api<{ imported: string[] }>("POST", "/import", before);
    assert.equal(result.imported.length, before.conversations.length);
    const after = await api<ExportFile>("GET", "/export");
    const norm = (f: ExportFile) =>
      f.conversations.map((c) => {
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
    assert.deepEqual(norm(after), norm(before));
    assert.ok((await api<SearchPage>("GET", "/search?q=walrus")).hits.length > 0, "searchable again");
    const again = await api<{ imported: string[]; skipped: string[] }>("POST", "/import", before);
    assert.equal(again.skipped.length, before.conversations.length);
    await api("POST", "/import", { format: "other" }, 400);
  });

  test("imports are checked as strictly as the API: nothing it would refuse is written", async () => {
    const now = Date.now();
    const conv = (id: string, extra: Record<string, unknown> = {}, message: Record<string, unknown> = {}) => ({
      id,
      title: "imported",
      source: "ui",
      createdAt: now,
      updatedAt: now,
      messages: [{ id: 1, parentId: null, role: "user", content: "okapi", createdAt: now, updatedAt: now, ...message }],
      ...extra,
    });
    const file = (...conversations: unknown[]) => ({
      format: "hearth-history",
      version: 1,
      exportedAt: now,
      conversations,
    });
    const refused: [string, unknown][] = [
      ["conversations.1.id", conv("a\nb")],
      ["conversations.1.id", conv("x€y")],
      ["conversations.1.id", conv("x".repeat(101))],
      ["conversations.1.createdAt", conv("conv_date", { createdAt: 9e15 })],
      ["conversations.1.messages.0.updatedAt", conv("conv_mdate", {}, { updatedAt: -1 })],
      ["conversations.1.title", conv("conv_title", { title: "t".repeat(501) })],
      ["conversations.1.model", conv("conv_model", { model: "" })],
      ["conversations.1.messages.0.promptTokens", conv("conv_tokens", {}, { promptTokens: -3 })],
    ];
    for (const [param, bad] of refused) {
      const res = await fetch(`${t.url}/api/import`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(file(conv("conv_goodOne"), bad)),
      });
      assert.equal(res.status, 400, param);
      const body = (await res.json()) as { error: { param: string; code: string } };
      assert.deepEqual([body.error.param, body.error.code], [param, "invalid_value"]);
      await api("GET", "/conversations/conv_goodOne", undefined, 404);
    }
    // What the API writes always passes: ids as it makes them, and ones like them.
    const ok = await api<{ imported: string[] }>("POST", "/import", file(conv("conv_goodOne"), conv("my-chat_2")));
    assert.deepEqual(ok.imported, ["conv_goodOne", "my-chat_2"]);
    const res = await fetch(`${t.url}/api/conversations/my-chat_2/export?format=markdown`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-disposition"), 'attachment; filename="hearth-my-chat_2.md"');
  });

  test("an id or a time stored before imports were checked breaks neither export nor the Markdown of everything", async () => {
    // The store itself takes any id and time (only its callers validate); this stands in for an old database.
    const store = t.server.context.history.store;
    const odd = store.createConversation({ id: "x€y\nz", source: "ui", title: "odd", createdAt: 9e15 });
    store.appendMessage(odd.id, { role: "user", content: "quokka", createdAt: 9e15 });
    const one = await fetch(`${t.url}/api/conversations/${encodeURIComponent(odd.id)}/export`);
    assert.equal(one.status, 200);
    assert.equal(one.headers.get("content-disposition"), 'attachment; filename="hearth-x_y_z.json"');
    const md = await api<string>("GET", "/export?format=markdown");
    assert.match(md, /9000000000000000 \(not a valid time\)/);
    assert.match(md, /> quokka/);
    store.deleteConversation(odd.id);
  });

  test("a large import does not stall the server: /health/live answers while it is being written", async () => {
    const now = Date.now();
    const text = "a long pasted log line with words and numbers 12345 ".repeat(1200); // 62 KB
    const file = {
      format: "hearth-history",
      version: 1,
      exportedAt: now,
      conversations: Array.from({ length: 20 }, (_, c) => ({
        id: `conv_bulk${c}`,
        source: "ui",
        title: `bulk ${c}`,
        createdAt: now,
        updatedAt: now,
        messages: Array.from({ length: 10 }, (_, i) => ({
          id: i + 1,
          parentId: i === 0 ? null : i,
          role: i % 2 === 0 ? "user" : "assistant",
          content: text,
          createdAt: now,
          updatedAt: now,
        })),
      })),
    };
    const order: string[] = [];
    const importing = api<{ imported: string[] }>("POST", "/import", file).then((r) => {
      order.push("import");
      return r;
    });
    // Once the first conversation is written the import is under way on the server; a health
    // check sent then is answered before the import ends (in one transaction it waited for all of it).
    const store = t.server.context.history.store;
    while (!store.getConversationInfo("conv_bulk0")) await new Promise((r) => setTimeout(r, 1));
    const live = await fetch(`${t.url}/health/live`);
    order.push(`live ${live.status}`);
    assert.equal((await importing).imported.length, 20);
    assert.deepEqual(order, ["live 200", "import"]);
    const hits = await api<SearchPage>("GET", "/search?q=pasted%20log&limit=5");
    assert.ok(hits.hits.length > 0);
    for (const h of hits.hits) assert.ok(h.snippet.length < 300, `a short snippet (${h.snippet.length})`);
    for (let c = 0; c < 20; c++) await api("DELETE", `/conversations/conv_bulk${c}`, undefined, 204);
  });

  test("deleting a conversation removes it from the list and from search", async () => {
    const hit = (await api<SearchPage>("GET", "/search?q=walrus")).hits.find((h) => h.kind === "message")!;
    await api("DELETE", `/conversations/${hit.conversationId}`, undefined, 204);
    await api("DELETE", `/conversations/${hit.conversationId}`, undefined, 404);
    assert.equal(
      (await api<SearchPage>("GET", "/search?q=walrus")).hits.filter((h) => h.conversationId === hit.conversationId)
        .length,
      0,
    );
    const db = new Database(path.join(t.dataDir, "history.sqlite"), { readonly: true });
    try {
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
    } finally {
      db.close();
    }
  });
});

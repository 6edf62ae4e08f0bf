/**
 * A thinking model's thoughts in history, over real HTTP with a real SQLite file and the scripted
 * Qwen3 model (thought "Let me count.", answer "Hello there!"): the app's chat stores them apart
 * from the answer and returns them with the conversation, the chat's reasoning effort reaches the
 * model, search finds them only when asked (`in=reasoning`, `in=all`), export and import keep
 * them, recorded /v1 traffic keeps them, and /api/models says which loaded models think.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Conversation, ConversationDetail, ExportFile, SearchPage } from "../../server/history/types.js";
import { startScriptedServer, type ScriptedServer } from "../helpers/scripted-server.js";

let t: ScriptedServer;
/** Model ids as the server lists them: the file names without `.gguf`. */
let thinker = "";
let answerer = "";

before(async () => {
  t = await startScriptedServer(["qwen3-think", "llama31-answer"]);
  thinker = t.id("qwen3-think");
  answerer = t.id("llama31-answer");
});
after(async () => {
  await t?.close();
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

interface Delta {
  content?: string | null;
  reasoning_content?: string;
}

/** Sends a chat turn through /api; the streamed thought and answer, and the stored reply's id. */
async function turn(conversationId: string, body: Record<string, unknown>) {
  const res = await fetch(`${t.url}/api/conversations/${conversationId}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  const deltas = (await res.text())
    .split("\n\n")
    .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
    .flatMap((e) => (JSON.parse(e.slice(6)) as { choices: { delta: Delta }[] }).choices.map((c) => c.delta));
  return {
    reasoning: deltas.map((d) => d.reasoning_content ?? "").join(""),
    content: deltas.map((d) => d.content ?? "").join(""),
    messageId: Number(res.headers.get("x-hearth-message-id")),
  };
}

const search = (query: string) => api<SearchPage>("GET", `/search?${query}`);

describe("thoughts in the app's chats", () => {
  let conv: Conversation;
  let replyId = 0;

  test("a reply's thought streams and is stored apart from its answer, with its duration", async () => {
    conv = await api<Conversation>("POST", "/conversations", { model: thinker, params: { temperature: 0 } }, 201);
    const first = await turn(conv.id, { content: "Hi" });
    assert.equal(first.reasoning, "Let me count.");
    assert.equal(first.content, "Hello there!");
    replyId = first.messageId;
    const detail = await api<ConversationDetail>("GET", `/conversations/${conv.id}`);
    const reply = detail.messages[1]!;
    assert.equal(reply.id, replyId);
    assert.equal(reply.content, "Hello there!");
    assert.equal(reply.reasoning, "Let me count.");
    assert.ok(typeof reply.reasoningMs === "number" && reply.reasoningMs >= 0, String(reply.reasoningMs));
    assert.equal(detail.messages[0]!.reasoning, null);
  });

  test("the chat's reasoningEffort none answers without a thought, after a reply that had one", async () => {
    const next = await turn(conv.id, { content: "Again", params: { temperature: 0, reasoningEffort: "none" } });
    assert.equal(next.reasoning, "");
    assert.equal(next.content, "Hello there!");
    const detail = await api<ConversationDetail>("GET", `/conversations/${conv.id}`);
    assert.deepEqual(
      detail.messages.map((m) => [m.role, m.reasoning]),
      [
        ["user", null],
        ["assistant", "Let me count."],
        ["user", null],
        ["assistant", null],
      ],
    );
  });

  test("search finds answers by default and thoughts only with in=reasoning or in=all", async () => {
    assert.deepEqual((await search("q=count")).hits, [], "thoughts are not searched by default");
    const hello = await search("q=hello");
    assert.ok(hello.hits.length >= 2);
    assert.ok(hello.hits.every((h) => h.field === "content"));

    const thoughts = await search("q=count&in=reasoning");
    assert.equal(thoughts.hits.length, 1);
    const hit = thoughts.hits[0]!;
    assert.deepEqual([hit.kind, hit.field, hit.messageId, hit.role], ["message", "reasoning", replyId, "assistant"]);
    assert.equal(hit.snippet, "Let me \uE000count\uE001.");

    const all = await search("q=count&in=all");
    assert.deepEqual(
      all.hits.map((h) => [h.field, h.messageId]),
      [["reasoning", replyId]],
    );
    const both = await search("q=hello&in=all");
    assert.deepEqual(
      both.hits.map((h) => h.field),
      hello.hits.map((h) => h.field),
      "no thought says hello",
    );
    await api("GET", "/search?q=count&in=thoughts", undefined, 400);
  });

  test("export and import keep thoughts, searchable again", async () => {
    const file = await api<ExportFile>("GET", `/conversations/${conv.id}/export?format=json`);
    const exported = file.conversations[0]!.messages.find((m) => m.reasoning !== null)!;
    assert.equal(exported.reasoning, "Let me count.");
    assert.equal(typeof exported.reasoningMs, "number");
    const markdown = await api<string>("GET", `/conversations/${conv.id}/export?format=markdown`);
    assert.match(markdown, /\*Thinking:\*\n\n> Let me count\./);

    await api("DELETE", `/conversations/${conv.id}`, undefined, 204);
    assert.deepEqual((await search("q=count&in=reasoning")).hits, [], "deleted with its conversation");
    await api("POST", "/import", file);
    const detail = await api<ConversationDetail>("GET", `/conversations/${conv.id}`);
    assert.equal(detail.messages[1]!.reasoning, "Let me count.");
    assert.equal(detail.messages[1]!.reasoningMs, exported.reasoningMs);
    const again = await search("q=count&in=reasoning");
    assert.deepEqual(
      again.hits.map((h) => [h.conversationId, h.field]),
      [[conv.id, "reasoning"]],
    );
  });
});

test("recorded /v1 chats keep the thought apart from the answer", async () => {
  await t.client.chat.completions.create({
    model: thinker,
    messages: [{ role: "user", content: "Record me" }],
    temperature: 0,
  });
  const hits = (await search("q=count&in=reasoning&source=api")).hits;
  assert.equal(hits.length, 1);
  const detail = await api<ConversationDetail>("GET", `/conversations/${hits[0]!.conversationId}`);
  assert.deepEqual(
    detail.messages.map((m) => [m.content, m.reasoning]),
    [
      ["Record me", null],
      ["Hello there!", "Let me count."],
    ],
  );
});

test("/api/models says which loaded models think", async () => {
  await t.client.chat.completions.create({ model: answerer, messages: [{ role: "user", content: "Hi" }] });
  const { models } = await api<{ models: { id: string; loaded: { thinks: boolean } | null }[] }>("GET", "/models");
  assert.equal(models.find((m) => m.id === thinker)?.loaded?.thinks, true);
  assert.equal(models.find((m) => m.id === answerer)?.loaded?.thinks, false);
});

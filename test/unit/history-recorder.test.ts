import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import type { ChatMessage, ChatRequest, GenerationEvent, GenerationStream } from "../../server/core/types.js";
import { HistoryRecorder } from "../../server/history/recorder.js";
import { HistoryStore } from "../../server/history/store.js";
import { pathHash, pathHashes, pathHashesAsync } from "../../server/history/threads.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-history-recorder-"));
const stores: HistoryStore[] = [];
after(() => {
  for (const s of stores) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
let n = 0;
function setup(flushIntervalMs = 500, flushChars?: number) {
  const store = HistoryStore.open(path.join(dir, `r${++n}.sqlite`));
  stores.push(store);
  return { store, recorder: new HistoryRecorder(store, { flushIntervalMs, ...(flushChars ? { flushChars } : {}) }) };
}

const usage = { promptTokens: 7, completionTokens: 3, cachedTokens: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A scripted generation: the events, with optional pauses, then an optional failure. */
async function* scripted(events: (GenerationEvent | number)[], fail?: Error): GenerationStream {
  for (const e of events) {
    if (typeof e === "number") await sleep(e);
    else yield e;
  }
  if (fail) throw fail;
}

async function drain(stream: GenerationStream): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

function chat(messages: ChatMessage[]): ChatRequest {
  return {
    kind: "chat",
    model: "m",
    messages,
    sampling: { temperature: 0.5, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0 },
    stop: [],
    responseFormat: { type: "text" },
    tools: [],
    toolChoice: "auto",
    parallelToolCalls: true,
  };
}

describe("HistoryRecorder.recordReply", () => {
  test("yields the same events, and completes the reply with its numbers", async () => {
    const { store, recorder } = setup();
    const c = store.createConversation({ source: "ui" });
    const u = store.appendMessage(c.id, { role: "user", content: "hi" });
    const events: GenerationEvent[] = [
      { type: "text", text: "Hel" },
      { type: "text", text: "lo" },
      { type: "finish", reason: "stop", usage },
    ];
    let created = 0;
    const wrapped = recorder.recordReply(
      scripted([5, ...events]),
      { conversationId: c.id, parentId: u.id, model: "m" },
      (r) => (created = r.messageId),
    );
    const before = store.getMessage(created)!;
    assert.deepEqual(
      [before.status, before.content, before.parentId],
      ["partial", "", u.id],
      "the reply row exists before any event",
    );
    assert.deepEqual(await drain(wrapped), events);
    const m = store.getMessage(created)!;
    assert.deepEqual(
      [m.status, m.content, m.finishReason, m.promptTokens, m.completionTokens, m.model],
      ["complete", "Hello", "stop", 7, 3, "m"],
    );
    assert.ok(m.ttftMs !== null && m.ttftMs >= 4);
    assert.ok(m.tokensPerSecond === null || m.tokensPerSecond > 0);
  });

  test("writes while streaming at the flush rate, not per token", async () => {
    const { store, recorder } = setup(40);
    const c = store.createConversation({ source: "ui" });
    const u = store.appendMessage(c.id, { role: "user", content: "hi" });
    let writes = 0;
    const update = store.updateMessage.bind(store);
    store.updateMessage = (id, patch) => {
      writes++;
      return update(id, patch);
    };
    let id = 0;
    const tokens: (GenerationEvent | number)[] = [];
    for (let i = 0; i < 200; i++) tokens.push({ type: "text", text: "a" }, ...(i % 50 === 49 ? [60] : []));
    const wrapped = recorder.recordReply(
      scripted(tokens),
      { conversationId: c.id, parentId: u.id, model: "m" },
      (r) => (id = r.messageId),
    );
    let seenMidStream = "";
    let count = 0;
    for await (const _e of wrapped) {
      if (++count === 120) seenMidStream = store.getMessage(id)!.content;
    }
    assert.ok(
      seenMidStream.length >= 50 && seenMidStream.length < 120,
      `flushed before the end (${seenMidStream.length} chars)`,
    );
    assert.ok(writes >= 2 && writes <= 12, `${writes} writes for 200 tokens, not one per token`);
    const m = store.getMessage(id)!;
    assert.equal(m.content.length, 200);
    assert.equal(m.status, "partial", "ended without a finish event");
  });

  test("the first text is written before the client sees it", async () => {
    // An interval no test reaches: only the first-text rule can write mid-stream.
    const { store, recorder } = setup(3_600_000);
    const c = store.createConversation({ source: "ui" });
    const u = store.appendMessage(c.id, { role: "user", content: "hi" });
    let id = 0;
    const wrapped = recorder.recordReply(
      scripted([
        { type: "text", text: "Once" },
        { type: "text", text: " upon" },
        { type: "finish", reason: "stop", usage },
      ]),
      { conversationId: c.id, parentId: u.id, model: "m" },
      (r) => (id = r.messageId),
    );
    const seen: string[] = [];
    for await (const e of wrapped) if (e.type === "text") seen.push(store.getMessage(id)!.content);
    assert.deepEqual(seen, ["Once", "Once"], "stored when the client got the first text; the second waits");
  });

  test("what the client has seen but is not stored stays under flushChars (an eighth of the reply past that)", async () => {
    const { store, recorder } = setup(3_600_000, 100);
    const c = store.createConversation({ source: "ui" });
    const u = store.appendMessage(c.id, { role: "user", content: "hi" });
    let writes = 0;
    const update = store.updateMessage.bind(store);
    store.updateMessage = (id, patch) => {
      writes++;
      return update(id, patch);
    };
    let id = 0;
    const tokens: GenerationEvent[] = Array.from({ length: 3000 }, () => ({ type: "text", text: "word " }));
    const wrapped = recorder.recordReply(
      scripted(tokens),
      { conversationId: c.id, parentId: u.id, model: "m" },
      (r) => (id = r.messageId),
    );
    let received = "";
    let worst = 0;
    for await (const e of wrapped) {
      if (e.type !== "text") continue;
      received += e.text;
      const stored = store.getMessage(id)!.content;
      assert.ok(received.startsWith(stored));
      const unstored = received.length - stored.length;
      assert.ok(unstored < Math.max(100, stored.length / 8), `${unstored} characters seen but not stored`);
      worst = Math.max(worst, unstored);
    }
    assert.ok(worst >= 95, `the bound is reached, not undercut by writing per token (${worst})`);
    // 15,000 characters: 100 writes with a fixed 100-character step; the growing step needs far fewer.
    assert.ok(writes < 40, `${writes} writes`);
  });

  test("a consumer that stops reading leaves it partial with what was streamed", async () => {
    const { store, recorder } = setup();
    const c = store.createConversation({ source: "ui" });
    const u = store.appendMessage(c.id, { role: "user", content: "hi" });
    let id = 0;
    const wrapped = recorder.recordReply(
      scripted([
        { type: "text", text: "one " },
        { type: "text", text: "two" },
        { type: "finish", reason: "stop", usage },
      ]),
      { conversationId: c.id, parentId: u.id, model: "m" },
      (r) => (id = r.messageId),
    );
    for await (const e of wrapped) if (e.type === "text" && e.text === "two") break;
    const m = store.getMessage(id)!;
    assert.deepEqual([m.status, m.content, m.finishReason], ["partial", "one two", null]);
  });

  test("an abort is partial, a failure is error with its message; both still rethrow", async () => {
    const { store, recorder } = setup();
    const c = store.createConversation({ source: "ui" });
    const u = store.appendMessage(c.id, { role: "user", content: "hi" });
    let id = 0;
    const controller = new AbortController();
    controller.abort(new Error("client disconnected"));
    const aborted = recorder.recordReply(
      scripted([{ type: "text", text: "so far" }], new Error("client disconnected")),
      {
        conversationId: c.id,
        parentId: u.id,
        model: "m",
        signal: controller.signal,
      },
      (r) => (id = r.messageId),
    );
    await assert.rejects(drain(aborted), /client disconnected/);
    assert.deepEqual([store.getMessage(id)!.status, store.getMessage(id)!.content], ["partial", "so far"]);

    const failed = recorder.recordReply(
      scripted([{ type: "text", text: "x" }], new Error("model exploded")),
      { conversationId: c.id, parentId: u.id, model: "m" },
      (r) => (id = r.messageId),
    );
    await assert.rejects(drain(failed), /model exploded/);
    const m = store.getMessage(id)!;
    assert.deepEqual([m.status, m.error, m.content], ["error", "model exploded", "x"]);
  });

  test("tool calls are assembled and stored", async () => {
    const { store, recorder } = setup();
    const c = store.createConversation({ source: "ui" });
    const u = store.appendMessage(c.id, { role: "user", content: "weather?" });
    let id = 0;
    await drain(
      recorder.recordReply(
        scripted([
          { type: "tool_call", index: 0, id: "call_1", name: "weather", argumentsDelta: '{"city":', first: true },
          { type: "tool_call", index: 0, id: "call_1", name: "weather", argumentsDelta: '"Oslo"}', first: false },
          { type: "finish", reason: "tool_calls", usage },
        ]),
        { conversationId: c.id, parentId: u.id, model: "m" },
        (r) => (id = r.messageId),
      ),
    );
    assert.deepEqual(store.getMessage(id)!.toolCalls, [
      { id: "call_1", name: "weather", arguments: '{"city":"Oslo"}' },
    ]);
  });
});

describe("HistoryRecorder.observeApi (/v1 threads)", () => {
  async function turn(recorder: HistoryRecorder, messages: ChatMessage[], reply: string) {
    await drain(
      await recorder.observeApi(
        chat(messages),
        scripted([
          { type: "text", text: reply },
          { type: "finish", reason: "stop", usage },
        ]),
        "local",
        performance.now(),
      ),
    );
  }

  test("a growing list is one conversation; a changed one branches where it differs", async () => {
    const { store, recorder } = setup();
    const sys: ChatMessage = { role: "system", content: "Be short." };
    await turn(recorder, [sys, { role: "user", content: "Hi" }], "Hello!");
    await turn(
      recorder,
      [
        sys,
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello!" },
        { role: "user", content: "Bye" },
      ],
      "Ciao",
    );
    let list = store.listConversations({ source: "api" }).items;
    assert.equal(list.length, 1);
    assert.deepEqual(
      [list[0]!.title, list[0]!.systemPrompt, list[0]!.model, list[0]!.provider],
      ["Hi", "Be short.", "m", "local"],
    );
    assert.deepEqual(list[0]!.params, { temperature: 0.5, topP: 1, topK: 0, minP: 0 });
    let thread = store.getConversation(list[0]!.id)!.messages;
    assert.deepEqual(
      thread.map((m) => [m.role, m.content]),
      [
        ["system", "Be short."],
        ["user", "Hi"],
        ["assistant", "Hello!"],
        ["user", "Bye"],
        ["assistant", "Ciao"],
      ],
    );
    // The client edited its second question: a branch after "Hello!", same conversation.
    await turn(
      recorder,
      [
        sys,
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello!" },
        { role: "user", content: "Why?" },
      ],
      "Because",
    );
    list = store.listConversations({ source: "api" }).items;
    assert.equal(list.length, 1);
    thread = store.getConversation(list[0]!.id)!.messages;
    assert.deepEqual(
      thread.slice(3).map((m) => m.content),
      ["Why?", "Because"],
    );
    assert.equal(thread[3]!.siblingIds.length, 2);
    // A different first message is another conversation.
    await turn(recorder, [{ role: "user", content: "Unrelated" }], "ok");
    assert.equal(store.listConversations({ source: "api" }).items.length, 2);
  });

  test("tool-call turns match when the client resends them", async () => {
    const { store, recorder } = setup();
    const user: ChatMessage = { role: "user", content: "Weather in Oslo?" };
    await drain(
      await recorder.observeApi(
        chat([user]),
        scripted([
          {
            type: "tool_call",
            index: 0,
            id: "call_9",
            name: "weather",
            argumentsDelta: '{"city":"Oslo"}',
            first: true,
          },
          { type: "finish", reason: "tool_calls", usage },
        ]),
        "local",
        performance.now(),
      ),
    );
    const next: ChatMessage[] = [
      user,
      {
        role: "assistant",
        content: null,
        toolCalls: [{ id: "call_9", name: "weather", arguments: '{"city":"Oslo"}' }],
      },
      { role: "tool", toolCallId: "call_9", content: "rain" },
    ];
    await turn(recorder, next, "It rains.");
    const list = store.listConversations({ source: "api" }).items;
    assert.equal(list.length, 1);
    const thread = store.getConversation(list[0]!.id)!.messages;
    assert.deepEqual(
      thread.map((m) => m.role),
      ["user", "assistant", "tool", "assistant"],
    );
    assert.equal(thread[2]!.toolCallId, "call_9");
  });

  test("path hashes of long messages are the ones stored before (one JSON.stringify), and are made in turns of the event loop", async () => {
    // The hash of a message has always covered JSON.stringify([role, content, calls, toolCallId]):
    // recorded conversations are found by it, so hashing in pieces must not change a byte.
    const reference = (parent: string | null, m: Parameters<typeof pathHash>[1]) =>
      createHash("sha256")
        .update(parent ?? "")
        .update("\u0000")
        .update(
          JSON.stringify([
            m.role,
            m.content ?? "",
            (m.toolCalls ?? []).map((c) => [c.id, c.name, c.arguments]),
            m.toolCallId ?? null,
          ]),
        )
        .digest("base64url")
        .slice(0, 22);
    // Surrogate pairs across every piece boundary, lone surrogates, quotes, controls, escapes.
    const awkward = `a"\\\n\u0001\u2028😀\ud800x\udc00é`;
    const long = (awkward + "😀".repeat(131_071) + "b").repeat(12);
    const messages = [
      { role: "system", content: "be brief" },
      { role: "user", content: long },
      {
        role: "assistant",
        content: null,
        toolCalls: [
          { id: "c1", name: "f", arguments: long.slice(1) },
          { id: "c2", name: "g", arguments: "{}" },
        ],
      },
      { role: "tool", content: long.slice(3), toolCallId: "c1" },
      { role: "user", content: "" },
    ];
    const expected: string[] = [];
    for (const m of messages) expected.push(reference(expected.at(-1) ?? null, m));
    assert.deepEqual(pathHashes(messages), expected);

    let turns = 0;
    const tick = () => {
      turns++;
      if (!finished) setImmediate(tick);
    };
    let finished = false;
    setImmediate(tick);
    const hashed = await pathHashesAsync(messages);
    finished = true;
    assert.deepEqual(hashed, expected);
    assert.ok(turns >= 5, `the event loop turned ${turns} times while ${long.length * 3} characters were hashed`);
  });

  test("path hashes chain: same prefix, same hash; any change, another", () => {
    const a = pathHashes([
      { role: "user", content: "x" },
      { role: "assistant", content: "y" },
    ]);
    const b = pathHashes([
      { role: "user", content: "x" },
      { role: "assistant", content: "z" },
    ]);
    assert.equal(a[0], b[0]);
    assert.notEqual(a[1], b[1]);
    assert.notEqual(pathHashes([{ role: "user", content: "x" }])[0], pathHashes([{ role: "system", content: "x" }])[0]);
  });
});

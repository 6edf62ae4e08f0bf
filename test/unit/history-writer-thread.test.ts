/**
 * The history's writer thread (server/history/writer-thread.ts): a /v1 request of OFF_THREAD_CHARS
 * or more is filed by a second connection in a worker, with the recorder's own code, and what it
 * writes is what the server's thread would have written; when the worker cannot run, the request
 * is filed on the caller's thread instead. (That the server answers meanwhile:
 * test/integration/history-large-writes.test.ts.)
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import type { ChatMessage, ChatRequest } from "../../server/core/types.js";
import { HistoryRecorder, OFF_THREAD_CHARS } from "../../server/history/recorder.js";
import { HistoryStore } from "../../server/history/store.js";
import { HistoryWriterThread } from "../../server/history/writer-thread.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-writer-thread-"));
const closers: (() => void)[] = [];
after(() => {
  for (const close of closers.reverse()) close();
  fs.rmSync(dir, { recursive: true, force: true });
});

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

function open(name: string, threadFile?: string) {
  const file = path.join(dir, name);
  const store = HistoryStore.open(file);
  const thread = new HistoryWriterThread(threadFile ?? file);
  const warnings: string[] = [];
  const recorder = new HistoryRecorder(store, {
    writerThread: thread,
    logger: { warn: (_o: unknown, msg?: string) => void warnings.push(msg ?? "") } as never,
  });
  closers.push(() => {
    thread.close();
    store.close();
  });
  return { store, recorder, warnings };
}

const big = `needle ${"a line of a pasted log\n".repeat(Math.ceil(OFF_THREAD_CHARS / 23))}`;

test("a large request is filed by the worker's connection: the same rows, found by the server's", async () => {
  const { store, recorder, warnings } = open("large.sqlite");
  const first = chat([
    { role: "system", content: "Be short." },
    { role: "user", content: big },
  ]);
  const filed = await recorder.fileApiRequest(first, "local");
  const detail = store.getConversation(filed.conversationId)!;
  assert.equal(detail.source, "api");
  assert.equal(detail.systemPrompt, "Be short.");
  assert.deepEqual(
    detail.messages.map((m) => [m.role, m.content.length]),
    [
      ["system", "Be short.".length],
      ["user", big.length],
    ],
  );
  assert.equal(filed.parentId, detail.messages[1]!.id);
  assert.equal(store.runSearch({ q: "needle" }).hits.find((h) => h.kind === "message")?.messageId, filed.parentId);

  // The next turn resends it: matched by path hash, only the new messages are written (on the
  // worker again: the resent request is as large).
  const next = await recorder.fileApiRequest(
    chat([...first.messages, { role: "assistant", content: "Ok." }, { role: "user", content: "More?" }]),
    "local",
  );
  assert.equal(next.conversationId, filed.conversationId);
  assert.deepEqual(
    store.getConversation(filed.conversationId)!.messages.map((m) => m.content.slice(0, 6)),
    ["Be sho", "needle", "Ok.", "More?"],
  );
  assert.deepEqual(warnings, []);
});

test("when the worker cannot run, the request is filed on the caller's thread, with a warning", async () => {
  // The worker is pointed at a folder, which it cannot open as a database.
  const { store, recorder, warnings } = open("fallback.sqlite", dir);
  const filed = await recorder.fileApiRequest(chat([{ role: "user", content: big }]), "local");
  assert.equal(store.getConversation(filed.conversationId)!.messages[0]!.content, big);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /no writer thread/);
  // Not tried again: the next one goes straight to the caller's thread.
  await recorder.fileApiRequest(chat([{ role: "user", content: `${big} again` }]), "local");
  assert.equal(warnings.length, 2);
});

/**
 * Crash test: kill -9 the server while a reply streams; after a restart the user message and the
 * reply flushed so far are there, the reply marked partial, the database intact and searchable.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import type { SearchPage } from "../../server/history/search.js";
import type { Conversation, ConversationDetail } from "../../server/history/types.js";
import { testModelPath } from "../helpers/models.js";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-crash-"));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function startServer(): Promise<{ child: ChildProcess; url: string }> {
  // A large context so the tiny model can stream for seconds (its replies are otherwise over in a blink).
  const args = [
    "--import",
    "tsx",
    "server/cli.ts",
    "serve",
    "--model",
    await testModelPath(),
    "--port",
    "0",
    "--data-dir",
    dataDir,
  ];
  const child = spawn(process.execPath, [...args, "--threads", "1", "--ctx-size", "16384", "--parallel", "1"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HEARTH_LOG_LEVEL: "warn" },
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      const m = stdout.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) resolve(m[0]);
    });
    child.once("exit", (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  return { child, url };
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  assert.ok(res.ok, `${url}: ${res.status}`);
  return (await res.json()) as T;
}

test("kill -9 mid-stream keeps the user message and the partial reply", async () => {
  const first = await startServer();
  const conv = await json<Conversation>(`${first.url}/api/conversations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ params: { maxTokens: 16000 } }),
  });
  const res = await fetch(`${first.url}/api/conversations/${conv.id}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ content: "Quokkas told a long story about the harbour" }),
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  let received = "";
  const started = Date.now();
  // Long enough for a few flushes (every 500 ms), short of the end of the reply.
  while (Date.now() - started < 1200) {
    const { done, value } = await reader.read();
    assert.equal(done, false, "the reply ended before the kill; make it longer");
    received += Buffer.from(value).toString();
  }
  assert.doesNotMatch(received, /\[DONE\]/);
  first.child.kill("SIGKILL");
  await once(first.child, "exit");
  await reader.cancel().catch(() => {});

  const second = await startServer();
  try {
    const detail = await json<ConversationDetail>(`${second.url}/api/conversations/${conv.id}`);
    assert.equal(detail.messages.length, 2);
    const [user, reply] = detail.messages;
    assert.deepEqual(
      [user!.role, user!.content, user!.status],
      ["user", "Quokkas told a long story about the harbour", "complete"],
    );
    assert.equal(reply!.role, "assistant");
    assert.equal(reply!.status, "partial");
    assert.ok(reply!.content.length > 0, "text flushed while streaming survived");
    const streamed = received
      .split("\n\n")
      .filter((e) => e.startsWith("data: {"))
      .map(
        (e) =>
          (JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "",
      )
      .join("");
    assert.ok(streamed.startsWith(reply!.content), "the stored text is what the client had received");

    const db = new Database(path.join(dataDir, "history.sqlite"), { readonly: true });
    try {
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
    } finally {
      db.close();
    }
    const userHits = await json<SearchPage>(`${second.url}/api/search?q=quokkas`);
    assert.ok(userHits.hits.some((h) => h.messageId === user!.id));
    const word = (reply!.content.match(/\p{L}{3,}/gu) ?? []).at(-1)!;
    const replyHits = await json<SearchPage>(
      `${second.url}/api/search?q=${encodeURIComponent(`"${word}"`)}&conversationId=${conv.id}&limit=100`,
    );
    assert.ok(
      replyHits.hits.some((h) => h.messageId === reply!.id),
      `search for ${word} finds the partial reply`,
    );
  } finally {
    second.child.kill("SIGTERM");
    await once(second.child, "exit");
  }
});

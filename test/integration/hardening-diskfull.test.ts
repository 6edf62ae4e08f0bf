/**
 * A full disk under the data folder, for real: the data folder is a 4 MiB tmpfs (mounted by the
 * test; it needs root, and skips with the reason otherwise), filled to the last byte while the
 * server runs. The user sees the error (507 disk_full from /api, a final SSE error event when
 * the disk fills during a reply), /v1 keeps answering (recording is a side effect there), the
 * database stays intact, and writing resumes once space is freed.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { pino } from "pino";
import { createServer, type HearthServer } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";
import { testModelPath } from "../helpers/models.js";
import { rawRequest, sseData } from "../helpers/raw-http.js";

const MODEL = "stories260K";
const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-diskfull-"));
let mounted = false;
try {
  if (process.platform === "linux" && process.getuid?.() === 0) {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint], { stdio: "ignore" });
    mounted = true;
  }
} catch {
  mounted = false;
}
const skip = mounted ? false : "needs root on Linux to mount a small tmpfs as the data folder";
const filler = path.join(mountPoint, "filler.bin");

let server: HearthServer;
let url = "";

/** Writes until the file system refuses: afterwards not one more byte fits. */
function fillDisk(): number {
  const fd = fs.openSync(filler, "a");
  const chunk = Buffer.alloc(16 * 1024, 1);
  let written = 0;
  try {
    for (;;) {
      try {
        written += fs.writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
        if (chunk.length === 1) break;
        return written + fillWithSmaller(fd);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

function fillWithSmaller(fd: number): number {
  let written = 0;
  for (let size = 8192; size >= 1; size = Math.floor(size / 2)) {
    const chunk = Buffer.alloc(size, 1);
    for (;;) {
      try {
        written += fs.writeSync(fd, chunk);
      } catch {
        break;
      }
    }
  }
  return written;
}

const freeDisk = () => fs.rmSync(filler, { force: true });
const post = (p: string, body: unknown) => rawRequest(url, { path: p, body: JSON.stringify(body), timeoutMs: 30_000 });
const codeOf = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code;

before(async () => {
  if (!mounted) return;
  const config = loadConfig({
    env: {},
    overrides: {
      port: 0,
      dataDir: mountPoint,
      threads: 1,
      logLevel: "silent",
      model: await testModelPath(),
      parallel: 2,
      ctxSize: 8192,
    },
  });
  server = createServer(config, { logger: pino({ level: "silent" }) });
  url = await server.start();
});

after(async () => {
  if (mounted) {
    await server?.close();
    execFileSync("umount", [mountPoint]);
  }
  fs.rmSync(mountPoint, { recursive: true, force: true });
});

test("a full disk: clear errors, /v1 still answers, nothing damaged, writing resumes", { skip }, async (t) => {
  const conv = await post("/api/conversations", { title: "before the disk filled", model: MODEL });
  assert.equal(conv.status, 201);
  const id = (JSON.parse(conv.body) as { id: string }).id;
  const first = await post(`/api/conversations/${id}/messages`, {
    content: "Tell me about the harbour",
    params: { maxTokens: 20 },
  });
  assert.equal(sseData(first.body).at(-1), "[DONE]");

  // 1. Full before a request: /api answers 507 disk_full, before any generation.
  t.diagnostic(`filled ${fillDisk()} bytes`);
  const create = await post("/api/conversations", { title: "while full" });
  assert.equal(create.status, 507, create.body);
  assert.equal(codeOf(create.body), "disk_full");
  assert.match(create.body, /disk is full/);
  const send = await post(`/api/conversations/${id}/messages`, {
    content: "Another question",
    params: { maxTokens: 20 },
  });
  assert.equal(send.status, 507, send.body);
  assert.equal(codeOf(send.body), "disk_full");
  const settings = await rawRequest(url, {
    method: "PUT",
    path: "/api/settings",
    body: JSON.stringify({ threads: 2 }),
  });
  assert.equal(settings.status, 507, settings.body);
  // /v1 is served unrecorded: the client did not ask for history.
  const v1 = await post("/v1/chat/completions", {
    model: MODEL,
    messages: [{ role: "user", content: "still there?" }],
    max_tokens: 4,
  });
  assert.equal(v1.status, 200, v1.body);
  assert.equal((await rawRequest(url, { path: `/api/conversations/${id}` })).status, 200, "reading works while full");

  // 2. Full during a reply: the stream ends with a final disk_full error event.
  freeDisk();
  const res = await fetch(`${url}/api/conversations/${id}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ content: "An even longer story", params: { maxTokens: 7000, temperature: 1 } }),
  });
  assert.equal(res.status, 200);
  const replyId = Number(res.headers.get("x-hearth-message-id"));
  const decoder = new TextDecoder();
  let text = "";
  let filled = false;
  for await (const chunk of res.body!) {
    text += decoder.decode(chunk as Uint8Array, { stream: true });
    if (!filled && sseData(text).length > 5) {
      fillDisk();
      filled = true;
    }
  }
  const last = sseData(text).at(-1) ?? "";
  assert.ok(last.startsWith("{"), `the stream ended with ${last.slice(0, 100)}`);
  assert.equal((JSON.parse(last) as { error?: { code: string } }).error?.code, "disk_full", last);

  // 3. Space again: writing resumes, and the earlier reply is kept as it was last saved.
  freeDisk();
  const again = await post("/api/conversations", { title: "after space returned", model: MODEL });
  assert.equal(again.status, 201, again.body);
  const againId = (JSON.parse(again.body) as { id: string }).id;
  const reply = await post(`/api/conversations/${againId}/messages`, {
    content: "Hello again",
    params: { maxTokens: 10 },
  });
  assert.equal(sseData(reply.body).at(-1), "[DONE]");
  const detail = JSON.parse((await rawRequest(url, { path: `/api/conversations/${againId}` })).body) as {
    messages: { role: string; status: string }[];
  };
  assert.deepEqual(
    detail.messages.map((m) => [m.role, m.status]),
    [
      ["user", "complete"],
      ["assistant", "complete"],
    ],
  );
  const cut = (
    JSON.parse((await rawRequest(url, { path: `/api/export?ids=${id}` })).body) as {
      conversations: { messages: { id: number; status: string }[] }[];
    }
  ).conversations[0]!.messages.find((m) => m.id === replyId);
  assert.ok(
    cut && cut.status !== "complete",
    `the reply cut by the full disk is kept, not marked complete (${cut?.status})`,
  );

  // 4. Nothing damaged.
  await server.close();
  const db = new Database(path.join(mountPoint, "history.sqlite"));
  try {
    assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
    for (const table of ["messages_fts", "messages_trigram", "conversations_fts"])
      db.prepare(`INSERT INTO ${table} (${table}, rank) VALUES ('integrity-check', 1)`).run();
  } finally {
    db.close();
  }
});

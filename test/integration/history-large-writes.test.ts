/**
 * Issue 22 item 3: a /v1 message too large to write on the thread that serves HTTP is written by
 * the history's writer thread (server/history/writer-thread.ts), and the server answers meanwhile.
 *
 * To make "meanwhile" certain rather than a matter of timing, the test holds the database's write
 * lock from a connection of its own while the large message is recorded: the write must wait for
 * it. Waiting on the HTTP thread would stop the whole server (SQLite's busy handler sleeps), and
 * this test's own code could not run to release the lock, so the write would give out after the
 * busy timeout and the message would be lost. On the writer thread, /health/live answers, the POST
 * stays pending until the lock is released, and then the message is stored whole and found.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import type { ConversationDetail } from "../../server/history/types.js";
import type { SearchPage } from "../../server/history/search.js";
import { OFF_THREAD_CHARS } from "../../server/history/recorder.js";
import { rawServer, type RawServer } from "../helpers/remote.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("recording a very large /v1 message", () => {
  let t: TestServer;
  let upstream: RawServer;
  let arrived: () => void = () => {};

  before(async () => {
    // An OpenAI-compatible upstream that answers every chat at once: the prompt is far past any
    // local test model's context, and only the recording is under test.
    upstream = await rawServer((_req, res) => {
      arrived();
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "chatcmpl-large",
          object: "chat.completion",
          created: 0,
          model: "m",
          choices: [{ index: 0, message: { role: "assistant", content: "Noted." }, finish_reason: "stop" }],
          usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
        }),
      );
    });
    t = await startTestServer({}, { withModel: false });
    const added = await fetch(`${t.url}/api/providers`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: "up",
        name: "up",
        kind: "openai-compatible",
        baseUrl: `${upstream.url}/v1`,
        discover: false,
        models: ["m"],
      }),
    });
    assert.equal(added.status, 201, await added.text());
  });

  after(async () => {
    await t.close();
    await upstream.close();
  });

  test("the server answers while the message waits to be written, then it is stored whole and found", async () => {
    const line = "2026-12-06T03:00:00Z INFO worker-3 request 5f1c took 42 ms status=200\n";
    const content = `quokkazanzibar pasted log\n${line.repeat(Math.ceil((3 * OFF_THREAD_CHARS) / line.length))}`;

    const lock = new Database(path.join(t.dataDir, "history.sqlite"));
    lock.exec("BEGIN IMMEDIATE");
    const upstreamSawIt = new Promise<void>((resolve) => (arrived = resolve));
    let posted = false;
    const post = fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "up/m", messages: [{ role: "user", content }] }),
    }).then((res) => {
      posted = true;
      return res;
    });
    let liveAnswers = 0;
    try {
      // Provider first, then the recording (chat/service.ts): from here on the write is due, and it
      // cannot land while the lock is held, so the POST cannot finish.
      await upstreamSawIt;
      for (; liveAnswers < 5; liveAnswers++) {
        const live = await fetch(`${t.url}/health/live`);
        assert.equal(live.status, 200);
        await live.text();
      }
      assert.equal(posted, false, "the POST finished although its write could not have landed");
    } finally {
      lock.exec("COMMIT");
      lock.close();
    }
    assert.equal(liveAnswers, 5);

    const res = await post;
    assert.equal(res.status, 200);
    const reply = (await res.json()) as { choices: { message: { content: string } }[] };
    assert.equal(reply.choices[0]?.message.content, "Noted.");

    const search = (await (await fetch(`${t.url}/api/search?q=quokkazanzibar`)).json()) as SearchPage;
    const hit = search.hits.find((h) => h.kind === "message");
    assert.ok(hit, "the message is found by search");
    const detail = (await (
      await fetch(`${t.url}/api/conversations/${hit.conversationId}`)
    ).json()) as ConversationDetail;
    assert.equal(detail.source, "api");
    assert.deepEqual(
      detail.messages.map((m) => [m.role, m.content.length, m.status]),
      [
        ["user", content.length, "complete"],
        ["assistant", "Noted.".length, "complete"],
      ],
    );
    assert.equal(detail.messages[0]!.content, content);
  });

  test("a small message on the same server is recorded and found too", async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "up/m", messages: [{ role: "user", content: "wombatfjord hello" }] }),
    });
    assert.equal(res.status, 200);
    const search = (await (await fetch(`${t.url}/api/search?q=wombatfjord`)).json()) as SearchPage;
    assert.equal(search.hits.filter((h) => h.kind === "message").length, 1);
  });
});

/**
 * SIGTERM against `hearth serve` as a process: in-flight streams either finish or end with one
 * final error event within a bound, requests that arrive while it drains get 503, queued ones are
 * told it is shutting down, the process exits 0 and leaves no process of its group behind.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { killHard, processGroupMembers, spawnHearth, type HearthProcess } from "../helpers/cli-process.js";
import { testModelPath } from "../helpers/models.js";
import { rawRequest, sseData } from "../helpers/raw-http.js";

const MODEL = "stories260K";
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-sigterm-"));
let p: HearthProcess | undefined;
after(async () => {
  if (p) await killHard(p);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

interface OpenStream {
  /** Resolves once the first content chunk arrived. */
  started: Promise<void>;
  /** Resolves with the whole SSE body once the server ended the stream. */
  ended: Promise<string>;
}

function openStream(url: string, maxTokens: number): OpenStream {
  let markStarted!: () => void;
  const started = new Promise<void>((r) => (markStarted = r));
  const ended = (async () => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: "user", content: "Tell a very long story" }],
        max_tokens: maxTokens,
        temperature: 1,
        stream: true,
      }),
    });
    assert.equal(res.status, 200);
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk as Uint8Array, { stream: true });
      // The role chunk, then text: the generation runs.
      if (sseData(text).length >= 2) markStarted();
    }
    return text;
  })();
  ended.catch(() => markStarted());
  return { started, ended };
}

async function guard<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

test("SIGTERM: streams finish or end with a final error event, new requests get 503, exit 0, no orphans", async (t) => {
  p = await spawnHearth(
    [
      "--model",
      await testModelPath(),
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--threads",
      "1",
      "--parallel",
      "2",
      "--ctx-size",
      "8192",
      "--shutdown-grace",
      "2",
    ],
    {
      detached: true,
    },
  );
  const pgid = p.child.pid!;
  // Two long generations hold both sequences; a third waits in the queue; a short one will finish in the grace period.
  const long = [openStream(p.url, 8000), openStream(p.url, 8000)];
  await guard(Promise.all(long.map((s) => s.started)), 30_000, "first tokens");
  const queued = rawRequest(p.url, {
    path: "/v1/chat/completions",
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "queued" }], max_tokens: 5 }),
    timeoutMs: 30_000,
  });
  await new Promise((r) => setTimeout(r, 200));

  const sent = performance.now();
  p.child.kill("SIGTERM");
  // While draining: new work is refused with 503 and the reason; liveness still answers; readiness says why not.
  await new Promise((r) => setTimeout(r, 100));
  const during = await rawRequest(p.url, {
    path: "/v1/chat/completions",
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "new" }], max_tokens: 2 }),
    timeoutMs: 10_000,
  });
  assert.equal(during.status, 503, during.body);
  assert.equal((JSON.parse(during.body) as { error: { code: string } }).error.code, "shutting_down");
  const ready = await rawRequest(p.url, { path: "/health/ready", timeoutMs: 10_000 });
  assert.equal(ready.status, 503);
  assert.equal((JSON.parse(ready.body) as { status: string }).status, "shutting_down");
  assert.equal((await rawRequest(p.url, { path: "/api/conversations", timeoutMs: 10_000 })).status, 503);

  const queuedAnswer = await guard(queued, 20_000, "the queued request's answer");
  assert.equal(queuedAnswer.status, 503, queuedAnswer.body);

  for (const s of long) {
    const body = await guard(s.ended, 20_000, "the end of a running stream");
    const events = sseData(body);
    const last = events.at(-1) ?? "";
    if (last === "[DONE]") continue;
    const error = (JSON.parse(last) as { error?: { code?: string } }).error;
    assert.equal(error?.code, "shutting_down", `the stream ended with ${last.slice(0, 200)}`);
    assert.ok(events.length > 2, "text was streamed before the final error event");
  }
  const code = await guard(p.exited, 20_000, "exit");
  t.diagnostic(`exited ${Math.round(performance.now() - sent)} ms after SIGTERM (grace 2 s)`);
  assert.equal(code, 0);
  assert.deepEqual(processGroupMembers(pgid), [], "no process of the server's group is left");
  await assert.rejects(rawRequest(p.url, { path: "/health/live", timeoutMs: 2000 }), "the port is closed");
});

test("SIGTERM: a stream that finishes within the grace period ends normally with [DONE]", async () => {
  p = await spawnHearth(
    [
      "--model",
      await testModelPath(),
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--threads",
      "1",
      "--parallel",
      "1",
      "--ctx-size",
      "4096",
      "--shutdown-grace",
      "30",
    ],
    { detached: true },
  );
  const pgid = p.child.pid!;
  const s = openStream(p.url, 1500);
  await guard(s.started, 30_000, "first tokens");
  p.child.kill("SIGTERM");
  const body = await guard(s.ended, 30_000, "the end of the stream");
  assert.equal(sseData(body).at(-1), "[DONE]");
  assert.equal(await guard(p.exited, 30_000, "exit"), 0);
  assert.deepEqual(processGroupMembers(pgid), []);
});

/**
 * Long prompts through the real server (issue 19 part 3): a client that disconnects, or a request
 * that times out, while its prompt is still being prefilled frees its sequence within one batch,
 * so the next request is answered at once instead of after the rest of the prefill
 * (server/engine/prefill.ts; docs/ENGINE-NOTES.md §2.16). Before, the whole prompt was decoded
 * anyway: on stories260K a one-token request waited 35 s after a 4k-token prompt's client left.
 * No tight timing: each test compares with what the rest of that prefill costs, measured here.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { metricValue, startTestServer, type TestServer } from "../helpers/server.js";

const MODEL = "stories260K";
const SENTENCE =
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ";
/** About 35 tokens a sentence with stories260K's tokenizer; the tag makes each prompt new from its first tokens. */
const longPrompt = (tag: string, sentences: number) => `${tag} ${SENTENCE.repeat(sentences)}`;

const post = (url: string, body: unknown, signal?: AbortSignal) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const oneToken = (t: TestServer) =>
  t.client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Hi" }], max_tokens: 1 });

/** A full prefill of a PROMPT_SENTENCES prompt on this machine now: what each test compares with. */
let fullPrefillMs = 0;
const PROMPT_SENTENCES = 115; // about 4,000 tokens

describe("a client that leaves during prefill", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 1, ctxSize: 8192 });
  });
  after(() => t.close());

  test("frees its sequence within a batch: the next request does not wait for the rest of the prompt", async (ctx) => {
    const startedAt = performance.now();
    const full = await t.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: longPrompt("A", PROMPT_SENTENCES) }],
      max_tokens: 1,
    });
    fullPrefillMs = performance.now() - startedAt;
    assert.ok((full.usage?.prompt_tokens ?? 0) > 3000, `a long prompt (${full.usage?.prompt_tokens} tokens)`);
    if (fullPrefillMs < 1000) {
      // A GPU, say: nothing to cancel 200 ms into a prefill that short.
      ctx.skip(`this machine prefills the prompt in ${Math.round(fullPrefillMs)} ms: too fast to cancel in the middle`);
      return;
    }

    const abort = new AbortController();
    const long = post(
      t.url,
      {
        model: MODEL,
        messages: [{ role: "user", content: longPrompt("B", PROMPT_SENTENCES) }],
        max_tokens: 1,
        stream: true,
      },
      abort.signal,
    )
      .then((res) => res.text())
      .catch(() => "aborted");
    await until(async () => (await metricValue(t.url, "hearth_busy_sequences")) === 1, "the long prompt's admission");
    await new Promise((r) => setTimeout(r, 200));
    abort.abort();
    const abortedAt = performance.now();
    assert.equal(await long, "aborted");
    const short = await oneToken(t);
    const shortMs = performance.now() - abortedAt;
    assert.equal(short.choices.length, 1, "the short request was answered");
    assert.equal(await metricValue(t.url, "hearth_busy_sequences"), 0, "the sequence was given back");
    // Before the fix the short request waited for the rest of the prompt: fullPrefillMs - 200 ms.
    assert.ok(
      shortMs < fullPrefillMs / 2,
      `the short request came ${Math.round(shortMs)} ms after the abort; the full prefill takes ${Math.round(fullPrefillMs)} ms`,
    );
  });
});

describe("a request that times out during prefill", () => {
  const TIMEOUT_S = 1;
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 1, ctxSize: 8192, requestTimeout: TIMEOUT_S });
  });
  after(() => t.close());

  test("ends within a batch of its timeout and frees its sequence", async (ctx) => {
    if (fullPrefillMs < 2000 * TIMEOUT_S) {
      ctx.skip(`this machine prefills the prompt in ${Math.round(fullPrefillMs)} ms: too close to the timeout to tell`);
      return;
    }
    const startedAt = performance.now();
    const res = await post(t.url, {
      model: MODEL,
      messages: [{ role: "user", content: longPrompt("C", PROMPT_SENTENCES) }],
      max_tokens: 1,
    });
    const endedMs = performance.now() - startedAt;
    assert.equal(res.status, 504);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "timeout");
    // Before the fix the 504 came only when the whole prompt had been decoded (about fullPrefillMs).
    const bound = 1000 * TIMEOUT_S + (fullPrefillMs - 1000 * TIMEOUT_S) / 2;
    assert.ok(
      endedMs < bound,
      `the timed-out request ended after ${Math.round(endedMs)} ms; the full prefill takes ${Math.round(fullPrefillMs)} ms`,
    );
    assert.equal(await metricValue(t.url, "hearth_busy_sequences"), 0, "the sequence was given back");
    const short = await oneToken(t);
    assert.equal(short.choices.length, 1, "the next request was answered");
  });
});

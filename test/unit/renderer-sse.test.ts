/**
 * The UI's SSE decoder, fed the same bytes split at every boundary and at random ones: events
 * span chunks, a chunk may end inside a multi-byte character or between CR and LF.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readSse, SseParser, type SseEvent } from "../../renderer/src/api/sse.js";
import { errorFromEvent } from "../../renderer/src/api/errors.js";

const STREAM =
  "\uFEFF: comment to ignore\n" +
  'data: {"choices":[{"delta":{"content":"Héllo 👋 世界"}}]}\n\n' +
  "event: progress\r\ndata: line one\r\ndata: line two\r\n\r\n" +
  "id: 42\rdata:no-space\r\r" +
  ": ping\n\n" +
  "data\n\n" +
  'data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}\n\n' +
  "data: [DONE]\n\n" +
  "data: unterminated at the end";

const EXPECTED: SseEvent[] = [
  { event: "message", data: '{"choices":[{"delta":{"content":"Héllo 👋 世界"}}]}' },
  { event: "progress", data: "line one\nline two" },
  { event: "message", data: "no-space", id: "42" },
  { event: "message", data: "", id: "42" },
  { event: "message", data: '{"error":{"message":"boom","type":"server_error","param":null,"code":null}}', id: "42" },
  { event: "message", data: "[DONE]", id: "42" },
];

const bytes = new TextEncoder().encode(STREAM);

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

async function collect(chunks: Uint8Array[]): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const ev of readSse(streamOf(chunks))) out.push(ev);
  return out;
}

/** A small deterministic PRNG so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("renderer SSE decoder", () => {
  test("whole stream: comments skipped, fields parsed, CR/LF/CRLF line ends, last unterminated event dropped", async () => {
    assert.deepEqual(await collect([bytes]), EXPECTED);
  });

  test("every single split point gives the same events (including inside UTF-8 characters and CRLF)", async () => {
    for (let i = 1; i < bytes.length; i++) {
      assert.deepEqual(await collect([bytes.subarray(0, i), bytes.subarray(i)]), EXPECTED, `split at byte ${i}`);
    }
  });

  test("one byte at a time", async () => {
    const chunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    assert.deepEqual(await collect(chunks), EXPECTED);
  });

  test("random multi-way splits", async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = rng(seed);
      const chunks: Uint8Array[] = [];
      let at = 0;
      while (at < bytes.length) {
        const n = 1 + Math.floor(random() * 12);
        chunks.push(bytes.subarray(at, at + n));
        at += n;
      }
      assert.deepEqual(await collect(chunks), EXPECTED, `seed ${seed}`);
    }
  });

  test("a CR at the end of one piece and LF at the start of the next is one line break", () => {
    const p = new SseParser();
    assert.deepEqual(p.push("data: a\r"), []);
    assert.deepEqual(p.push("\n\r"), [{ event: "message", data: "a" }]);
    assert.deepEqual(p.push("\ndata: b\n\n"), [{ event: "message", data: "b" }]);
  });

  test("leaving the loop early cancels the underlying stream", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode("data: x\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const ev of readSse(body)) {
      assert.equal(ev.data, "x");
      break;
    }
    assert.equal(cancelled, true);
  });

  test("an error event becomes an ApiError with the server's words", () => {
    const err = errorFromEvent(
      JSON.parse(
        '{"error":{"message":"The server is busy","type":"requests","param":null,"code":"rate_limit_exceeded"}}',
      ),
    );
    assert.ok(err);
    assert.equal(err.status, 429);
    assert.equal(err.message, "The server is busy");
    assert.match(err.hint ?? "", /Try again/);
    assert.equal(errorFromEvent({ choices: [] }), null);
  });
});

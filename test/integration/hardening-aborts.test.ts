/**
 * 200 clients that go away at random points of a stream (before the headers, after the first
 * token, in the middle, near the end), on every generating route, several at once so some wait
 * in the queue: afterwards no sequence is busy, nothing is queued, the open handles are the ones
 * there were before, and the heap is back near its baseline. HEARTH_ABORTS sets the count.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { mapLimit, rawRequest } from "../helpers/raw-http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const MODEL = "stories260K";
const ABORTS = Number(process.env.HEARTH_ABORTS ?? 200);

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

let t: TestServer;
let conversationId = "";
before(async () => {
  t = await startTestServer({ parallel: 2, ctxSize: 1024, maxQueue: 64 });
  const res = await rawRequest(t.url, { path: "/api/conversations", body: JSON.stringify({ model: MODEL }) });
  conversationId = (JSON.parse(res.body) as { id: string }).id;
});
after(() => t.close());

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const ROUTES: { path: () => string; body: (i: number) => unknown }[] = [
  {
    path: () => "/v1/chat/completions",
    body: (i) => ({ model: MODEL, messages: [{ role: "user", content: `Story ${i}` }], max_tokens: 300, stream: true }),
  },
  {
    path: () => "/v1/completions",
    body: (i) => ({ model: MODEL, prompt: `Once upon a time ${i}`, max_tokens: 300, stream: true }),
  },
  {
    path: () => "/v1/responses",
    body: (i) => ({ model: MODEL, input: `Tell ${i}`, max_output_tokens: 300, stream: true }),
  },
  {
    path: () => "/v1/messages",
    body: (i) => ({ model: MODEL, messages: [{ role: "user", content: `Hi ${i}` }], max_tokens: 300, stream: true }),
  },
  {
    path: () => `/api/conversations/${conversationId}/messages`,
    body: (i) => ({ content: `Turn ${i}`, parentId: null, params: { maxTokens: 300 } }),
  },
  {
    path: () => "/v1/chat/completions",
    body: (i) => ({ model: MODEL, messages: [{ role: "user", content: `Plain ${i}` }], max_tokens: 300 }),
  },
];

/** Sends one request and destroys the connection at `point`: "request" (before any answer), or after `chunks` chunks of the body. */
function abortAt(
  url: string,
  path: string,
  body: unknown,
  point: { kind: "request"; delayMs: number } | { kind: "chunks"; chunks: number },
): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      method: "POST",
      path,
      agent: false,
      headers: { "content-type": "application/json" },
    });
    const done = (how: string) => {
      req.destroy();
      resolve(how);
    };
    req.on("error", () => resolve("error"));
    req.on("response", (res) => {
      let seen = 0;
      res.on("data", () => {
        if (point.kind === "chunks" && ++seen >= point.chunks) done(`after ${seen} chunks`);
      });
      res.on("end", () => resolve("finished before the abort"));
      res.on("error", () => undefined);
    });
    req.end(JSON.stringify(body));
    if (point.kind === "request") setTimeout(() => done("before the answer"), point.delayMs);
  });
}

/** Open handles by type, without the ones the test's own polling makes. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

async function settle(): Promise<{ busy: number; queued: number }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const stats = t.server.context.models.loaded()[0]!.stats;
    if ((stats.busy === 0 && stats.queued === 0) || Date.now() > deadline) return stats;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage().heapUsed;
}

test(`${ABORTS} aborts at random points leak no sequence, queue entry, handle or memory`, async (ctx) => {
  // Warm-up: every route once to the end, so caches and lazily built parts exist before the baseline.
  // One connection per request (no keep-alive pool), so no socket outlives its request.
  for (const [i, r] of ROUTES.entries()) await rawRequest(t.url, { path: r.path(), body: JSON.stringify(r.body(i)) });
  await settle();
  await new Promise((r) => setTimeout(r, 200));
  const baseHandles = handles();
  const baseHeap = await heapAfterGc();
  const rss0 = process.memoryUsage().rss;

  const rand = random(42);
  const plan = Array.from({ length: ABORTS }, (_, i) => {
    const route = ROUTES[Math.floor(rand() * ROUTES.length)]!;
    const r = rand();
    const point =
      r < 0.25
        ? ({ kind: "request", delayMs: Math.floor(rand() * 30) } as const)
        : ({ kind: "chunks", chunks: 1 + Math.floor(rand() * 40) } as const);
    return { route, point, i };
  });
  const outcomes: Record<string, number> = {};
  await mapLimit(plan, 6, async ({ route, point, i }) => {
    const how = await abortAt(t.url, route.path(), route.body(i), point);
    const key = how.startsWith("after") ? "during the stream" : how;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  });
  ctx.diagnostic(`aborts: ${JSON.stringify(outcomes)}`);

  const stats = await settle();
  assert.deepEqual(
    { busy: stats.busy, queued: stats.queued },
    { busy: 0, queued: 0 },
    "every sequence was released and the queue drained",
  );

  // Handles: sockets close and timers clear a moment after the last abort.
  let now = handles();
  const deadline = Date.now() + 10_000;
  while (JSON.stringify(now) !== JSON.stringify(baseHandles) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    now = handles();
  }
  assert.deepEqual(now, baseHandles, "the same open handles as before the aborts");

  const heap = await heapAfterGc();
  const growth = heap - baseHeap;
  ctx.diagnostic(
    `heap ${(baseHeap / 2 ** 20).toFixed(1)} -> ${(heap / 2 ** 20).toFixed(1)} MiB; rss ${(rss0 / 2 ** 20).toFixed(0)} -> ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
  // A leak of even a few KiB per aborted request would show as several MiB here.
  assert.ok(growth < 8 * 2 ** 20, `heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB over ${ABORTS} aborts`);

  // And the server still serves, on every sequence.
  const ok = await Promise.all(
    [0, 1].map((i) =>
      t.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: `after ${i}` }],
        max_tokens: 4,
      }),
    ),
  );
  for (const r of ok) assert.equal(r.usage?.completion_tokens, 4);
});

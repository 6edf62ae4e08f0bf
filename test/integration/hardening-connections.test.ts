/**
 * Connection-level abuse against a real server: oversized headers get 431, slow-drip clients are
 * closed once their headers or body take too long, hundreds of idle or half-open connections do
 * not starve real requests, and /health/live answers throughout. Latencies are measured and
 * reported (diagnostics), never asserted.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { createServer, type HearthServer, type HttpTimeouts } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";
import { testModelPath } from "../helpers/models.js";
import { rawRequest } from "../helpers/raw-http.js";

const MODEL = "stories260K";

async function start(
  httpTimeouts: Partial<HttpTimeouts>,
): Promise<{ server: HearthServer; url: string; port: number; close(): Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-conn-"));
  const config = loadConfig({
    env: {},
    overrides: {
      port: 0,
      dataDir,
      threads: 1,
      logLevel: "silent",
      model: await testModelPath(),
      parallel: 2,
      ctxSize: 512,
    },
  });
  const server = createServer(config, { logger: pino({ level: "silent" }), httpTimeouts });
  const url = await server.start();
  return {
    server,
    url,
    port: Number(new URL(url).port),
    async close() {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A raw socket that records what the server sent and when it closed the connection. */
function openSocket(port: number): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    socket.on("data", (d: Buffer) => (data += d.toString()));
    socket.on("error", () => undefined);
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.once("connect", () => resolve({ socket, received: () => data, closed }));
    socket.once("error", reject);
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function timeHealth(url: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await rawRequest(url, { path: "/health/live", timeoutMs: 20_000 });
    times.push(performance.now() - t0);
    assert.equal(res.status, 200);
  }
  return times;
}

/** Resolves true once `p` settles, false if `ms` passed first (a hang guard, not a timing assertion). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), guard]);
  } finally {
    clearTimeout(timer);
  }
}

describe("slow and oversized clients", () => {
  let s: Awaited<ReturnType<typeof start>>;
  before(async () => {
    s = await start({ headersMs: 1000, requestMs: 2000, checkIntervalMs: 100 });
  });
  after(() => s.close());

  test("headers over the limit get 431, and the server keeps serving", async () => {
    const one = await rawRequest(s.url, { path: "/health/live", headers: { "x-big": "a".repeat(20_000) } });
    assert.equal(one.status, 431);
    const many = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`x-h${i}`, "v".repeat(50)]));
    assert.equal((await rawRequest(s.url, { path: "/health/live", headers: many })).status, 431);
    assert.equal((await rawRequest(s.url, { path: "/v1/models" })).status, 200);
  });

  test("a client dripping its headers is closed with 408 once the headers timeout passes", async (t) => {
    const c = await openSocket(s.port);
    const request = `GET /health/live HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nX-Slow: ${"z".repeat(200)}`;
    const started = performance.now();
    let i = 0;
    const drip = setInterval(() => {
      if (i < request.length && !c.socket.destroyed) c.socket.write(request[i++]!);
    }, 50);
    try {
      assert.ok(await within(c.closed, 20_000), "the server closed the slow connection");
      t.diagnostic(`closed after ${Math.round(performance.now() - started)} ms (headers timeout 1000 ms)`);
      assert.match(c.received(), /^HTTP\/1\.1 408/);
      assert.ok(i < request.length, "closed before the client finished its headers");
    } finally {
      clearInterval(drip);
      c.socket.destroy();
    }
  });

  test("a client dripping its body is closed once the request timeout passes, and no generation starts", async (t) => {
    const c = await openSocket(s.port);
    const body = JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: "x".repeat(5000) }],
      max_tokens: 2,
    });
    c.socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const started = performance.now();
    let i = 0;
    const drip = setInterval(() => {
      if (i < body.length && !c.socket.destroyed) c.socket.write(body[i++]!);
    }, 20);
    try {
      assert.ok(await within(c.closed, 20_000), "the server closed the slow upload");
      t.diagnostic(`closed after ${Math.round(performance.now() - started)} ms (request timeout 2000 ms)`);
      assert.ok(i < body.length);
      assert.doesNotMatch(c.received(), /chat\.completion/);
    } finally {
      clearInterval(drip);
      c.socket.destroy();
    }
  });

  test("a connection that never sends anything is closed too", async () => {
    const c = await openSocket(s.port);
    try {
      assert.ok(await within(c.closed, 20_000));
    } finally {
      c.socket.destroy();
    }
  });
});

describe("hundreds of idle connections do not starve real requests", () => {
  let s: Awaited<ReturnType<typeof start>>;
  const sockets: net.Socket[] = [];
  before(async () => {
    // Production limits: idle connections stay open for the whole test.
    s = await start({});
  });
  after(async () => {
    for (const k of sockets) k.destroy();
    await s.close();
  });

  test("with 600 idle and half-sent connections, 20 dripping clients and full generation load, everything is answered", async (t) => {
    const baseline = await timeHealth(s.url, 30);
    // 300 that sent nothing, 300 stuck in the middle of their headers.
    for (let i = 0; i < 600; i++) {
      const c = await openSocket(s.port);
      if (i % 2 === 1) c.socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Ty`);
      sockets.push(c.socket);
    }
    const drips = await Promise.all(Array.from({ length: 20 }, () => openSocket(s.port)));
    for (const d of drips) {
      d.socket.write(`GET /health/live HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n`);
      sockets.push(d.socket);
    }
    const drip = setInterval(() => {
      for (const d of drips) if (!d.socket.destroyed) d.socket.write("X-A: b\r\n");
    }, 100);
    try {
      const idle = await timeHealth(s.url, 30);
      // Generation on every sequence, with a queue behind them.
      const generations = Array.from({ length: 6 }, (_, i) =>
        rawRequest(s.url, {
          path: "/v1/chat/completions",
          body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: `Story ${i}` }], max_tokens: 200 }),
          timeoutMs: 60_000,
        }),
      );
      const loaded = await timeHealth(s.url, 30);
      const answers = await Promise.all(generations);
      for (const a of answers) assert.equal(a.status, 200, a.body);
      const models = await rawRequest(s.url, { path: "/v1/models" });
      assert.equal(models.status, 200);
      assert.equal(
        sockets.filter((k) => k.destroyed).length,
        0,
        "the idle connections were still open: the server served around them",
      );
      const fmt = (v: number[]) =>
        `p50 ${percentile(v, 50).toFixed(1)} ms, p95 ${percentile(v, 95).toFixed(1)} ms, max ${Math.max(...v).toFixed(1)} ms`;
      t.diagnostic(`/health/live alone: ${fmt(baseline)}`);
      t.diagnostic(`/health/live with 620 idle/slow connections: ${fmt(idle)}`);
      t.diagnostic(`/health/live with those and 6 generations on 2 sequences: ${fmt(loaded)}`);
    } finally {
      clearInterval(drip);
    }
  });
});

/**
 * Bad input, limits, cancellation and shutdown against a real server: each bad request gets the
 * right status and an OpenAI-shaped error, and the server keeps serving afterwards.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { after, before, describe, test } from "node:test";
import { metricValue, startTestServer, type TestServer } from "../helpers/server.js";

const MODEL = "stories260K";

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Raw HTTP, so tests can send what fetch refuses to (bad Host headers, broken JSON). */
function raw(
  url: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }),
        );
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function assertOpenAIError(res: RawResponse, status: number, param?: string | null) {
  assert.equal(res.status, status, res.body);
  const body = JSON.parse(res.body) as {
    error: { message: string; type: string; param: string | null; code: string | null };
  };
  assert.equal(typeof body.error.message, "string");
  assert.ok(body.error.message.length > 10, "the message says what is wrong");
  assert.equal(typeof body.error.type, "string");
  assert.ok("param" in body.error && "code" in body.error);
  if (param !== undefined) assert.equal(body.error.param, param);
  return body.error;
}

const chat = (extra: Record<string, unknown>) =>
  JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 3, ...extra });

describe("bad input gets a clear OpenAI error and the server keeps serving", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 2, bodyLimit: 64 * 1024 });
  });
  after(() => t.close());

  const cases: {
    name: string;
    path?: string;
    body: string | Buffer | (() => string);
    headers?: Record<string, string>;
    status: number;
    param?: string | null;
    code?: string;
  }[] = [
    { name: "malformed JSON", body: '{"model": "x", "messages": [', status: 400, code: "invalid_json" },
    {
      name: "messages of the wrong type",
      body: JSON.stringify({ model: MODEL, messages: "hello" }),
      status: 400,
      param: "messages",
    },
    { name: "missing messages", body: JSON.stringify({ model: MODEL }), status: 400, param: "messages" },
    { name: "empty messages", body: JSON.stringify({ model: MODEL, messages: [] }), status: 400, param: "messages" },
    {
      name: "unknown role",
      body: JSON.stringify({ model: MODEL, messages: [{ role: "wizard", content: "x" }] }),
      status: 400,
      param: "messages.0.role",
    },
    { name: "negative max_tokens", body: chat({ max_tokens: -5 }), status: 400, param: "max_tokens" },
    { name: "fractional max_tokens", body: chat({ max_tokens: 1.5 }), status: 400, param: "max_tokens" },
    { name: "temperature out of range", body: chat({ temperature: 7 }), status: 400, param: "temperature" },
    { name: "temperature as a string", body: chat({ temperature: "hot" }), status: 400, param: "temperature" },
    { name: "n above maxN", body: chat({ n: 9 }), status: 400, param: "n" },
    { name: "top_logprobs without logprobs", body: chat({ top_logprobs: 2 }), status: 400, param: "top_logprobs" },
    {
      name: "image content part",
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:," } }] }],
      }),
      status: 400,
      param: "messages.0.content.0.type",
    },
    {
      name: "orphan tool message",
      body: JSON.stringify({ model: MODEL, messages: [{ role: "tool", tool_call_id: "x", content: "1" }] }),
      status: 400,
      param: "messages.0.tool_call_id",
    },
    { name: "tool_choice without tools", body: chat({ tool_choice: "required" }), status: 400, param: "tool_choice" },
    {
      name: "unknown model",
      body: JSON.stringify({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }),
      status: 404,
      param: "model",
      code: "model_not_found",
    },
    {
      name: "prompt longer than the context",
      body: () => chat({ messages: [{ role: "user", content: "once upon a time ".repeat(3000) }] }),
      status: 400,
      param: "messages",
      code: "context_length_exceeded",
    },
    {
      name: "body over the limit",
      body: () => chat({ messages: [{ role: "user", content: "x".repeat(100 * 1024) }] }),
      status: 413,
    },
    {
      name: "text/plain body (a browser's simple request)",
      body: chat({}),
      headers: { "content-type": "text/plain" },
      status: 415,
    },
    {
      name: "bad Host (DNS rebinding)",
      body: chat({}),
      headers: { host: "attacker.example:80" },
      status: 403,
      code: "invalid_host",
    },
    {
      name: "foreign Origin",
      body: chat({}),
      headers: { origin: "https://evil.example" },
      status: 403,
      code: "invalid_origin",
    },
    {
      name: "completions: prompt missing",
      path: "/v1/completions",
      body: JSON.stringify({ model: MODEL }),
      status: 400,
      param: "prompt",
    },
    {
      name: "embeddings: wrong input type",
      path: "/v1/embeddings",
      body: JSON.stringify({ model: MODEL, input: { a: 1 } }),
      status: 400,
      param: "input",
    },
    { name: "unknown path", path: "/v1/nothing-here", body: chat({}), status: 404 },
    // A body that is not what its Content-Encoding says was a 500 with an error log.
    {
      name: "Content-Encoding gzip on a plain JSON body",
      body: chat({}),
      headers: { "content-encoding": "gzip" },
      status: 400,
      code: "invalid_content_encoding",
    },
    {
      name: "gzip body cut short",
      body: zlib.gzipSync(chat({})).subarray(0, 20),
      headers: { "content-encoding": "gzip" },
      status: 400,
      code: "invalid_content_encoding",
    },
    {
      name: "Content-Encoding br on bytes that are not brotli",
      body: Buffer.from("not brotli at all, just text"),
      headers: { "content-encoding": "br" },
      status: 400,
      code: "invalid_content_encoding",
    },
    {
      name: "Content-Encoding deflate on /api",
      path: "/api/conversations",
      body: JSON.stringify({ title: "x" }),
      headers: { "content-encoding": "deflate" },
      status: 400,
      code: "invalid_content_encoding",
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const body = typeof c.body === "function" ? c.body() : c.body;
      const res = await raw(t.url, "POST", c.path ?? "/v1/chat/completions", body, c.headers);
      const error = assertOpenAIError(res, c.status, c.param);
      if (c.code) assert.equal(error.code, c.code);
      // ...and the server still serves a good request.
      const ok = await t.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 2,
      });
      assert.equal(ok.choices.length, 1);
    });
  }

  test("a wrong method gets 405 with Allow, in the OpenAI error shape", async () => {
    const res = await raw(t.url, "DELETE", "/v1/chat/completions");
    const error = assertOpenAIError(res, 405);
    assert.equal(error.code, "method_not_allowed");
    assert.equal(res.headers.allow, "POST");
    assert.equal((await raw(t.url, "POST", "/v1/models", "{}")).headers.allow, "GET, HEAD");
  });

  test("no CORS headers for an origin that is not allowed", async () => {
    const res = await raw(t.url, "OPTIONS", "/v1/chat/completions", undefined, {
      origin: "https://evil.example",
      "access-control-request-method": "POST",
    });
    assert.equal(res.headers["access-control-allow-origin"], undefined);
  });
});

describe("limits, cancellation and the queue", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 1, maxQueue: 1 });
  });
  after(() => t.close());

  test("a cancelled stream frees its sequence and the queued request starts; a full queue gives 429 with Retry-After", async () => {
    const long = new AbortController();
    const first = await t.client.chat.completions.create(
      { model: MODEL, messages: [{ role: "user", content: "A long story" }], max_tokens: 1900, stream: true },
      { signal: long.signal },
    );
    const iterator = first[Symbol.asyncIterator]();
    await iterator.next(); // the sequence is now busy
    assert.equal(await metricValue(t.url, "hearth_busy_sequences"), 1);

    const queued = t.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Next" }],
      max_tokens: 5,
    });
    while ((await metricValue(t.url, "hearth_queue_depth")) < 1) await new Promise((r) => setTimeout(r, 10));

    const full = await raw(t.url, "POST", "/v1/chat/completions", chat({}));
    assertOpenAIError(full, 429);
    assert.ok(Number(full.headers["retry-after"]) >= 1, "429 carries Retry-After");

    long.abort();
    const done = await queued;
    assert.equal(done.usage?.completion_tokens, 5);
    assert.equal(await metricValue(t.url, "hearth_queue_depth"), 0);
    assert.equal(await metricValue(t.url, "hearth_busy_sequences"), 0);
    // The aborted stream did not run on to its 1900 tokens in the background.
    const generated = await metricValue(t.url, "hearth_completion_tokens_total");
    assert.ok(generated < 100, `only ${generated} tokens were generated`);
  });
});

describe("API key", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ apiKey: "s3cret-key-123" });
  });
  after(() => t.close());

  test("/v1 requires the key; health stays open", async () => {
    assertOpenAIError(await raw(t.url, "GET", "/v1/models"), 401);
    assertOpenAIError(await raw(t.url, "GET", "/v1/models", undefined, { authorization: "Bearer wrong-key-xyz" }), 401);
    assertOpenAIError(await raw(t.url, "GET", "/api/conversations"), 401);
    assert.equal((await raw(t.url, "GET", "/health/live")).status, 200);
    assert.equal(
      (await raw(t.url, "GET", "/v1/models", undefined, { authorization: "Bearer s3cret-key-123" })).status,
      200,
    );
    const models = await t.client.models.list(); // the client sends the key
    assert.equal(models.data.length, 1);
  });
});

describe("an error after the stream started", () => {
  let t: TestServer;
  before(async () => {
    const { modelPath } = await import("../helpers/models.js");
    t = await startTestServer({
      model: await modelPath("bench-11M-q8_0.gguf"),
      parallel: 1,
      requestTimeout: 1,
      ctxSize: 2048,
    });
  });
  after(() => t.close());

  test("is sent as a final SSE error event and the stream closes cleanly", async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "bench-11M-q8_0",
        messages: [{ role: "user", content: "go" }],
        max_tokens: 2000,
        stream: true,
      }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    const events = text.split("\n\n").filter(Boolean);
    const last = events.at(-1) ?? "";
    assert.match(last, /^data: \{"error":/);
    const error = (JSON.parse(last.slice(6)) as { error: { code: string } }).error;
    assert.equal(error.code, "timeout");
    assert.ok(events.length > 2, "text was streamed before the error");
    // The server keeps serving.
    const ok = await t.client.chat.completions.create({
      model: "bench-11M-q8_0",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    });
    assert.equal(ok.usage?.completion_tokens, 3);
  });
});

describe("the request timeout, the same on every route (one generation pipeline)", () => {
  let t: TestServer;
  before(async () => {
    const { modelPath } = await import("../helpers/models.js");
    t = await startTestServer({
      model: await modelPath("bench-11M-q8_0.gguf"),
      parallel: 1,
      requestTimeout: 1,
      ctxSize: 2048,
    });
  });
  after(() => t.close());

  const long = { model: "bench-11M-q8_0", max_tokens: 2000 };
  const post = (path: string, body: unknown) =>
    fetch(`${t.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const lastEvent = (text: string) => text.split("\n\n").filter(Boolean).at(-1) ?? "";

  test("a UI chat that runs past --request-timeout ends with /v1's final timeout error event", async () => {
    const conversation = (await (await post("/api/conversations", { model: "bench-11M-q8_0" })).json()) as {
      id: string;
    };
    const res = await post(`/api/conversations/${conversation.id}/messages`, {
      content: "go",
      params: { maxTokens: 2000 },
    });
    assert.equal(res.status, 200);
    const last = lastEvent(await res.text());
    assert.match(last, /^data: \{"error":/);
    const error = (JSON.parse(last.slice(6)) as { error: { code: string; type: string } }).error;
    assert.deepEqual([error.code, error.type], ["timeout", "server_error"]);
    // The reply that was cut off is in the history, not lost and not marked complete.
    const detail = (await (await fetch(`${t.url}/api/conversations/${conversation.id}`)).json()) as {
      messages: { role: string; status: string; content: string }[];
    };
    const reply = detail.messages.find((m) => m.role === "assistant");
    assert.ok(reply && reply.status !== "complete" && reply.content.length > 0, JSON.stringify(reply));
  });

  test("not streamed: /v1 and the UI chat both answer 504 with code 'timeout'", async () => {
    const v1 = await post("/v1/chat/completions", { ...long, messages: [{ role: "user", content: "go" }] });
    assert.equal(v1.status, 504);
    assert.equal(((await v1.json()) as { error: { code: string } }).error.code, "timeout");
    const conversation = (await (await post("/api/conversations", { model: "bench-11M-q8_0" })).json()) as {
      id: string;
    };
    const ui = await post(`/api/conversations/${conversation.id}/messages`, {
      content: "go",
      params: { maxTokens: 2000 },
      stream: false,
    });
    assert.equal(ui.status, 504);
    assert.equal(((await ui.json()) as { error: { code: string } }).error.code, "timeout");
  });

  test("/v1/messages and /v1/responses end a timed-out stream with their own error events", async () => {
    const messages = await post("/v1/messages", { ...long, stream: true, messages: [{ role: "user", content: "go" }] });
    const anthropic = lastEvent(await messages.text());
    assert.match(anthropic, /^event: error\ndata: /);
    const body = JSON.parse(anthropic.split("data: ")[1]!) as { type: string; error: { type: string } };
    assert.equal(body.type, "error");
    const responses = await post("/v1/responses", {
      model: long.model,
      max_output_tokens: 2000,
      stream: true,
      input: "go",
    });
    const openai = lastEvent(await responses.text());
    assert.match(openai, /^event: error\ndata: /);
    assert.equal((JSON.parse(openai.split("data: ")[1]!) as { code: string }).code, "timeout");
  });
});

describe("not ready, then graceful shutdown", () => {
  test("on close, a running stream ends and new connections are refused", async () => {
    const t = await startTestServer({ shutdownGrace: 0, parallel: 1 });
    const stream = await t.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "A story" }],
      max_tokens: 1900,
      stream: true,
    });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    const closing = t.server.close();
    let ended: boolean;
    try {
      while (!(await it.next()).done) {
        /* drain */
      }
      ended = true;
    } catch {
      ended = true; // an error event (shutting down) also ends it
    }
    await closing;
    assert.ok(ended);
    await assert.rejects(fetch(`${t.url}/health/live`));
  });

  test("a server whose model is still loading answers 503 on /v1 and /health/ready", async () => {
    const { createServer } = await import("../../server/app.js");
    const { loadConfig } = await import("../../server/config.js");
    const { pino } = await import("pino");
    // A folder of its own: a fixed path would open whatever history another run left there.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-not-ready-"));
    const server = createServer(loadConfig({ env: {}, overrides: { port: 0, dataDir } }), {
      logger: pino({ level: "silent" }),
    });
    const res = await new Promise<{ status: number }>((resolve) => {
      // Use Express directly through an ephemeral listener without start(): ready is false.
      const s = server.app.listen(0, "127.0.0.1", async () => {
        const port = (s.address() as { port: number }).port;
        const a = await fetch(`http://127.0.0.1:${port}/v1/models`);
        const b = await fetch(`http://127.0.0.1:${port}/health/ready`);
        s.close();
        resolve({ status: a.status === 503 && b.status === 503 ? 503 : a.status });
      });
    });
    assert.equal(res.status, 503);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
});

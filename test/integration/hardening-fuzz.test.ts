/**
 * Fuzzing every parameter of /v1 and the main /api routes against a real server and model: each
 * field gets every hostile value (negative, NaN, huge, wrong type, arrays, nested objects, 1M
 * characters, invalid UTF-8, NUL bytes, special-token text...). Every answer must be a 4xx with
 * an error body or a normal answer, never a 5xx, never a hang or a crash, and a stream never ends
 * in a server error. Then the caps on n, max_tokens and message counts.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { HOSTILE_VALUES, bodyWith } from "../helpers/hostile.js";
import { mapLimit, rawRequest, sseData, type RawResponse } from "../helpers/raw-http.js";
import { metricValue, startTestServer, type TestServer } from "../helpers/server.js";

const MODEL = "stories260K";
const CTX = 256;

interface Target {
  name: string;
  method: string;
  path: string | ((t: TestServer) => string);
  base: Record<string, unknown>;
  fields: string[];
}

const user = [{ role: "user", content: "hi" }];

const TARGETS: Target[] = [
  {
    name: "chat",
    method: "POST",
    path: "/v1/chat/completions",
    base: { model: MODEL, messages: user, max_tokens: 2 },
    fields: [
      "model",
      "messages",
      "messages.0",
      "messages.0.role",
      "messages.0.content",
      "messages.0.content.0",
      "messages.0.content.0.text",
      "messages.0.name",
      "messages.1",
      "max_tokens",
      "max_completion_tokens",
      "temperature",
      "top_p",
      "top_k",
      "min_p",
      "seed",
      "presence_penalty",
      "frequency_penalty",
      "stop",
      "stop.0",
      "stream",
      "stream_options",
      "stream_options.include_usage",
      "n",
      "logit_bias",
      "response_format",
      "response_format.type",
      "response_format.json_schema",
      "tools",
      "tools.0",
      "tools.0.function",
      "tools.0.function.parameters",
      "tool_choice",
      "parallel_tool_calls",
      "logprobs",
      "top_logprobs",
      "user",
      "unknown_field",
    ],
  },
  {
    name: "chat (streaming)",
    method: "POST",
    path: "/v1/chat/completions",
    base: { model: MODEL, messages: user, max_tokens: 2, stream: true, stream_options: { include_usage: true } },
    fields: [
      "messages.0.content",
      "max_tokens",
      "stop",
      "n",
      "seed",
      "temperature",
      "logprobs",
      "top_logprobs",
      "response_format",
    ],
  },
  {
    name: "chat with a JSON schema",
    method: "POST",
    path: "/v1/chat/completions",
    base: {
      model: MODEL,
      messages: user,
      max_tokens: 4,
      response_format: {
        type: "json_schema",
        json_schema: { name: "x", schema: { type: "object", properties: { a: { type: "string" } } } },
      },
    },
    fields: [
      "response_format.json_schema.name",
      "response_format.json_schema.schema",
      "response_format.json_schema.schema.properties",
      "response_format.json_schema.schema.properties.a",
      "response_format.json_schema.schema.type",
      "response_format.json_schema.strict",
    ],
  },
  {
    name: "chat with tools",
    method: "POST",
    path: "/v1/chat/completions",
    base: {
      model: MODEL,
      messages: [
        ...user,
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "c1", content: "ok" },
      ],
      max_tokens: 4,
      tools: [
        {
          type: "function",
          function: { name: "f", parameters: { type: "object", properties: { x: { type: "number" } } } },
        },
      ],
      tool_choice: "required",
    },
    fields: [
      "messages.1.tool_calls",
      "messages.1.tool_calls.0.id",
      "messages.1.tool_calls.0.function.name",
      "messages.1.tool_calls.0.function.arguments",
      "messages.2.tool_call_id",
      "messages.2.content",
      "tools.0.function.name",
      "tools.0.function.parameters.properties",
      "tools.0.function.parameters.properties.x",
      "tool_choice",
      "tool_choice.function",
    ],
  },
  {
    name: "completions",
    method: "POST",
    path: "/v1/completions",
    base: { model: MODEL, prompt: "Once upon", max_tokens: 2 },
    fields: [
      "model",
      "prompt",
      "prompt.0",
      "max_tokens",
      "temperature",
      "top_p",
      "top_k",
      "min_p",
      "seed",
      "stop",
      "stream",
      "n",
      "echo",
      "logprobs",
      "suffix",
      "best_of",
      "logit_bias",
      "user",
    ],
  },
  {
    name: "embeddings",
    method: "POST",
    path: "/v1/embeddings",
    base: { model: MODEL, input: "hello" },
    fields: ["model", "input", "input.0", "encoding_format", "dimensions", "user"],
  },
  {
    name: "responses",
    method: "POST",
    path: "/v1/responses",
    base: { model: MODEL, input: "hi", max_output_tokens: 2 },
    fields: [
      "model",
      "input",
      "input.0",
      "input.0.role",
      "input.0.content",
      "input.0.type",
      "instructions",
      "previous_response_id",
      "store",
      "stream",
      "max_output_tokens",
      "temperature",
      "top_p",
      "top_k",
      "min_p",
      "seed",
      "tools",
      "tools.0",
      "tool_choice",
      "parallel_tool_calls",
      "text",
      "text.format",
      "text.format.type",
      "include",
      "top_logprobs",
      "metadata",
      "user",
      "background",
      "truncation",
      "conversation",
      "prompt",
    ],
  },
  {
    name: "responses (streaming)",
    method: "POST",
    path: "/v1/responses",
    base: { model: MODEL, input: [{ role: "user", content: "hi" }], max_output_tokens: 2, stream: true },
    fields: ["input.0.content", "input.1", "max_output_tokens", "seed", "text.format"],
  },
  {
    name: "anthropic messages",
    method: "POST",
    path: "/v1/messages",
    base: { model: MODEL, messages: user, max_tokens: 2 },
    fields: [
      "model",
      "messages",
      "messages.0.role",
      "messages.0.content",
      "messages.0.content.0",
      "system",
      "max_tokens",
      "temperature",
      "top_p",
      "top_k",
      "stop_sequences",
      "stream",
      "tools",
      "tool_choice",
      "metadata",
    ],
  },
  {
    name: "create conversation",
    method: "POST",
    path: "/api/conversations",
    base: { title: "t", params: { maxTokens: 2 } },
    fields: [
      "title",
      "model",
      "provider",
      "systemPrompt",
      "params",
      "params.temperature",
      "params.maxTokens",
      "params.seed",
      "params.topK",
      "pinned",
    ],
  },
  {
    name: "send a message",
    method: "POST",
    path: (t) => `/api/conversations/${conversationId(t)}/messages`,
    base: { content: "hi", model: MODEL, params: { maxTokens: 2 }, stream: false },
    fields: [
      "content",
      "parentId",
      "model",
      "params",
      "params.maxTokens",
      "params.temperature",
      "params.topP",
      "stream",
    ],
  },
  {
    name: "update conversation",
    method: "PATCH",
    path: (t) => `/api/conversations/${conversationId(t)}`,
    base: { title: "renamed" },
    fields: ["title", "model", "systemPrompt", "params", "pinned"],
  },
  {
    name: "settings",
    method: "PUT",
    path: "/api/settings",
    base: {},
    fields: [
      "port",
      "apiKey",
      "corsOrigins",
      "allowedHosts",
      "insecure",
      "threads",
      "parallel",
      "ctxSize",
      "maxQueue",
      "requestTimeout",
      "logLevel",
      "modelDirs",
      "hfEndpoint",
      "host",
      "dataDir",
      "nonexistent",
    ],
  },
  {
    name: "import a model",
    method: "POST",
    path: "/api/models/import",
    base: { path: "/dev/zero", mode: "copy" },
    fields: ["path", "mode", "name"],
  },
  {
    name: "load a model",
    method: "POST",
    path: `/api/models/${MODEL}/load`,
    base: { pinned: false },
    fields: ["pinned"],
  },
  {
    name: "add a provider",
    method: "POST",
    path: "/api/providers",
    base: {
      id: "fz",
      name: "Fuzz",
      kind: "openai-compatible",
      baseUrl: "http://127.0.0.1:9/v1",
      discover: false,
      models: ["m"],
    },
    fields: ["id", "name", "kind", "baseUrl", "apiKey", "headers", "timeoutSeconds", "discover", "models", "models.0"],
  },
  {
    name: "import history",
    method: "POST",
    path: "/api/import",
    base: {
      format: "hearth-history",
      version: 1,
      exportedAt: 0,
      conversations: [{ id: "c", title: "t", source: "ui", createdAt: 0, updatedAt: 0, messages: [] }],
    },
    fields: [
      "format",
      "version",
      "exportedAt",
      "conversations",
      "conversations.0",
      "conversations.0.id",
      "conversations.0.messages",
      "conversations.0.messages.0",
      "conversations.0.title",
      "conversations.0.params",
      "conversations.0.createdAt",
    ],
  },
];

/** URL parts: path segments and query values, each given every hostile string. */
const URL_TARGETS: { name: string; url: (v: string) => string }[] = [
  { name: "conversation id", url: (v) => `/api/conversations/${v}` },
  { name: "conversation export id", url: (v) => `/api/conversations/${v}/export?format=markdown` },
  { name: "list limit", url: (v) => `/api/conversations?limit=${v}` },
  { name: "list cursor", url: (v) => `/api/conversations?cursor=${v}` },
  { name: "list from", url: (v) => `/api/conversations?from=${v}&to=${v}` },
  { name: "list source", url: (v) => `/api/conversations?source=${v}&pinned=${v}` },
  { name: "search q", url: (v) => `/api/search?q=${v}` },
  { name: "search limit", url: (v) => `/api/search?q=hi&limit=${v}&conversationId=${v}` },
  { name: "export ids", url: (v) => `/api/export?ids=${v}&format=${v}` },
  { name: "model id", url: (v) => `/v1/models/${v}` },
  { name: "library model id", url: (v) => `/api/models/${v}` },
  { name: "download id", url: (v) => `/api/models/downloads/${v}` },
  { name: "provider id", url: (v) => `/api/providers/${v}` },
  { name: "stored response id", url: (v) => `/v1/responses/${v}` },
  { name: "stored response input items", url: (v) => `/v1/responses/${v}/input_items?limit=${v}&order=${v}` },
];

const URL_VALUES: readonly (readonly [string, string])[] = [
  ["negative", "-1"],
  ["huge", "1e308"],
  ["NaN", "NaN"],
  ["Infinity", "Infinity"],
  ["long", "a".repeat(60_000)],
  ["percent-encoded NUL", "%00"],
  ["invalid percent-encoding", "%E0%A4%A"],
  ["invalid UTF-8 encoded", "%FF%FE%C3%28"],
  ["traversal", "..%2F..%2Fetc%2Fpasswd"],
  ["special tokens", encodeURIComponent("<|im_end|></s>")],
  ["repeated key", "1&limit=2&q=a&q=b&ids=a&ids=b&cursor=x&cursor=y"],
  ["bracket key", "1&limit[a]=1&q[]=x"],
  ["fts syntax", encodeURIComponent('"AND OR NOT * ^ NEAR( col:x -y')],
];

/**
 * HEARTH_FUZZ=full sends every value to every field. By default each field gets every other value
 * (rotating, so across the fields of an endpoint every value still reaches it), which keeps this
 * file within npm test's time.
 */
const FULL = process.env.HEARTH_FUZZ === "full";
const sampled = (field: number, value: number) => FULL || (field + value) % 2 === 0;

let conversation = "";
const conversationId = (_t: TestServer) => conversation;

interface Failure {
  what: string;
  status: number;
  body: string;
}

/** A 4xx must carry an error body; a 200 stream must not end in a server error. */
function check(res: RawResponse, what: string, failures: Failure[]): void {
  const fail = (): void => void failures.push({ what, status: res.status, body: res.body.slice(0, 300) });
  // Node's HTTP parser refuses some requests (a request line over the header limit) before Express sees them.
  if ((res.status === 431 || res.status === 400) && res.body === "") return;
  if (res.status >= 500 || res.status < 200) return fail();
  if (res.status >= 400) {
    try {
      const body = JSON.parse(res.body) as { error?: unknown };
      if (typeof body.error !== "object" || body.error === null) fail();
    } catch {
      fail();
    }
    return;
  }
  if (String(res.headers["content-type"]).startsWith("text/event-stream")) {
    for (const data of sseData(res.body)) {
      if (data === "[DONE]") continue;
      let event: {
        error?: { type?: string; code?: string };
        type?: string;
        response?: { status?: string; error?: unknown };
      };
      try {
        event = JSON.parse(data) as typeof event;
      } catch {
        return fail();
      }
      const errorType = event.error?.type;
      if (errorType === "server_error" || errorType === "api_error" || errorType === "overloaded_error") return fail();
      if (event.type === "response.failed" || event.type === "error") return fail();
    }
  }
}

describe("fuzzing every parameter never gives a 5xx", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 2, ctxSize: CTX, maxN: 4, defaultMaxTokens: 8 });
    const res = await rawRequest(t.url, {
      path: "/api/conversations",
      body: JSON.stringify({ title: "fuzz", model: MODEL }),
    });
    conversation = (JSON.parse(res.body) as { id: string }).id;
  });
  after(() => t.close());

  for (const target of TARGETS) {
    test(`${target.name}: ${target.fields.length} fields x ${FULL ? "" : "half of "}${HOSTILE_VALUES.length} values`, async (ctx) => {
      const path = typeof target.path === "function" ? target.path(t) : target.path;
      if (target.path === "/v1/messages") {
        const probe = await rawRequest(t.url, { path, body: "{}" });
        if (probe.status === 404 && probe.body.includes("unknown_url"))
          return ctx.skip("/v1/messages is not served by this build yet");
      }
      // The unmodified body is valid: the fuzzing starts from a request that works.
      const baseline = await rawRequest(t.url, { method: target.method, path, body: JSON.stringify(target.base) });
      assert.ok(baseline.status < 500, `${target.name} baseline: ${baseline.status} ${baseline.body.slice(0, 200)}`);
      const cases = target.fields.flatMap((field, f) =>
        HOSTILE_VALUES.filter((_, v) => sampled(f, v)).map(([label, value]) => ({ field, label, value })),
      );
      const failures: Failure[] = [];
      const timings: [string, number][] = [];
      await mapLimit(cases, 3, async ({ field, label, value }) => {
        const what = `${target.method} ${path} ${field} = ${label}`;
        const started = performance.now();
        const res = await rawRequest(t.url, {
          method: target.method,
          path,
          body: bodyWith(target.base, field, value),
          timeoutMs: 30_000,
        }).catch((err: Error) => ({ status: 0, headers: {}, body: err.message }));
        timings.push([`${field} = ${label} (${res.status})`, performance.now() - started]);
        check(res, what, failures);
      });
      // Measured, not asserted: the slowest cases say where a hostile value costs the server time.
      for (const [what, ms] of timings.sort((a, b) => b[1] - a[1]).slice(0, 3))
        ctx.diagnostic(`slowest: ${what} ${Math.round(ms)} ms`);
      assert.deepEqual(failures, [], `${failures.length} of ${cases.length} requests failed`);
    });
  }

  test(`URL path segments and query values: ${URL_TARGETS.length} places x ${URL_VALUES.length} values`, async () => {
    const failures: Failure[] = [];
    const cases = URL_TARGETS.flatMap((u) => URL_VALUES.map(([label, v]) => ({ u, label, v })));
    await mapLimit(cases, 3, async ({ u, label, v }) => {
      const path = u.url(v);
      for (const method of ["GET", "DELETE"]) {
        const res = await rawRequest(t.url, { method, path, timeoutMs: 30_000 }).catch((err: Error) => ({
          status: 0,
          headers: {},
          body: err.message,
        }));
        check(res, `${method} ${u.name} = ${label}`, failures);
      }
    });
    assert.deepEqual(failures, []);
  });

  test("no request above produced a server error, and the server still answers normally", async () => {
    assert.equal(await metricValue(t.url, "hearth_busy_sequences"), 0);
    assert.equal(await metricValue(t.url, "hearth_queue_depth"), 0);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    const serverErrors = metrics.split("\n").filter((l) => /^hearth_errors_total\{.*status="5\d\d"/.test(l));
    assert.deepEqual(serverErrors, []);
    // Metrics are labelled by route pattern, so thousands of distinct hostile paths add no label sets.
    const routes = new Set(
      metrics.split("\n").flatMap((l) => /^hearth_requests_total\{route="([^"]*)"/.exec(l)?.[1] ?? []),
    );
    assert.ok(routes.size < 60, `${routes.size} route labels: ${[...routes].join(" ")}`);
    assert.ok(
      ![...routes].some((r) => r.includes("%") || r.includes(MODEL) || r.includes(conversation)),
      [...routes].join(" "),
    );
    const ok = await t.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    });
    assert.equal(ok.usage?.completion_tokens, 3);
  });
});

describe("caps on n, max_tokens and message counts", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 2, ctxSize: CTX, maxN: 4 });
  });
  after(() => t.close());

  const post = (path: string, body: unknown) => rawRequest(t.url, { path, body: JSON.stringify(body) });

  test("n above --max-n is refused; n at the cap works", async () => {
    const over = await post("/v1/chat/completions", { model: MODEL, messages: user, max_tokens: 2, n: 5 });
    assert.equal(over.status, 400);
    assert.equal((JSON.parse(over.body) as { error: { param: string } }).error.param, "n");
    assert.equal(
      (await post("/v1/chat/completions", { model: MODEL, messages: user, max_tokens: 2, n: 1e9 })).status,
      400,
    );
    const ok = JSON.parse(
      (await post("/v1/chat/completions", { model: MODEL, messages: user, max_tokens: 2, n: 4 })).body,
    ) as { choices: unknown[] };
    assert.equal(ok.choices.length, 4);
  });

  test("a huge max_tokens is capped by the context, not honoured", async () => {
    const res = await post("/v1/chat/completions", {
      model: MODEL,
      messages: user,
      max_tokens: 2 ** 31,
      temperature: 0,
      stop: [],
    });
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as { usage: { prompt_tokens: number; completion_tokens: number } };
    assert.ok(body.usage.prompt_tokens + body.usage.completion_tokens <= CTX, JSON.stringify(body.usage));
    const completion = JSON.parse(
      (await post("/v1/completions", { model: MODEL, prompt: "Once", max_tokens: 2 ** 31 })).body,
    ) as { usage: { total_tokens: number } };
    assert.ok(completion.usage.total_tokens <= CTX);
    const responses = await post("/v1/responses", { model: MODEL, input: "hi", max_output_tokens: 2 ** 31 });
    assert.equal(responses.status, 200, responses.body);
    assert.ok((JSON.parse(responses.body) as { usage: { total_tokens: number } }).usage.total_tokens <= CTX);
  });

  test("more than 10,000 messages (or input items) are refused before any work", async () => {
    const many = Array.from({ length: 10_001 }, () => ({ role: "user", content: "x" }));
    const chat = await post("/v1/chat/completions", { model: MODEL, messages: many, max_tokens: 2 });
    assert.equal(chat.status, 400);
    assert.equal((JSON.parse(chat.body) as { error: { param: string } }).error.param, "messages");
    const responses = await post("/v1/responses", { model: MODEL, input: many, max_output_tokens: 2 });
    assert.equal(responses.status, 400);
    // 10,000 short messages are allowed by the schema, and then do not fit the context: still a 400, quickly.
    const fits = await post("/v1/chat/completions", { model: MODEL, messages: many.slice(1), max_tokens: 2 });
    assert.equal(fits.status, 400);
    assert.equal((JSON.parse(fits.body) as { error: { code: string } }).error.code, "context_length_exceeded");
  });

  test("stop sequences, tools and embedding inputs are bounded", async () => {
    assert.equal(
      (
        await post("/v1/chat/completions", {
          model: MODEL,
          messages: user,
          max_tokens: 2,
          stop: Array.from({ length: 17 }, (_, i) => `s${i}`),
        })
      ).status,
      400,
    );
    const tools = Array.from({ length: 129 }, (_, i) => ({ type: "function", function: { name: `f${i}` } }));
    assert.equal(
      (await post("/v1/chat/completions", { model: MODEL, messages: user, max_tokens: 2, tools })).status,
      400,
    );
    assert.equal(
      (await post("/v1/embeddings", { model: MODEL, input: Array.from({ length: 2049 }, () => "x") })).status,
      400,
    );
  });
});

/** The remote provider's edge, on bytes and bodies: SSE split anywhere, per-kind parameter policy, error mapping. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HearthError } from "../../server/errors.js";
import {
  BaseUrlSchema,
  HeadersSchema,
  ProviderCreateSchema,
  ProviderIdSchema,
} from "../../server/providers/provider-config.js";
import {
  isConnectError,
  networkError,
  noAnswerMessage,
  retryAfterSeconds,
  statusError,
} from "../../server/providers/remote-errors.js";
import { UpstreamSseDecoder, chatBody, completionBody, embeddingBody } from "../../server/providers/remote-wire.js";
import type { ChatRequest, CompletionRequest, GenerationEvent } from "../../server/core/types.js";

const label = "The provider 'lab'";
const noScrub = (s: string) => s;

const sse = (...events: unknown[]) =>
  events.map((e) => `data: ${typeof e === "string" ? e : JSON.stringify(e)}\n\n`).join("");
const delta = (d: object, finish: string | null = null) => ({
  id: "x",
  object: "chat.completion.chunk",
  choices: [{ index: 0, delta: d, finish_reason: finish }],
});

const transcript = sse(
  delta({ role: "assistant", content: "" }),
  delta({ content: "Héllo" }),
  delta({ content: " wörld 🌍" }),
  delta({
    tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }],
  }),
  delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
  delta({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
  delta({}, "tool_calls"),
  {
    id: "x",
    choices: [],
    usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12, prompt_tokens_details: { cached_tokens: 3 } },
  },
  "[DONE]",
);

function decodeInPieces(bytes: Buffer, cuts: number[]): GenerationEvent[] {
  const decoder = new UpstreamSseDecoder(label, noScrub);
  const events: GenerationEvent[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    events.push(...decoder.feed(bytes.subarray(from, cut)));
    from = cut;
  }
  events.push(...decoder.end());
  return events;
}

describe("UpstreamSseDecoder", () => {
  const bytes = Buffer.from(transcript, "utf8");
  const whole = decodeInPieces(bytes, []);

  test("turns an upstream stream into text, tool-call and one finish event with the usage", () => {
    assert.deepEqual(whole, [
      { type: "text", text: "Héllo" },
      { type: "text", text: " wörld 🌍" },
      { type: "tool_call", index: 0, id: "call_1", name: "get_weather", argumentsDelta: "", first: true },
      { type: "tool_call", index: 0, id: "call_1", name: "get_weather", argumentsDelta: '{"city":', first: false },
      { type: "tool_call", index: 0, id: "call_1", name: "get_weather", argumentsDelta: '"Oslo"}', first: false },
      { type: "finish", reason: "tool_calls", usage: { promptTokens: 7, completionTokens: 5, cachedTokens: 3 } },
    ]);
  });

  test("gives the same events whatever byte the network splits at (inside lines, events and UTF-8 characters)", () => {
    for (let cut = 1; cut < bytes.length; cut++)
      assert.deepEqual(decodeInPieces(bytes, [cut]), whole, `split at byte ${cut}`);
    const everyByte = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(decodeInPieces(bytes, everyByte), whole, "one byte per chunk");
  });

  test("handles CRLF framing, comments and a final event without a blank line", () => {
    const crlf = `: ping\r\n\r\n${sse(delta({ content: "a" }), delta({}, "stop")).replaceAll("\n", "\r\n")}data: [DONE]`;
    const events = decodeInPieces(Buffer.from(crlf), [3, 17]);
    assert.deepEqual(
      events.map((e) => e.type),
      ["text", "finish"],
    );
  });

  test("yields each event as soon as its bytes are complete, not at the end", () => {
    const decoder = new UpstreamSseDecoder(label, noScrub);
    const first = Buffer.from(sse(delta({ content: "one" })));
    assert.deepEqual(decoder.feed(first.subarray(0, first.length - 1)), []);
    assert.deepEqual(decoder.feed(first.subarray(first.length - 1)), [{ type: "text", text: "one" }]);
  });

  test("an error event from the upstream becomes a 502 naming the provider, with secrets scrubbed", () => {
    const decoder = new UpstreamSseDecoder(label, (s) => s.replaceAll("sk-secret", "[redacted]"));
    assert.throws(
      () =>
        decoder.feed(
          Buffer.from(
            sse(delta({ content: "a" }), { error: { message: "engine died holding sk-secret", type: "server_error" } }),
          ),
        ),
      (err: HearthError) =>
        err.status === 502 &&
        err.message.startsWith(label) &&
        err.message.includes("engine died") &&
        !err.message.includes("sk-secret"),
    );
  });

  test("older vLLM's top-level error object mid-stream is an error too", () => {
    const decoder = new UpstreamSseDecoder(label, noScrub);
    assert.throws(
      () =>
        decoder.feed(
          Buffer.from(sse({ object: "error", message: "CUDA out of memory", type: "InternalServerError", code: 500 })),
        ),
      (err: HearthError) => err.status === 502 && /CUDA out of memory/.test(err.message),
    );
  });

  test("a `data: null` or malformed event is a bad response, not a provider that is unreachable", () => {
    for (const payload of [
      "null",
      "42",
      '"text"',
      "[1]",
      '{"choices":[null]}',
      '{"choices":[{"delta":{"tool_calls":[null]}}]}',
    ]) {
      const decoder = new UpstreamSseDecoder(label, noScrub);
      assert.throws(
        () => decoder.feed(Buffer.from(`data: ${payload}\n\n`)),
        (err: HearthError) =>
          err.status === 502 && err.code === "provider_bad_response" && err.message.startsWith(label),
        payload,
      );
    }
  });

  test("a stream that stops before any finish is an error, not a silent short answer", () => {
    const decoder = new UpstreamSseDecoder(label, noScrub);
    decoder.feed(Buffer.from(sse(delta({ content: "half" }))));
    assert.throws(
      () => decoder.end(),
      (err: HearthError) => err.status === 502 && err.code === "provider_stream_cut",
    );
  });

  test("log-probabilities come through in both wire forms, and vLLM's stop_reason names the stop sequence", () => {
    const chatLp = {
      content: [
        {
          token: "Hi",
          logprob: -0.5,
          bytes: [72, 105],
          top_logprobs: [
            { token: "Hi", logprob: -0.5, bytes: [72, 105] },
            { token: "Ho", logprob: -1.5 },
          ],
        },
      ],
    };
    const compLp = {
      tokens: [" a"],
      token_logprobs: [-0.25],
      top_logprobs: [{ " b": -2, " a": -0.25 }],
      text_offset: [0],
    };
    const events = decodeInPieces(
      Buffer.from(
        sse(
          { choices: [{ index: 0, delta: { content: "Hi" }, logprobs: chatLp, finish_reason: null }] },
          { choices: [{ index: 0, text: " a", logprobs: compLp, finish_reason: null }] },
          { choices: [{ index: 0, text: "", finish_reason: "stop", stop_reason: "\n\n" }] },
          "[DONE]",
        ),
      ),
      [],
    );
    assert.deepEqual(events[0], {
      type: "text",
      text: "Hi",
      logprobs: [
        {
          token: "Hi",
          logprob: -0.5,
          bytes: [72, 105],
          top: [
            { token: "Hi", logprob: -0.5, bytes: [72, 105] },
            { token: "Ho", logprob: -1.5, bytes: [72, 111] },
          ],
        },
      ],
    });
    assert.deepEqual(events[1], {
      type: "text",
      text: " a",
      logprobs: [
        {
          token: " a",
          logprob: -0.25,
          bytes: [32, 97],
          top: [
            { token: " a", logprob: -0.25, bytes: [32, 97] },
            { token: " b", logprob: -2, bytes: [32, 98] },
          ],
        },
      ],
    });
    assert.deepEqual(events[2], {
      type: "finish",
      reason: "stop",
      usage: { promptTokens: 0, completionTokens: 0, cachedTokens: 0 },
      stopSequence: "\n\n",
    });
  });

  test("legacy completion chunks carry text in choices[].text", () => {
    const events = decodeInPieces(
      Buffer.from(
        sse(
          { choices: [{ index: 0, text: "Once", finish_reason: null }] },
          { choices: [{ index: 0, text: "", finish_reason: "length" }] },
          "[DONE]",
        ),
      ),
      [],
    );
    assert.deepEqual(events, [
      { type: "text", text: "Once" },
      { type: "finish", reason: "length", usage: { promptTokens: 0, completionTokens: 0, cachedTokens: 0 } },
    ]);
  });
});

function chat(over: Partial<ChatRequest> = {}): ChatRequest {
  return {
    kind: "chat",
    model: "lab/llama",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Weather?" },
      { role: "assistant", content: null, toolCalls: [{ id: "c1", name: "w", arguments: "{}" }] },
      { role: "tool", toolCallId: "c1", content: "sunny" },
    ],
    maxTokens: 50,
    sampling: { temperature: 0.8, topP: 0.95, topK: 0, minP: 0.05, presencePenalty: 0, frequencyPenalty: 0 },
    stop: [],
    responseFormat: { type: "text" },
    tools: [],
    toolChoice: "auto",
    parallelToolCalls: true,
    ...over,
  };
}

describe("upstream request bodies", () => {
  test("always stream with usage, name the upstream model, and translate messages", () => {
    const body = chatBody(chat(), "llama", "vllm");
    assert.equal(body.model, "llama");
    assert.equal(body.stream, true);
    assert.deepEqual(body.stream_options, { include_usage: true });
    assert.deepEqual(body.messages, [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Weather?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c1", type: "function", function: { name: "w", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "c1", content: "sunny" },
    ]);
  });

  test("an assistant's null content is null beside tool calls and '' without them (OpenAI requires one or the other)", () => {
    const body = chatBody(
      chat({
        messages: [
          { role: "user", content: "Hi" },
          { role: "assistant", content: null },
          { role: "user", content: "Again" },
          { role: "assistant", content: null, toolCalls: [] },
        ],
      }),
      "llama",
      "openai-compatible",
    );
    assert.deepEqual((body.messages as unknown[]).slice(1), [
      { role: "assistant", content: "" },
      { role: "user", content: "Again" },
      { role: "assistant", content: "" },
    ]);
  });

  test("send only the sampling fields the client set, so the upstream's defaults apply to the rest", () => {
    const body = chatBody(chat({ sampling: { temperature: 0.2, topK: 0 } }), "llama", "vllm");
    assert.equal(body.temperature, 0.2);
    assert.equal(body.top_k, -1, "0 (disabled) is sent to vLLM as -1");
    assert.equal("top_p" in body, false);
    assert.equal("min_p" in body, false);
  });

  test("the app's own chats set every sampling field, and every one is sent", () => {
    const body = chatBody(chat(), "llama", "openai-compatible");
    assert.equal(body.top_k, 0);
    assert.equal(body.min_p, 0.05);
    assert.equal(body.max_tokens, 50);
  });

  test("OpenAI: top_k and min_p are dropped, max_tokens becomes max_completion_tokens", () => {
    const body = chatBody(chat({ sampling: { topK: 40, minP: 0.1, temperature: 1 } }), "gpt-4o-mini", "openai");
    assert.equal("top_k" in body, false);
    assert.equal("min_p" in body, false);
    assert.equal(body.max_completion_tokens, 50);
    assert.equal("max_tokens" in body, false);
  });

  test("OpenAI: vLLM's guided_json is refused with a 400 naming it; vLLM gets it", () => {
    const schema = { type: "object" };
    assert.throws(
      () => chatBody(chat({ extras: { guided_json: schema } }), "gpt-4o", "openai"),
      (err: HearthError) => err.status === 400 && err.param === "guided_json",
    );
    assert.deepEqual(chatBody(chat({ extras: { guided_json: schema } }), "llama", "vllm").guided_json, schema);
  });

  test("OpenAI takes at most 4 stop sequences: more is refused, not truncated", () => {
    const stop = ["a", "b", "c", "d", "e"];
    assert.throws(
      () => chatBody(chat({ stop }), "gpt-4o", "openai"),
      (err: HearthError) => err.status === 400 && err.param === "stop",
    );
    assert.deepEqual(chatBody(chat({ stop }), "llama", "vllm").stop, stop);
  });

  test("tools, tool_choice and response_format are translated back to the wire", () => {
    const body = chatBody(
      chat({
        tools: [{ name: "w", parameters: { type: "object" } }],
        toolChoice: { name: "w" },
        responseFormat: { type: "json_schema", name: "r", schema: { type: "object" }, strict: true },
      }),
      "llama",
      "vllm",
    );
    assert.deepEqual(body.tools, [{ type: "function", function: { name: "w", parameters: { type: "object" } } }]);
    assert.deepEqual(body.tool_choice, { type: "function", function: { name: "w" } });
    assert.deepEqual(body.response_format, {
      type: "json_schema",
      json_schema: { name: "r", schema: { type: "object" }, strict: true },
    });
  });

  test("logprobs are asked for when the client wants them: chat as logprobs/top_logprobs, completions as a count", () => {
    const body = chatBody(chat({ topLogprobs: 3 }), "llama", "openai");
    assert.equal(body.logprobs, true);
    assert.equal(body.top_logprobs, 3);
    const none = chatBody(chat({ topLogprobs: 0 }), "llama", "vllm");
    assert.equal(none.logprobs, true);
    assert.equal("top_logprobs" in none, false);
    assert.equal("logprobs" in chatBody(chat(), "llama", "vllm"), false);
    const req: CompletionRequest = {
      kind: "completion",
      model: "lab/m",
      prompt: "x",
      echo: false,
      sampling: chat().sampling,
      stop: [],
      topLogprobs: 2,
    };
    assert.equal(completionBody(req, "m", "vllm").logprobs, 2);
  });

  test("completions and embeddings", () => {
    const req: CompletionRequest = {
      kind: "completion",
      model: "lab/m",
      prompt: "Once",
      echo: false,
      maxTokens: 16,
      sampling: { seed: 3 },
      stop: ["\n"],
    };
    const body = completionBody(req, "m", "vllm");
    assert.deepEqual(body, {
      model: "m",
      prompt: "Once",
      max_tokens: 16,
      seed: 3,
      stop: ["\n"],
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.deepEqual(embeddingBody({ model: "lab/e", input: ["a"] }, "e"), {
      model: "e",
      input: ["a"],
      encoding_format: "float",
    });
  });
});

describe("upstream failures", () => {
  const scrub = (s: string) => s.replaceAll("sk-live-123", "[redacted]");

  test("401/403 become 502 saying the key was refused, without the upstream's text", () => {
    for (const status of [401, 403]) {
      const err = statusError(
        status,
        {},
        '{"error":{"message":"Incorrect API key provided: sk-live-123"}}',
        "lab",
        scrub,
      );
      assert.equal(err.status, 502);
      assert.match(err.message, /provider 'lab' refused its API key/);
      assert.doesNotMatch(err.message, /sk-live|Incorrect/);
    }
  });

  test("429 keeps the upstream's Retry-After", () => {
    const err = statusError(429, { "retry-after": "7" }, '{"error":{"message":"slow down"}}', "lab", scrub);
    assert.equal(err.status, 429);
    assert.equal(err.headers["Retry-After"], "7");
    assert.match(err.message, /lab.*slow down/);
  });

  test("Retry-After is passed on only as a number of seconds or a date, never as the upstream's text", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    assert.equal(retryAfterSeconds({ "retry-after": " 12 " }, now), 12);
    assert.equal(retryAfterSeconds({ "retry-after": ["3", "9"] }, now), 3);
    assert.equal(retryAfterSeconds({ "retry-after": "Wed, 01 Jan 2025 00:00:30 GMT" }, now), 30);
    assert.equal(retryAfterSeconds({ "retry-after": "Wednesday, 01-Jan-25 00:01:00 GMT" }, now), 60);
    assert.equal(retryAfterSeconds({ "retry-after": "Tue, 31 Dec 2024 23:00:00 GMT" }, now), 0, "a date passed");
    assert.equal(retryAfterSeconds({ "retry-after": "99999999999" }, now), 86_400, "bounded to a day");
    for (const bad of ["1.5", "-3", "soon", "7".repeat(7001), "sk-live-123", "12, sk-live-123", "1 GMT"])
      assert.equal(retryAfterSeconds({ "retry-after": bad }, now), undefined, bad.slice(0, 20));

    const leak = statusError(429, { "retry-after": `${"9".repeat(7001)}` }, "", "lab", scrub);
    assert.equal(leak.headers["Retry-After"], undefined);
    assert.ok(leak.message.length < 200);
    const key = statusError(429, { "retry-after": "sk-live-123" }, "", "lab", scrub);
    assert.equal(key.headers["Retry-After"], undefined);
    assert.doesNotMatch(key.message, /sk-live/);
    const busy = statusError(503, { "retry-after": "sk-live-123" }, "", "lab", scrub);
    assert.equal(busy.headers["Retry-After"], undefined);
    assert.equal(statusError(503, { "retry-after": "5" }, "", "lab", scrub).headers["Retry-After"], "5");
  });

  test("only an error body in a known JSON shape is passed on: another service's page is not read through", () => {
    const page = "<html><title>Jenkins</title>internal build 4.2 admin console</html>";
    for (const status of [400, 404, 500, 503]) {
      const err = statusError(status, {}, page, "lab", scrub);
      assert.doesNotMatch(err.message, /Jenkins|admin/);
      assert.match(err.message, /^The provider 'lab'/);
    }
    assert.doesNotMatch(statusError(500, {}, '{"status":"internal","version":"4.2"}', "lab", scrub).message, /4\.2/);
    assert.doesNotMatch(statusError(500, {}, "null", "lab", scrub).message, /null/);
  });

  test("other 4xx pass through with the upstream's message, scrubbed; redirects are refused", () => {
    const err = statusError(400, {}, '{"message":"bad top_k for key sk-live-123"}', "lab", scrub);
    assert.equal(err.status, 400);
    assert.match(err.message, /bad top_k for key \[redacted\]/);
    assert.equal(statusError(404, {}, "", "lab", scrub).code, "model_not_found");
    assert.equal(statusError(307, { location: "http://elsewhere/" }, "", "lab", scrub).code, "provider_redirect");
    assert.equal(statusError(500, {}, "boom", "lab", scrub).status, 502);
  });

  test("every failure without an HTTP answer is one 502 naming the provider and host; timeouts 504", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    assert.equal(isConnectError(refused), true);
    const e1 = networkError(refused, "lab", "10.0.0.5:8000", 30);
    assert.equal(e1.status, 502);
    assert.equal(e1.code, "provider_unreachable");
    assert.equal(e1.message, noAnswerMessage("lab", "10.0.0.5:8000"));
    assert.match(e1.message, /'lab' \(10\.0\.0\.5:8000\) gave no HTTP answer/);
    // Whatever the cause, the same words: they must not tell which ports of which hosts listen.
    for (const code of [
      "ENOTFOUND",
      "EAI_AGAIN",
      "EHOSTUNREACH",
      "ECONNRESET",
      "UND_ERR_SOCKET",
      "UND_ERR_CONNECT_TIMEOUT",
      "HPE_INVALID_CONSTANT",
    ]) {
      const e = networkError(Object.assign(new Error(code), { code }), "lab", "10.0.0.5:8000", 30);
      assert.deepEqual([e.status, e.code, e.message], [e1.status, e1.code, e1.message], code);
    }
    const slow = networkError(
      Object.assign(new Error("Headers Timeout Error"), { code: "UND_ERR_HEADERS_TIMEOUT" }),
      "lab",
      "h",
      30,
    );
    assert.equal(slow.status, 504);
    assert.match(slow.message, /'lab'.*within 30 s/);
    assert.equal(
      isConnectError(Object.assign(new Error("reset"), { code: "ECONNRESET" })),
      false,
      "a reset may come after the upstream started work",
    );
  });
});

describe("provider config schemas", () => {
  test("base URLs are normalized and refused with credentials, queries or other schemes", () => {
    assert.equal(BaseUrlSchema.parse(" https://api.openai.com/v1/ "), "https://api.openai.com/v1");
    for (const bad of ["ftp://x/v1", "https://user:pw@x/v1", "https://x/v1?key=1", "not a url"])
      assert.equal(BaseUrlSchema.safeParse(bad).success, false, bad);
  });

  test("ids are slugs and 'local' is reserved; framing headers cannot be overridden", () => {
    assert.equal(ProviderIdSchema.safeParse("vllm-lab_2").success, true);
    for (const bad of ["local", "test", "Has/Slash", "UPPER", ""])
      assert.equal(ProviderIdSchema.safeParse(bad).success, false, bad);
    assert.equal(HeadersSchema.safeParse({ "OpenAI-Organization": "org-1" }).success, true);
    assert.equal(HeadersSchema.safeParse({ Host: "evil" }).success, false);
    assert.equal(HeadersSchema.safeParse({ "X-A": "a\r\nInjected: 1" }).success, false);
  });

  test("defaults: discover on, 120 s timeout, no models filter", () => {
    const p = ProviderCreateSchema.parse({ id: "lab", name: "Lab", kind: "vllm", baseUrl: "http://gpu:8000/v1" });
    assert.equal(p.discover, true);
    assert.equal(p.timeoutSeconds, 120);
    assert.deepEqual(p.models, []);
  });
});

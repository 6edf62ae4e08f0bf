/**
 * /v1/messages through Anthropic's official TypeScript SDK against a real server and the real
 * tiny model: text, system prompts, streaming events, stop sequences, tools (through a template
 * that knows them), structured output, and errors in Anthropic's shape.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ajv } from "ajv";
import { startTestServer, type TestServer } from "../helpers/server.js";

const MODEL = "stories260K";
const API_KEY = "anthropic-test-key-51c2";
/** The SDK's types no longer list sampling fields; the API (and Hearth) still take them. */
const GREEDY: object = { temperature: 0 };

describe("/v1/messages (Anthropic Messages API)", () => {
  let t: TestServer;
  let client: Anthropic;
  before(async () => {
    t = await startTestServer({ parallel: 4, apiKey: API_KEY, chatTemplate: "chatML" });
    client = new Anthropic({ baseURL: t.url, apiKey: API_KEY, maxRetries: 0, timeout: 60_000 });
  });
  after(() => t.close());

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${t.url}/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": API_KEY,
        "anthropic-version": "2023-06-01",
        ...headers,
      },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  test("text: a message with content blocks, stop reason and usage", async () => {
    const msg = await client.messages.create({
      model: MODEL,
      max_tokens: 10,
      messages: [{ role: "user", content: "Tell me a story" }],
    });
    assert.equal(msg.type, "message");
    assert.equal(msg.role, "assistant");
    assert.equal(msg.model, MODEL);
    assert.match(msg.id, /^msg_/);
    assert.equal(msg.content[0]?.type, "text");
    assert.ok(msg.content[0]?.type === "text" && msg.content[0].text.length > 0);
    assert.equal(msg.stop_reason, "max_tokens");
    assert.equal(msg.usage.output_tokens, 10);
    assert.ok((msg.usage.input_tokens ?? 0) + (msg.usage.cache_read_input_tokens ?? 0) > 5);
  });

  test("system as a string or as text blocks, and text content blocks in the messages", async () => {
    const ask = (system: Anthropic.MessageCreateParams["system"]) =>
      client.messages.create({
        model: MODEL,
        max_tokens: 3,
        ...GREEDY,
        system,
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Hello" },
              { type: "text", text: " there" },
            ],
          },
        ],
      });
    const plain = await ask(undefined);
    const asString = await ask("You are a storyteller who likes cats.");
    const asBlocks = await ask([{ type: "text", text: "You are a storyteller who likes cats." }]);
    const prompt = (m: Anthropic.Message) => (m.usage.input_tokens ?? 0) + (m.usage.cache_read_input_tokens ?? 0);
    assert.ok(prompt(asString) > prompt(plain));
    assert.equal(prompt(asBlocks), prompt(asString));
  });

  test("streaming: message_start, content blocks with text deltas, message_delta with usage, message_stop", async () => {
    const stream = await client.messages.create({
      model: MODEL,
      max_tokens: 12,
      messages: [{ role: "user", content: "A cat" }],
      stream: true,
    });
    const events: Anthropic.RawMessageStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    const types = events.map((e) => e.type);
    assert.deepEqual(types.slice(0, 2), ["message_start", "content_block_start"]);
    assert.deepEqual(types.slice(-3), ["content_block_stop", "message_delta", "message_stop"]);
    const deltas = events.filter((e): e is Anthropic.RawContentBlockDeltaEvent => e.type === "content_block_delta");
    assert.ok(deltas.length > 1);
    assert.ok(deltas.every((d) => d.delta.type === "text_delta" && d.index === 0));
    const delta = events.find((e): e is Anthropic.RawMessageDeltaEvent => e.type === "message_delta")!;
    assert.equal(delta.delta.stop_reason, "max_tokens");
    assert.equal(delta.usage.output_tokens, 12);
  });

  test("message_start carries the prompt's usage, as Anthropic's does (LangChain reads input tokens only there)", async () => {
    const request = { model: MODEL, max_tokens: 4, messages: [{ role: "user" as const, content: "A dog and a cat" }] };
    const { input_tokens: prompt } = await client.messages.countTokens({
      model: MODEL,
      messages: request.messages,
    });
    const stream = await client.messages.create({ ...request, stream: true });
    const events: Anthropic.RawMessageStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    const start = events.find((e): e is Anthropic.RawMessageStartEvent => e.type === "message_start")!;
    const usage = start.message.usage;
    assert.ok(usage.input_tokens > 0, JSON.stringify(usage));
    assert.equal(usage.input_tokens + (usage.cache_read_input_tokens ?? 0), prompt);
    const delta = events.find((e): e is Anthropic.RawMessageDeltaEvent => e.type === "message_delta")!;
    assert.equal(delta.usage.input_tokens, usage.input_tokens);
  });

  test("the SDK's stream helper builds the same text as the deltas", async () => {
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 15,
      messages: [{ role: "user", content: "Tell me about a dog" }],
    });
    let text = "";
    stream.on("text", (delta) => (text += delta));
    const final = await stream.finalMessage();
    assert.equal(final.content[0]?.type === "text" ? final.content[0].text : "", text);
    assert.ok(text.length > 0);
    assert.equal(final.usage.output_tokens, 15);
  });

  test("stop_sequences end the text before the sequence and are reported", async () => {
    const full = await client.messages.create({
      model: MODEL,
      max_tokens: 40,
      ...GREEDY,
      messages: [{ role: "user", content: "Once upon a time" }],
    });
    const text = full.content[0]?.type === "text" ? full.content[0].text : "";
    const words = text.trim().split(/\s+/);
    const stop = words[Math.min(3, words.length - 1)]!;
    const cut = await client.messages.create({
      model: MODEL,
      max_tokens: 40,
      ...GREEDY,
      stop_sequences: ["zzzz", stop],
      messages: [{ role: "user", content: "Once upon a time" }],
    });
    assert.equal(cut.stop_reason, "stop_sequence");
    assert.equal(cut.stop_sequence, stop);
    const cutText = cut.content[0]?.type === "text" ? cut.content[0].text : "";
    assert.ok(!cutText.includes(stop));
    assert.ok(text.startsWith(cutText));
  });

  const weather: Anthropic.Tool = {
    name: "get_weather",
    description: "Weather for a city",
    input_schema: { type: "object", properties: { city: { type: "string", maxLength: 20 } } },
  };

  test("tools: tool_choice any gives a tool_use block; its tool_result continues the conversation", async () => {
    const msg = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      tools: [weather],
      tool_choice: { type: "any" },
      messages: [{ role: "user", content: "Weather in Paris?" }],
    });
    assert.equal(msg.stop_reason, "tool_use");
    const use = msg.content.find((b) => b.type === "tool_use");
    assert.ok(use?.type === "tool_use");
    assert.equal(use.name, "get_weather");
    assert.match(use.id, /^toolu_/);
    assert.equal(typeof (use.input as { city?: unknown }).city, "string");

    const next = await client.messages.create({
      model: MODEL,
      max_tokens: 10,
      tools: [weather],
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: msg.content },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: use.id, content: [{ type: "text", text: "21 C and sunny" }] },
            { type: "text", text: "Thanks" },
          ],
        },
      ],
    });
    assert.ok(next.content.length > 0);
    assert.ok(
      (next.usage.input_tokens ?? 0) + (next.usage.cache_read_input_tokens ?? 0) >
        (msg.usage.input_tokens ?? 0) + (msg.usage.cache_read_input_tokens ?? 0),
    );
  });

  test("tools: a named tool streams its input as input_json_delta", async () => {
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 100,
      tools: [weather],
      tool_choice: { type: "tool", name: "get_weather" },
      messages: [{ role: "user", content: "Weather?" }],
    });
    let json = "";
    stream.on("inputJson", (partial) => (json += partial));
    const final = await stream.finalMessage();
    const use = final.content.find((b) => b.type === "tool_use");
    assert.ok(use?.type === "tool_use");
    assert.deepEqual(use.input, JSON.parse(json));
    assert.equal(final.stop_reason, "tool_use");
  });

  test("tools: auto documents them in the prompt, none leaves them out", async () => {
    const ask = (tool_choice: Anthropic.ToolChoice) =>
      client.messages.create({
        model: MODEL,
        max_tokens: 3,
        tools: [weather],
        tool_choice,
        messages: [{ role: "user", content: "Weather?" }],
      });
    const prompt = (m: Anthropic.Message) => (m.usage.input_tokens ?? 0) + (m.usage.cache_read_input_tokens ?? 0);
    const auto = await ask({ type: "auto", disable_parallel_tool_use: true });
    const none = await ask({ type: "none" });
    assert.ok(prompt(auto) > prompt(none) + 20);
  });

  test("structured output: output_config.format json_schema", async () => {
    const schema = {
      type: "object",
      properties: { animal: { type: "string", maxLength: 15 }, legs: { type: "integer" } },
      required: ["animal", "legs"],
      additionalProperties: false,
    };
    // Greedy, so the test is deterministic: sampled freely, the tiny model can write a 300-digit
    // "integer" that matches the schema but that JSON.parse turns into Infinity.
    const msg = await client.messages.create({
      ...GREEDY,
      model: MODEL,
      max_tokens: 150,
      messages: [{ role: "user", content: "An animal as JSON" }],
      output_config: { format: { type: "json_schema", schema } },
    });
    assert.equal(msg.stop_reason, "end_turn");
    const value: unknown = JSON.parse(msg.content[0]?.type === "text" ? msg.content[0].text : "");
    const validate = new Ajv().compile(schema);
    assert.ok(validate(value), JSON.stringify(validate.errors));
  });

  test("errors come in Anthropic's shape, and the SDK maps them to its error classes", async () => {
    const cases: [unknown, Record<string, string>, number, string][] = [
      [{ model: MODEL, messages: [{ role: "user", content: "x" }] }, {}, 400, "invalid_request_error"],
      [
        {
          model: MODEL,
          max_tokens: 5,
          messages: [{ role: "user", content: [{ type: "image", source: { type: "url", url: "x" } }] }],
        },
        {},
        400,
        "invalid_request_error",
      ],
      [
        {
          model: MODEL,
          max_tokens: 5,
          messages: [{ role: "user", content: "x" }],
          tools: [{ type: "web_search_20250305", name: "web_search" }],
        },
        {},
        400,
        "invalid_request_error",
      ],
      [
        { model: "no-such-model", max_tokens: 5, messages: [{ role: "user", content: "x" }] },
        {},
        404,
        "not_found_error",
      ],
      ['{"model": ', {}, 400, "invalid_request_error"],
      [
        { model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "x" }] },
        { "x-api-key": "wrong-key-123" },
        401,
        "authentication_error",
      ],
    ];
    for (const [body, headers, status, type] of cases) {
      const res = await post(body, headers);
      assert.equal(res.status, status, JSON.stringify(body));
      const json = (await res.json()) as {
        type: string;
        error: { type: string; message: string };
        request_id: string | null;
      };
      assert.equal(json.type, "error");
      assert.equal(json.error.type, type);
      assert.ok(json.error.message.length > 0);
      assert.equal(json.request_id, res.headers.get("x-request-id"));
    }
    await assert.rejects(
      client.messages.create({ model: MODEL, max_tokens: 0, messages: [{ role: "user", content: "x" }] }),
      Anthropic.BadRequestError,
    );
    await assert.rejects(
      client.messages.create({ model: "nope", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
      Anthropic.NotFoundError,
    );
    const bad = new Anthropic({ baseURL: t.url, apiKey: "not-the-key", maxRetries: 0 });
    await assert.rejects(
      bad.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
      Anthropic.AuthenticationError,
    );
  });

  test("count_tokens: the SDK's countTokens gives the prompt tokens the same request is billed for", async () => {
    const request = {
      model: MODEL,
      system: "You tell short stories.",
      messages: [{ role: "user" as const, content: "Once upon a time there was a fox" }],
    };
    const counted = await client.messages.countTokens(request);
    const msg = await client.messages.create({ ...request, max_tokens: 2, ...GREEDY });
    assert.ok(counted.input_tokens > 5, `a count (${counted.input_tokens})`);
    // Anthropic bills tokens read from the prompt cache apart from input_tokens; the count is of both.
    assert.equal(
      counted.input_tokens,
      msg.usage.input_tokens + (msg.usage.cache_read_input_tokens ?? 0),
      "the count is what generating with it takes",
    );
    // Tools the model may call are documented in the prompt, so they count.
    const tools = [
      {
        name: "get_weather",
        description: "Weather for a city",
        input_schema: { type: "object" as const, properties: { city: { type: "string" } } },
      },
    ];
    const withTools = await client.messages.countTokens({ ...request, tools });
    assert.ok(
      withTools.input_tokens > counted.input_tokens,
      `tools add tokens (${withTools.input_tokens} > ${counted.input_tokens})`,
    );
    const unknown = await fetch(`${t.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": API_KEY },
      body: JSON.stringify({ ...request, model: "no-such-model" }),
    });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { type: string }).type, "error");
    const empty = await fetch(`${t.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": API_KEY },
      body: JSON.stringify({ model: MODEL, messages: [] }),
    });
    assert.equal(empty.status, 400);
  });

  test("/v1 keeps OpenAI's error shape", async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
      body: "{}",
    });
    const json = (await res.json()) as { error: { type: string; param: string } };
    assert.equal(res.status, 400);
    assert.equal(json.error.type, "invalid_request_error");
    assert.equal(json.error.param, "model");
  });
});

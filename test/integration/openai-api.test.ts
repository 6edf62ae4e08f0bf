/**
 * The /v1 API through the official `openai` client against a real server and the real tiny
 * model: what a local tool pointed at Hearth sees.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { Ajv } from "ajv";
import { zodResponseFormat } from "openai/helpers/zod";
import { z } from "zod";
import { startTestServer, metricValue, type TestServer } from "../helpers/server.js";

const MODEL = "stories260K";
const user = (content: string) => [{ role: "user" as const, content }];

describe("OpenAI-compatible API", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 8 });
  });
  after(() => t.close());

  test("lists the loaded model", async () => {
    const models = await t.client.models.list();
    assert.deepEqual(
      models.data.map((m) => m.id),
      [MODEL],
    );
    assert.equal(models.data[0]?.owned_by, "local");
    const one = await t.client.models.retrieve(MODEL);
    assert.equal(one.id, MODEL);
  });

  test("chat completion with usage and finish_reason length", async () => {
    const res = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("Once upon a time"),
      max_tokens: 12,
    });
    assert.equal(res.object, "chat.completion");
    assert.equal(res.model, MODEL);
    const choice = res.choices[0]!;
    assert.equal(choice.finish_reason, "length");
    assert.equal(choice.message.role, "assistant");
    assert.ok((choice.message.content ?? "").length > 0);
    assert.equal(res.usage?.completion_tokens, 12);
    assert.ok((res.usage?.prompt_tokens ?? 0) > 3);
    assert.equal(res.usage?.total_tokens, (res.usage?.prompt_tokens ?? 0) + 12);
  });

  test("max_completion_tokens is honoured like max_tokens", async () => {
    const res = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("Tell me a story"),
      max_completion_tokens: 5,
    });
    assert.equal(res.usage?.completion_tokens, 5);
  });

  test("streamed chat: role first, text deltas, finish chunk, usage chunk", async () => {
    const stream = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("Tell me about a cat"),
      max_tokens: 20,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.deepEqual(chunks[0]?.choices[0]?.delta, { role: "assistant", content: "" }, "OpenAI's first chunk of text");
    const ids = new Set(chunks.map((c) => c.id));
    assert.equal(ids.size, 1, "every chunk carries the same id");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    assert.ok(text.length > 0);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    assert.equal(finish?.choices[0]?.finish_reason, "length");
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage?.completion_tokens, 20);
  });

  test("completions, streamed and not", async () => {
    const res = await t.client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 10 });
    assert.equal(res.object, "text_completion");
    assert.ok(res.choices[0]!.text.length > 0);
    assert.equal(res.usage?.completion_tokens, 10);
    const stream = await t.client.completions.create({ model: MODEL, prompt: "The dog", max_tokens: 8, stream: true });
    let text = "";
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? "";
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.ok(text.length > 0);
    assert.equal(finish, "length");
  });

  test("the same seed gives the same text; another seed another", async () => {
    const ask = (seed: number) =>
      t.client.chat.completions.create({
        model: MODEL,
        messages: user("Lily went to the park"),
        max_tokens: 40,
        temperature: 1,
        seed,
      });
    const [a, b, c] = [await ask(42), await ask(42), await ask(7)];
    assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
    assert.notEqual(a.choices[0]!.message.content, c.choices[0]!.message.content);
  });

  test("stop sequences end the text before the stop string", async () => {
    const greedy = await t.client.completions.create({
      model: MODEL,
      prompt: "Once upon a time",
      max_tokens: 40,
      temperature: 0,
    });
    const full = greedy.choices[0]!.text;
    const words = full.trim().split(/\s+/);
    const stopWord = words[Math.min(4, words.length - 1)]!;
    const cut = await t.client.completions.create({
      model: MODEL,
      prompt: "Once upon a time",
      max_tokens: 40,
      temperature: 0,
      stop: [stopWord, "zzzz"],
    });
    const text = cut.choices[0]!.text;
    assert.equal(cut.choices[0]!.finish_reason, "stop");
    assert.ok(!text.includes(stopWord), `'${text}' must not contain the stop word '${stopWord}'`);
    assert.ok(full.startsWith(text), "text before the stop is the same as without it");
  });

  test("json_schema output parses and matches the schema", async () => {
    const schema = {
      type: "object",
      properties: {
        name: { type: "string", maxLength: 20 },
        age: { type: "integer" },
        pets: { type: "array", items: { type: "string", maxLength: 10 }, maxItems: 3 },
        mood: { enum: ["happy", "sad"] },
      },
      required: ["name", "age", "pets", "mood"],
      additionalProperties: false,
    };
    for (const seed of [1, 2, 3]) {
      const res = await t.client.chat.completions.create({
        model: MODEL,
        messages: user("Describe a person as JSON"),
        max_tokens: 300,
        seed,
        response_format: { type: "json_schema", json_schema: { name: "person", schema, strict: true } },
      });
      assert.equal(res.choices[0]!.finish_reason, "stop");
      const value: unknown = JSON.parse(res.choices[0]!.message.content ?? "");
      const validate = new Ajv().compile(schema);
      assert.ok(validate(value), JSON.stringify(validate.errors));
    }
  });

  test("json_object output is valid JSON", async () => {
    const res = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("Give me JSON"),
      max_tokens: 200,
      response_format: { type: "json_object" },
      seed: 3,
    });
    if (res.choices[0]!.finish_reason === "stop") JSON.parse(res.choices[0]!.message.content ?? "");
    else assert.equal(res.choices[0]!.finish_reason, "length");
  });

  test("zod 4's integer and number ranges (openai's zodResponseFormat) are enforced, and parse() accepts the reply", async () => {
    // z.number().int() is {"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991};
    // Hearth answered 400 ("uses 'minimum' ... cannot enforce") to every such schema.
    const Person = z.object({
      age: z.number().int().min(10).max(99),
      count: z.number().int(),
      share: z.number().min(0).max(1),
      nickname: z.string().nullable(),
    });
    for (const seed of [1, 2, 3]) {
      const { data, response } = await t.client.chat.completions
        .parse({
          model: MODEL,
          messages: user("Describe a person as JSON"),
          max_tokens: 200,
          seed,
          response_format: zodResponseFormat(Person, "person"),
        })
        .withResponse();
      assert.equal(data.choices[0]!.finish_reason, "stop");
      const person = data.choices[0]!.message.parsed;
      assert.ok(person, "parsed by the client's own zod schema");
      assert.ok(person.age >= 10 && person.age <= 99, `age ${person.age}`);
      assert.equal(response.headers.get("x-hearth-warnings"), null, "everything in it is enforced");
    }
  });

  test("a keyword no grammar enforces is accepted and named once in X-Hearth-Warnings", async () => {
    const schema = {
      type: "object",
      properties: {
        code: { type: "string", pattern: "^[A-Z]{3}$", maxLength: 3 },
        n: { type: "integer", multipleOf: 5 },
      },
      required: ["code", "n"],
      additionalProperties: false,
    };
    const { data, response } = await t.client.chat.completions
      .create({
        model: MODEL,
        messages: user("x"),
        max_tokens: 50,
        response_format: { type: "json_schema", json_schema: { name: "c", schema, strict: true } },
      })
      .withResponse();
    assert.ok(data.choices[0]!.message.content);
    const warnings = JSON.parse(response.headers.get("x-hearth-warnings") ?? "[]") as string[];
    assert.deepEqual(warnings, [
      "response_format.json_schema.schema: at '/properties/code': 'pattern' is not enforced",
      "response_format.json_schema.schema: at '/properties/n': 'multipleOf' is not enforced",
    ]);
  });

  test("keywords outside OpenAI's subset are refused with strict: true and reported without it", async () => {
    const schema = { type: "object", properties: { n: { type: "integer" } }, allOf: [{ type: "object" }] };
    await assert.rejects(
      t.client.chat.completions.create({
        model: MODEL,
        messages: user("x"),
        response_format: { type: "json_schema", json_schema: { name: "n", schema, strict: true } },
      }),
      (err: { status?: number; message?: string }) => err.status === 400 && /allOf/.test(err.message ?? ""),
    );
    const { response } = await t.client.chat.completions
      .create({
        model: MODEL,
        messages: user("x"),
        max_tokens: 30,
        response_format: { type: "json_schema", json_schema: { name: "n", schema } },
      })
      .withResponse();
    assert.match(response.headers.get("x-hearth-warnings") ?? "", /'allOf' is not enforced/);
  });

  const weather = {
    type: "function" as const,
    function: {
      name: "get_weather",
      description: "Weather for a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string", maxLength: 30 }, unit: { enum: ["c", "f"] } },
        required: ["city", "unit"],
      },
    },
  };
  const time = {
    type: "function" as const,
    function: {
      name: "get_time",
      parameters: { type: "object", properties: { zone: { type: "string", maxLength: 10 } } },
    },
  };

  test("tool_choice required returns a tool call whose arguments match the schema", async () => {
    const res = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("Weather in Paris?"),
      tools: [weather, time],
      tool_choice: "required",
      max_tokens: 200,
    });
    const choice = res.choices[0]!;
    assert.equal(choice.finish_reason, "tool_calls");
    const call = choice.message.tool_calls?.[0];
    assert.ok(call && call.type === "function");
    assert.ok(["get_weather", "get_time"].includes(call.function.name));
    assert.match(call.id, /^call_/);
    const args = JSON.parse(call.function.arguments) as Record<string, unknown>;
    if (call.function.name === "get_weather")
      assert.ok(typeof args.city === "string" && ["c", "f"].includes(args.unit as string));
    assert.equal(choice.message.content, null);
  });

  test("a named tool_choice forces that tool, streamed as tool_call deltas", async () => {
    const stream = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("What time is it?"),
      tools: [weather, time],
      tool_choice: { type: "function", function: { name: "get_time" } },
      max_tokens: 200,
      stream: true,
    });
    let name = "";
    let args = "";
    let finish: string | null = null;
    for await (const c of stream) {
      for (const tc of c.choices[0]?.delta.tool_calls ?? []) {
        name += tc.function?.name ?? "";
        args += tc.function?.arguments ?? "";
      }
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(name, "get_time");
    assert.equal(typeof (JSON.parse(args) as { zone?: unknown }).zone, "string");
    assert.equal(finish, "tool_calls");
  });

  test("a streamed tool call's first delta carries content null, not an empty text", async () => {
    // As OpenAI sends it: role, content null and the call in one chunk. With content "", the AI SDK
    // emitted an empty text part before every streamed call.
    const stream = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("What time is it?"),
      tools: [weather, time],
      tool_choice: "required",
      max_tokens: 200,
      stream: true,
    });
    const deltas = [];
    for await (const c of stream) if (c.choices[0]) deltas.push(c.choices[0].delta);
    const first = deltas[0]!;
    assert.equal(first.role, "assistant");
    assert.ok("content" in first && first.content === null, JSON.stringify(first));
    assert.equal(first.tool_calls?.[0]?.index, 0);
    assert.ok(first.tool_calls?.[0]?.function?.name);
    assert.ok(
      deltas.every((d) => !d.content),
      "no text anywhere in the stream",
    );
  });

  describe("tools together with response_format", () => {
    // The model's first key decides between an answer and a call: with "xj" first, stories260K
    // writes one or the other depending on the seed.
    const schema = {
      type: "object",
      properties: { xj: { type: "string", maxLength: 30 }, score: { type: "integer", minimum: 0, maximum: 10 } },
      required: ["xj", "score"],
      additionalProperties: false,
    };
    const format = { type: "json_schema" as const, json_schema: { name: "rating", schema, strict: true } };

    test("a forced call is a call, tool_choice none an answer in the format (both were a 400)", async () => {
      const forced = await t.client.chat.completions.create({
        model: MODEL,
        messages: user("Weather in Paris?"),
        tools: [weather],
        tool_choice: "required",
        response_format: format,
        max_tokens: 150,
      });
      assert.equal(forced.choices[0]!.finish_reason, "tool_calls");
      assert.equal(forced.choices[0]!.message.tool_calls?.[0]?.type, "function");
      const none = await t.client.chat.completions.create({
        model: MODEL,
        messages: user("Weather in Paris?"),
        tools: [weather],
        tool_choice: "none",
        response_format: format,
        max_tokens: 150,
      });
      assert.ok(new Ajv().compile(schema)(JSON.parse(none.choices[0]!.message.content ?? "")));
    });

    test("tool_choice auto: each reply is a valid call or an answer in the format, and both occur", async () => {
      const validate = new Ajv().compile(schema);
      const seen = new Set<string>();
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const stream = await t.client.chat.completions.create({
          model: MODEL,
          messages: user("Weather in Paris?"),
          tools: [weather],
          tool_choice: "auto",
          response_format: format,
          max_tokens: 150,
          seed,
          stream: true,
        });
        let content = "";
        let args = "";
        let name = "";
        let finish: string | null = null;
        for await (const chunk of stream) {
          content += chunk.choices[0]?.delta.content ?? "";
          for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
            name += tc.function?.name ?? "";
            args += tc.function?.arguments ?? "";
          }
          finish = chunk.choices[0]?.finish_reason ?? finish;
        }
        seen.add(finish ?? "none");
        if (finish === "tool_calls") {
          assert.equal(name, "get_weather");
          assert.equal(content, "", `seed ${seed}: a call has no text`);
          const call = JSON.parse(args) as { city?: unknown; unit?: unknown };
          assert.ok(typeof call.city === "string" && ["c", "f"].includes(call.unit as string), args);
        } else {
          assert.equal(finish, "stop");
          assert.equal(args, "");
          assert.ok(validate(JSON.parse(content)), `seed ${seed}: ${content}`);
        }
      }
      assert.deepEqual([...seen].sort(), ["stop", "tool_calls"]);
    });
  });

  test("a tool round trip (assistant tool_calls + tool result) is accepted", async () => {
    const res = await t.client.chat.completions.create({
      model: MODEL,
      max_tokens: 10,
      tools: [weather],
      messages: [
        { role: "system", content: "You are helpful." },
        { role: "user", content: "Weather in Paris?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Paris","unit":"c"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: '{"temp":21}' },
      ],
    });
    assert.ok(["stop", "length", "tool_calls"].includes(res.choices[0]!.finish_reason));
  });

  test("embeddings: float and base64, unit length, one per input", async () => {
    const res = await t.client.embeddings.create({ model: MODEL, input: ["a red ball", "the cat sat"] });
    assert.equal(res.data.length, 2);
    for (const [i, d] of res.data.entries()) {
      assert.equal(d.index, i);
      const norm = Math.sqrt(d.embedding.reduce((s, v) => s + v * v, 0));
      assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
    }
    const floats = await t.client.embeddings.create({ model: MODEL, input: "a red ball", encoding_format: "float" });
    assert.equal(floats.data[0]!.embedding.length, res.data[0]!.embedding.length);
    floats.data[0]!.embedding.forEach((v, k) => assert.ok(Math.abs(v - res.data[0]!.embedding[k]!) < 1e-6));
    assert.ok((floats.usage.prompt_tokens ?? 0) > 0);
  });

  test("8 concurrent streams all complete with text", async () => {
    const runs = Array.from({ length: 8 }, async (_, i) => {
      const stream = await t.client.chat.completions.create({
        model: MODEL,
        messages: user(`Story number ${i}`),
        max_tokens: 60,
        stream: true,
      });
      let text = "";
      for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
      return text;
    });
    const texts = await Promise.all(runs);
    for (const text of texts) assert.ok(text.length > 0);
  });

  test("responses carry X-Request-ID, echoing a valid one from the request", async () => {
    const res = await fetch(`${t.url}/v1/models`, { headers: { "X-Request-ID": "abc-123" } });
    assert.equal(res.headers.get("x-request-id"), "abc-123");
    const res2 = await fetch(`${t.url}/v1/models`);
    assert.match(res2.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });

  test("health, metrics and openapi", async () => {
    await t.client.chat.completions.create({ model: MODEL, messages: user("hi"), max_tokens: 2 });
    assert.equal((await fetch(`${t.url}/health/live`)).status, 200);
    const ready = await fetch(`${t.url}/health/ready`);
    assert.equal(ready.status, 200);
    const health = (await (await fetch(`${t.url}/health`)).json()) as { engine: { build: string; threads: number } };
    assert.ok(["prebuilt", "localBuild"].includes(health.engine.build), health.engine.build);
    assert.equal(health.engine.threads, 1);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    for (const name of [
      "hearth_requests_total",
      "hearth_prompt_tokens_total",
      "hearth_completion_tokens_total",
      "hearth_time_to_first_token_seconds",
      "hearth_tokens_per_second",
      "hearth_queue_depth",
      "hearth_busy_sequences",
    ]) {
      assert.ok(metrics.includes(name), `metrics has ${name}`);
    }
    const completionTokens = await metricValue(t.url, "hearth_completion_tokens_total");
    assert.ok(completionTokens > 0, `completion tokens counted: ${completionTokens}`);
    assert.match(
      metrics,
      /hearth_requests_total\{route="\/v1\/chat\/completions",status="200"\} [1-9]/,
      "requests are counted per /v1 route",
    );
    const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    assert.equal(doc.openapi, "3.1.0");
    assert.ok(doc.paths["/v1/chat/completions"]);
    assert.ok(doc.components.schemas.ChatCompletionRequest);
  });
});

describe("KV cache reuse across turns", () => {
  // A fresh server per test: which slot a request lands in depends on what earlier requests cached.
  let t: TestServer;
  beforeEach(async () => {
    t = await startTestServer({ parallel: 2 });
  });
  afterEach(() => t.close());

  test("the next turn of a conversation reuses the cached prefix", async () => {
    const history = [
      { role: "system" as const, content: "You tell short stories about animals." },
      { role: "user" as const, content: "Tell me about a small dog who lost a red ball in the garden." },
    ];
    const first = await t.client.chat.completions.create({
      model: MODEL,
      messages: history,
      max_tokens: 30,
      temperature: 0,
    });
    assert.equal(first.usage?.prompt_tokens_details?.cached_tokens, 0);
    const reply = first.choices[0]!.message.content ?? "";
    const second = await t.client.chat.completions.create({
      model: MODEL,
      messages: [...history, { role: "assistant", content: reply }, { role: "user", content: "What happened next?" }],
      max_tokens: 10,
      temperature: 0,
    });
    const cached = second.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    const prompt = second.usage?.prompt_tokens ?? 0;
    assert.ok(cached >= (first.usage?.prompt_tokens ?? 0) - 1, `turn 2 reused ${cached} of ${prompt} prompt tokens`);
    assert.ok(cached < prompt);
  });

  test("an unrelated request takes an idle slot instead of evicting a conversation", async () => {
    const history = [
      { role: "system" as const, content: "You tell short stories about birds." },
      { role: "user" as const, content: "Tell me about an owl who could not sleep at night and went to see the moon." },
    ];
    const first = await t.client.chat.completions.create({
      model: MODEL,
      messages: history,
      max_tokens: 20,
      temperature: 0,
    });
    // Shares only the chat template's header with the conversation: it must not take its slot.
    await t.client.chat.completions.create({
      model: MODEL,
      messages: user("Say something about a frog."),
      max_tokens: 20,
    });
    const second = await t.client.chat.completions.create({
      model: MODEL,
      messages: [
        ...history,
        { role: "assistant", content: first.choices[0]!.message.content ?? "" },
        { role: "user", content: "And then?" },
      ],
      max_tokens: 4,
    });
    const cached = second.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    assert.ok(
      cached >= (first.usage?.prompt_tokens ?? 0) - 1,
      `turn 2 reused ${cached} of the first turn's ${first.usage?.prompt_tokens} prompt tokens`,
    );
  });
});

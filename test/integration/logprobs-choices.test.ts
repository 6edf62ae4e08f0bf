/**
 * Logprobs, `n` choices and tool_choice on /v1/chat/completions and /v1/completions, through the
 * official `openai` client against a real server and the real tiny model.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Ajv } from "ajv";
import { startTestServer, type TestServer } from "../helpers/server.js";

const MODEL = "stories260K";
const user = (content: string) => [{ role: "user" as const, content }];

interface Entry {
  token: string;
  logprob: number;
  top_logprobs: { token: string; logprob: number }[];
}

/** Each top list sorted best first, every value <= 0, and the chosen token consistent with its list. */
function assertWellFormed(entries: readonly Entry[], top: number, greedy: boolean): void {
  assert.ok(entries.length > 0);
  for (const e of entries) {
    assert.ok(e.logprob <= 0, `logprob ${e.logprob} of '${e.token}'`);
    assert.ok(e.top_logprobs.length <= top);
    if (greedy) assert.equal(e.top_logprobs.length, top, "at temperature 0 the whole vocabulary is there to pick from");
    const values = e.top_logprobs.map((t) => t.logprob);
    for (let i = 1; i < values.length; i++)
      assert.ok(values[i - 1]! >= values[i]!, `top list not sorted: ${values.join(", ")}`);
    for (const v of values) assert.ok(v <= 0);
    assert.ok(
      values.reduce((s, v) => s + Math.exp(v), 0) <= 1 + 1e-6,
      "probabilities of distinct tokens sum to at most 1",
    );
    const own = e.top_logprobs.find((t) => t.token === e.token);
    if (own)
      assert.ok(Math.abs(own.logprob - e.logprob) < 1e-9, "the chosen token has the same logprob in its top list");
    else if (values.length === top)
      assert.ok(
        e.logprob <= values.at(-1)! + 1e-9,
        "a chosen token missing from a full top list is less likely than all of it",
      );
    if (greedy) assert.equal(e.token, e.top_logprobs[0]!.token, "greedy decoding picks the most likely token");
  }
}

describe("logprobs", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 4, maxN: 4 });
  });
  after(() => t.close());

  test("chat: real values, sorted top lists, tokens that spell the reply", async () => {
    const res = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("Tell me about a cat"),
      max_tokens: 15,
      temperature: 0,
      logprobs: true,
      top_logprobs: 5,
    });
    const choice = res.choices[0]!;
    const content = choice.logprobs?.content ?? [];
    assert.equal(content.length, res.usage?.completion_tokens);
    assertWellFormed(content, 5, true);
    assert.equal(content.map((e) => e.token).join(""), choice.message.content);
    for (const e of content) assert.deepEqual(e.bytes, [...Buffer.from(e.token, "utf8")]);
    // Not a constant: the model is sure of some tokens and unsure of others.
    assert.ok(new Set(content.map((e) => e.logprob.toFixed(6))).size > 3);
  });

  test("chat: the text is the same with and without logprobs at temperature 0", async () => {
    const ask = (logprobs: boolean) =>
      t.client.chat.completions.create({
        model: MODEL,
        messages: user("Lily found a ball"),
        max_tokens: 25,
        temperature: 0,
        logprobs,
      });
    const [plain, scored] = [await ask(false), await ask(true)];
    assert.equal(scored.choices[0]!.message.content, plain.choices[0]!.message.content);
    assert.equal(scored.choices[0]!.finish_reason, plain.choices[0]!.finish_reason);
    assert.equal(plain.choices[0]!.logprobs, null);
  });

  test("chat, streamed: each chunk carries the logprobs of its own text, the same values as unstreamed", async () => {
    const body = {
      model: MODEL,
      messages: user("Tom had a dog"),
      max_tokens: 12,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
    } as const;
    const whole = await t.client.chat.completions.create(body);
    const stream = await t.client.chat.completions.create({ ...body, stream: true });
    const streamed: Entry[] = [];
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      const entries = c?.logprobs?.content ?? [];
      if (c?.delta.content) assert.equal(entries.map((e) => e.token).join(""), c.delta.content);
      streamed.push(...entries);
    }
    assertWellFormed(streamed, 3, true);
    const expected = whole.choices[0]!.logprobs?.content ?? [];
    assert.deepEqual(
      streamed.map((e) => e.token),
      expected.map((e) => e.token),
    );
    // A reused KV cache evaluates in other batches: the same up to float rounding.
    streamed.forEach((e, i) => assert.ok(Math.abs(e.logprob - expected[i]!.logprob) < 1e-4));
  });

  test("chat with the default sampling: top_logprobs N gives N entries from the whole distribution", async () => {
    // Before, they came from what top-k/top-p/min-p left, reshaped by the temperature: 2 to 4
    // entries summing to 1. OpenAI's come from the model's whole distribution.
    const ask = async (temperature: number, seed: number) =>
      (
        await t.client.chat.completions.create({
          model: MODEL,
          messages: user("Tell me about a cat"),
          max_tokens: 20,
          temperature,
          seed,
          logprobs: true,
          top_logprobs: 5,
        })
      ).choices[0]!.logprobs!.content!;
    const greedy = await ask(0, 1);
    for (const seed of [1, 2, 3]) {
      const sampled = await ask(0.8, seed);
      assertWellFormed(sampled, 5, false);
      for (const e of sampled)
        assert.equal(e.top_logprobs.length, 5, `'${e.token}': ${JSON.stringify(e.top_logprobs)}`);
      // The first token follows the same prompt: the same distribution whatever the sampling (up to
      // float rounding: a reused KV cache evaluates in other batches).
      assert.deepEqual(
        sampled[0]!.top_logprobs.map((a) => a.token),
        greedy[0]!.top_logprobs.map((a) => a.token),
      );
      sampled[0]!.top_logprobs.forEach((a, i) =>
        assert.ok(Math.abs(a.logprob - greedy[0]!.top_logprobs[i]!.logprob) < 1e-3, `${a.logprob} vs greedy`),
      );
    }
  });

  test("chat with sampling and logprobs: a seed repeats its reply, other seeds differ, JSON schemas hold", async () => {
    const ask = async (seed: number, extra: object = {}) =>
      (
        await t.client.chat.completions.create({
          model: MODEL,
          messages: user("Once upon a time"),
          max_tokens: 40,
          temperature: 1,
          seed,
          logprobs: true,
          top_logprobs: 2,
          ...extra,
        })
      ).choices[0]!;
    const texts = new Set<string>();
    for (const seed of [1, 2, 3, 4]) texts.add((await ask(seed)).message.content ?? "");
    assert.ok(texts.size >= 3, `sampled, not greedy: ${[...texts].join(" | ")}`);
    assert.equal((await ask(2)).message.content, (await ask(2)).message.content);
    // Drawn tokens are fed to the grammar (acceptGrammarToken): every reply still fits the schema.
    const schema = {
      type: "object",
      properties: { name: { type: "string", maxLength: 12 }, age: { type: "integer", minimum: 1, maximum: 99 } },
      required: ["name", "age"],
      additionalProperties: false,
    };
    const validate = new Ajv().compile(schema);
    for (const seed of [1, 2, 3]) {
      const choice = await ask(seed, {
        response_format: { type: "json_schema", json_schema: { name: "p", schema, strict: true } },
        max_tokens: 80,
      });
      assert.equal(choice.finish_reason, "stop");
      assert.ok(validate(JSON.parse(choice.message.content ?? "")), choice.message.content ?? "");
    }
  });

  test("chat with sampling: values describe the distribution the token was drawn from", async () => {
    const res = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("Once"),
      max_tokens: 30,
      temperature: 1.2,
      top_k: 0,
      top_p: 1,
      min_p: 0,
      seed: 11,
      logprobs: true,
      top_logprobs: 4,
    } as never);
    assertWellFormed((res as { choices: { logprobs: { content: Entry[] } }[] }).choices[0]!.logprobs.content, 4, false);
  });

  test("completions: logprobs N gives N alternatives per token and offsets into the text", async () => {
    const res = await t.client.completions.create({
      model: MODEL,
      prompt: "The dog",
      max_tokens: 10,
      temperature: 0,
      logprobs: 3,
    });
    const choice = res.choices[0]!;
    const lp = choice.logprobs!;
    assert.equal(lp.tokens!.join(""), choice.text);
    assert.equal(lp.tokens!.length, 10);
    lp.text_offset!.forEach((offset, i) => assert.equal(offset, lp.tokens!.slice(0, i).join("").length));
    lp.top_logprobs!.forEach((alternatives, i) => {
      const values = Object.values(alternatives!);
      assert.ok(values.length >= 1 && values.length <= 3);
      assert.ok(Math.max(...values) >= lp.token_logprobs![i]! - 1e-9);
      assert.ok(lp.token_logprobs![i]! <= 0);
    });
  });

  test("completions, streamed: logprobs per chunk, offsets continuing across chunks", async () => {
    const stream = await t.client.completions.create({
      model: MODEL,
      prompt: "The dog",
      max_tokens: 8,
      temperature: 0,
      logprobs: 2,
      stream: true,
    });
    let text = "";
    const tokens: string[] = [];
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (!c?.logprobs?.tokens) continue;
      assert.equal(c.logprobs.tokens.join(""), c.text);
      c.logprobs.text_offset!.forEach((offset, i) =>
        assert.equal(offset, text.length + c.logprobs!.tokens!.slice(0, i).join("").length),
      );
      text += c.text;
      tokens.push(...c.logprobs.tokens);
    }
    assert.equal(tokens.length, 8);
    assert.equal(tokens.join(""), text);
  });

  test("completions echo: prompt tokens are scored, and likelier text sums to a higher logprob", async () => {
    const score = async (prompt: string) => {
      const res = await t.client.completions.create({
        model: MODEL,
        prompt,
        max_tokens: 1,
        temperature: 0,
        echo: true,
        logprobs: 1,
      });
      const lp = res.choices[0]!.logprobs!;
      assert.ok(res.choices[0]!.text.startsWith(prompt));
      const promptTokens = lp.tokens!.length - 1;
      assert.equal(lp.tokens!.slice(0, promptTokens).join(""), prompt);
      const values = lp.token_logprobs!.slice(0, promptTokens);
      for (const v of values) assert.ok(v !== null && v <= 0);
      return values.reduce((s: number, v) => s + v!, 0);
    };
    const likely = await score("Once upon a time, there was a little girl");
    const unlikely = await score("Once upon a zebra, purple was a little girl");
    assert.ok(likely < 0 && unlikely < likely - 5, `log-likelihoods ${likely} vs ${unlikely}`);
  });

  test("a generated token's logprob equals its score when the same text is echoed back", async () => {
    const prompt = "Once upon a time";
    const gen = await t.client.completions.create({ model: MODEL, prompt, max_tokens: 3, temperature: 0, logprobs: 2 });
    const generated = gen.choices[0]!.logprobs!;
    const echoed = await t.client.completions.create({
      model: MODEL,
      prompt: prompt + gen.choices[0]!.text,
      max_tokens: 1,
      temperature: 0,
      echo: true,
      logprobs: 2,
    });
    const lp = echoed.choices[0]!.logprobs!;
    const start = lp.tokens!.length - 1 - generated.tokens!.length;
    generated.token_logprobs!.forEach((v, i) => {
      assert.equal(lp.tokens![start + i], generated.tokens![i]);
      assert.ok(Math.abs(lp.token_logprobs![start + i]! - v!) < 1e-3, `${lp.token_logprobs![start + i]} vs ${v}`);
    });
  });

  test("bad logprob requests are refused with a 400 naming the field", async () => {
    const cases = [
      [{ top_logprobs: 3 }, "top_logprobs"],
      [{ logprobs: true, top_logprobs: 21 }, "top_logprobs"],
      [
        {
          logprobs: true,
          tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: {} } } }],
        },
        "logprobs",
      ],
    ] as const;
    for (const [extra, param] of cases) {
      await assert.rejects(
        t.client.chat.completions.create({ model: MODEL, messages: user("x"), max_tokens: 2, ...extra } as never),
        (err: { status?: number; param?: string }) => err.status === 400 && err.param === param,
      );
    }
  });
});

describe("n choices", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 4, maxN: 4 });
  });
  after(() => t.close());

  test("chat: n choices decoded together, prompt counted once, completions added up", async () => {
    const one = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("Once upon a time"),
      max_tokens: 8,
      temperature: 1,
      seed: 5,
    });
    const res = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("Once upon a time"),
      max_tokens: 8,
      temperature: 1,
      seed: 5,
      n: 3,
    });
    assert.deepEqual(
      res.choices.map((c) => c.index),
      [0, 1, 2],
    );
    for (const c of res.choices) assert.ok((c.message.content ?? "").length > 0);
    assert.equal(
      res.choices[0]!.message.content,
      one.choices[0]!.message.content,
      "choice 0 is what n = 1 gives with the same seed",
    );
    assert.ok(new Set(res.choices.map((c) => c.message.content)).size > 1, "sampled choices differ");
    assert.equal(res.usage?.prompt_tokens, one.usage?.prompt_tokens);
    assert.equal(res.usage?.completion_tokens, 24);
  });

  test("chat, streamed: every choice gets its role, text and finish chunk", async () => {
    const stream = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("A dog"),
      max_tokens: 6,
      temperature: 1,
      n: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    const texts = ["", "", ""];
    const roles = new Set<number>();
    const finishes = new Map<number, string>();
    let usage: { completion_tokens: number } | null | undefined;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        if (c.delta.role) roles.add(c.index);
        texts[c.index] += c.delta.content ?? "";
        if (c.finish_reason) finishes.set(c.index, c.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.deepEqual([...roles].sort(), [0, 1, 2]);
    for (const text of texts) assert.ok(text.length > 0);
    assert.deepEqual([...finishes.keys()].sort(), [0, 1, 2]);
    assert.equal(usage?.completion_tokens, 18);
  });

  test("completions and logprobs work with n too", async () => {
    const res = await t.client.completions.create({
      model: MODEL,
      prompt: "The cat",
      max_tokens: 5,
      temperature: 1,
      n: 2,
      logprobs: 1,
    });
    assert.equal(res.choices.length, 2);
    for (const c of res.choices) {
      assert.equal(c.logprobs!.tokens!.join(""), c.text);
      assert.equal(c.logprobs!.tokens!.length, 5);
    }
    assert.equal(res.usage?.completion_tokens, 10);
  });

  test("n above the server's maxN is refused", async () => {
    await assert.rejects(
      t.client.chat.completions.create({ model: MODEL, messages: user("x"), n: 5 }),
      (err: { status?: number; param?: string; message?: string }) =>
        err.status === 400 && err.param === "n" && /at most 4/.test(err.message ?? ""),
    );
  });
});

describe("tool_choice through a template that knows tools", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 2, chatTemplate: "chatML" });
  });
  after(() => t.close());

  const weather = {
    type: "function" as const,
    function: {
      name: "get_weather",
      description: "Weather for a city",
      parameters: { type: "object", properties: { city: { type: "string", maxLength: 20 } } },
    },
  };

  test("auto documents the tools in the prompt; none leaves them out", async () => {
    const ask = (extra: object) =>
      t.client.chat.completions.create({ model: MODEL, messages: user("Weather in Paris?"), max_tokens: 3, ...extra });
    const plain = await ask({});
    const auto = await ask({ tools: [weather], tool_choice: "auto", parallel_tool_calls: false });
    const none = await ask({ tools: [weather], tool_choice: "none" });
    assert.ok(
      (auto.usage?.prompt_tokens ?? 0) > (plain.usage?.prompt_tokens ?? 0) + 20,
      "the function docs are in the prompt",
    );
    assert.equal(none.usage?.prompt_tokens, plain.usage?.prompt_tokens);
    assert.ok(["stop", "length", "tool_calls"].includes(auto.choices[0]!.finish_reason));
  });

  test("required and a named tool are enforced by grammar", async () => {
    for (const tool_choice of ["required", { type: "function", function: { name: "get_weather" } }] as const) {
      const res = await t.client.chat.completions.create({
        model: MODEL,
        messages: user("Weather in Paris?"),
        tools: [weather],
        tool_choice,
        max_tokens: 100,
      });
      const call = res.choices[0]!.message.tool_calls?.[0];
      assert.equal(res.choices[0]!.finish_reason, "tool_calls");
      assert.ok(call?.type === "function" && call.function.name === "get_weather");
      assert.equal(typeof (JSON.parse(call.function.arguments) as { city?: unknown }).city, "string");
    }
  });

  test("a forced call with logprobs still returns the call", async () => {
    const res = await t.client.chat.completions.create({
      model: MODEL,
      messages: user("Weather?"),
      tools: [weather],
      tool_choice: "required",
      max_tokens: 100,
      logprobs: true,
    });
    assert.equal(res.choices[0]!.finish_reason, "tool_calls");
    assert.equal(res.choices[0]!.message.tool_calls?.[0]?.type, "function");
  });
});

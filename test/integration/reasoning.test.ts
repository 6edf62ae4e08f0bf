/**
 * Thinking models end to end, on scripted models (scripts/make-test-models.ts) that carry the real
 * family's tokenizer and template: thoughts come out as `reasoning_content` (chat completions),
 * `reasoning` items (Responses) and `thinking` blocks (Anthropic), never in the answer text, and
 * the request controls (`reasoning_effort`, `enable_thinking`, `thinking`) reach the model.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import type OpenAI from "openai";
import { startTestServer, type TestServer } from "../helpers/server.js";
import type { ScriptedModelName } from "../helpers/scripted-models.js";
import { startScriptedServer, type ScriptedServer } from "../helpers/scripted-server.js";

const API_KEY = "reasoning-test-key-7f1e";
const USER = [{ role: "user" as const, content: "Hi" }];

/** The scripted models this file uses, served from one folder; the server loads them on demand. */
const MODELS: ScriptedModelName[] = [
  "qwen3-think",
  "qwen3-answer",
  "qwen3-think-forever",
  "gptoss-answer",
  "deepseek-r1-think",
  "llama31-answer",
];

let t: ScriptedServer;
let anthropic: Anthropic;

before(async () => {
  t = await startScriptedServer(MODELS, { apiKey: API_KEY });
  anthropic = new Anthropic({ baseURL: t.url, apiKey: API_KEY, maxRetries: 0, timeout: 60_000 });
});
after(async () => {
  await t?.close();
});

/** Model ids as the server lists them (the file name with its content hash). */
const model = (name: ScriptedModelName) => t.id(name);

/** A chat completion with fields the openai SDK's types do not list (vLLM's and llama-server's). */
function chat(body: Record<string, unknown>): Promise<OpenAI.ChatCompletion> {
  return t.client.chat.completions.create({ temperature: 0, messages: USER, ...body } as never);
}

type ReasoningMessage = OpenAI.ChatCompletionMessage & { reasoning_content?: string };
type ReasoningDelta = OpenAI.ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };

describe("chat completions: reasoning_content", () => {
  test("Qwen3's <think> becomes reasoning_content; the answer has no tags and no leading blank line", async () => {
    const res = await chat({ model: model("qwen3-think") });
    const message = res.choices[0]!.message as ReasoningMessage;
    assert.equal(message.content, "Hello there!");
    assert.equal(message.reasoning_content, "Let me count.");
    assert.equal(res.choices[0]!.finish_reason, "stop");
    const details = (res.usage as { completion_tokens_details?: { reasoning_tokens: number } })
      .completion_tokens_details;
    assert.ok(details && details.reasoning_tokens > 0 && details.reasoning_tokens < res.usage!.completion_tokens);
  });

  test("streamed: reasoning_content deltas come first, content never carries the thought", async () => {
    const stream = await t.client.chat.completions.create({
      model: model("qwen3-think"),
      messages: USER,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let reasoning = "";
    let content = "";
    let contentBeforeReasoningEnded = false;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as ReasoningDelta | undefined;
      if (delta?.reasoning_content) {
        reasoning += delta.reasoning_content;
        if (content) contentBeforeReasoningEnded = true;
      }
      if (delta?.content) content += delta.content;
    }
    assert.equal(reasoning, "Let me count.");
    assert.equal(content, "Hello there!");
    assert.equal(contentBeforeReasoningEnded, false);
  });

  test("reasoning_effort none, and enable_thinking false, answer without thinking", async () => {
    for (const extra of [{ reasoning_effort: "none" }, { chat_template_kwargs: { enable_thinking: false } }]) {
      const res = await chat({ model: model("qwen3-think"), ...extra });
      const message = res.choices[0]!.message as ReasoningMessage;
      assert.equal(message.content, "Hello there!", JSON.stringify(extra));
      assert.ok(!message.reasoning_content, JSON.stringify(extra));
    }
  });

  test("a model that does not think ignores reasoning_effort and just answers", async () => {
    const res = await chat({ model: model("llama31-answer"), reasoning_effort: "high" });
    const message = res.choices[0]!.message as ReasoningMessage;
    assert.equal(message.content, "Hello there!");
    assert.equal(message.reasoning_content, undefined);
  });

  test("gpt-oss: the analysis channel is reasoning, the final channel the answer", async () => {
    for (const effort of [undefined, "low", "high"]) {
      const res = await chat({ model: model("gptoss-answer"), ...(effort ? { reasoning_effort: effort } : {}) });
      const message = res.choices[0]!.message as ReasoningMessage;
      assert.equal(message.content, "Hello there!", String(effort));
      assert.equal(message.reasoning_content, "Let me count.", String(effort));
    }
  });

  test("DeepSeek-R1: a thought the template opened ends at </think>", async () => {
    const res = await chat({ model: model("deepseek-r1-think") });
    const message = res.choices[0]!.message as ReasoningMessage;
    assert.equal(message.content, "Hello there!");
    assert.equal(message.reasoning_content, "Let me count");
  });

  test("max_tokens inside a thought: finish_reason length, the thought so far, no content", async () => {
    const res = await chat({ model: model("qwen3-think-forever"), max_tokens: 12 });
    const message = res.choices[0]!.message as ReasoningMessage;
    assert.equal(res.choices[0]!.finish_reason, "length");
    assert.ok(message.reasoning_content?.startsWith("Counting sheep"), message.reasoning_content);
    assert.equal(message.content, "");
  });

  test("an earlier reply's reasoning_content sent back is accepted", async () => {
    const res = await chat({
      model: model("qwen3-think"),
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello there!", reasoning_content: "Let me count." },
        { role: "user", content: "Again" },
      ],
    });
    assert.equal(res.choices[0]!.message.content, "Hello there!");
  });
});

describe("Anthropic Messages: thinking blocks", () => {
  test("a thinking block before the text block; thinking disabled turns it off", async () => {
    const msg = await anthropic.messages.create({
      model: model("qwen3-think"),
      max_tokens: 64,
      messages: USER,
    });
    assert.deepEqual(
      msg.content.map((b) => b.type),
      ["thinking", "text"],
    );
    assert.equal((msg.content[0] as Anthropic.ThinkingBlock).thinking, "Let me count.");
    assert.equal((msg.content[1] as Anthropic.TextBlock).text, "Hello there!");
    const off = await anthropic.messages.create({
      model: model("qwen3-think"),
      max_tokens: 64,
      messages: USER,
      thinking: { type: "disabled" },
    });
    assert.deepEqual(
      off.content.map((b) => b.type),
      ["text"],
    );
  });

  test("streamed: thinking_delta events in their own block, then text_delta; the SDK assembles both", async () => {
    const stream = anthropic.messages.stream({
      model: model("gptoss-answer"),
      max_tokens: 64,
      messages: USER,
      thinking: { type: "enabled", budget_tokens: 1024 },
    });
    const deltas: string[] = [];
    stream.on("streamEvent", (e) => {
      if (e.type === "content_block_delta") deltas.push(e.delta.type);
    });
    const msg = await stream.finalMessage();
    assert.ok(deltas.includes("thinking_delta") && deltas.includes("text_delta"));
    assert.ok(deltas.indexOf("text_delta") > deltas.lastIndexOf("thinking_delta"), "thoughts come first");
    assert.deepEqual(
      msg.content.map((b) => (b.type === "thinking" ? `thinking:${b.thinking}` : b.type === "text" ? b.text : b.type)),
      ["thinking:Let me count.", "Hello there!"],
    );
  });

  test("a thinking budget of 0 tokens answers at once; thinking blocks sent back are accepted", async () => {
    const msg = await anthropic.messages.create({
      model: model("qwen3-think"),
      max_tokens: 64,
      thinking: { type: "enabled", budget_tokens: 0 },
      messages: [
        { role: "user", content: "Hi" },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Let me count.", signature: "" },
            { type: "text", text: "Hello there!" },
          ],
        },
        { role: "user", content: "Again" },
      ],
    });
    assert.deepEqual(
      msg.content.map((b) => b.type),
      ["text"],
    );
  });
});

describe("Responses API: reasoning items", () => {
  test("a reasoning item with the thought's text, then the message; usage counts reasoning tokens", async () => {
    const res = await t.client.responses.create({ model: model("qwen3-think"), input: "Hi", temperature: 0 });
    assert.deepEqual(
      res.output.map((o) => o.type),
      ["reasoning", "message"],
    );
    const reasoning = res.output[0] as OpenAI.Responses.ResponseReasoningItem;
    assert.deepEqual(reasoning.content, [{ type: "reasoning_text", text: "Let me count." }]);
    assert.equal(res.output_text, "Hello there!");
    assert.ok(res.usage!.output_tokens_details.reasoning_tokens > 0);
  });

  test("streamed: reasoning_text deltas in the reasoning item; effort none gives no reasoning item", async () => {
    const stream = await t.client.responses.create({
      model: model("deepseek-r1-think"),
      input: "Hi",
      temperature: 0,
      stream: true,
    });
    let thought = "";
    let text = "";
    const added: string[] = [];
    for await (const e of stream) {
      if (e.type === "response.reasoning_text.delta") thought += e.delta;
      if (e.type === "response.output_text.delta") text += e.delta;
      if (e.type === "response.output_item.added") added.push(e.item.type);
    }
    assert.equal(thought, "Let me count");
    assert.equal(text, "Hello there!");
    assert.deepEqual(added, ["reasoning", "message"]);

    const off = await t.client.responses.create({
      model: model("qwen3-think"),
      input: "Hi",
      temperature: 0,
      reasoning: { effort: "none" as never },
    });
    assert.deepEqual(
      off.output.map((o) => o.type),
      ["message"],
    );
    assert.equal(off.reasoning?.effort, "none");
  });

  test("GET returns the reasoning item and reasoning.effort as POST (and the stream) returned them", async () => {
    const created = await t.client.responses.create({
      model: model("qwen3-think"),
      input: "Hi",
      temperature: 0,
      reasoning: { effort: "high" },
    });
    assert.deepEqual(
      created.output.map((o) => o.type),
      ["reasoning", "message"],
    );
    assert.equal(created.reasoning?.effort, "high");
    assert.deepEqual(await t.client.responses.retrieve(created.id), created);

    const stream = await t.client.responses.create({
      model: model("qwen3-think"),
      input: "Hi",
      temperature: 0,
      reasoning: { effort: "medium" },
      stream: true,
    });
    let final: OpenAI.Responses.Response | undefined;
    for await (const e of stream) if (e.type === "response.completed") final = e.response;
    assert.ok(final);
    const { output_text: _text, ...got } = await t.client.responses.retrieve(final.id);
    assert.deepEqual(got, final);
    assert.equal((got.output[0] as OpenAI.Responses.ResponseReasoningItem).content?.[0]?.text, "Let me count.");
  });

  test("reasoning items sent back as input are accepted", async () => {
    const res = await t.client.responses.create({
      model: model("qwen3-think"),
      temperature: 0,
      store: false,
      input: [
        { role: "user", content: "Hi" },
        {
          type: "reasoning",
          id: "rs_1",
          summary: [],
          content: [{ type: "reasoning_text", text: "Let me count." }],
        },
        { role: "assistant", content: "Hello there!" },
        { role: "user", content: "Again" },
      ] as never,
    });
    assert.equal(res.output_text, "Hello there!");
  });
});

describe("remote providers pass reasoning through", () => {
  let proxy: TestServer;
  before(async () => {
    proxy = await startTestServer({ apiKey: "proxy-key-2b7c" }, { withModel: false });
    const res = await fetch(`${proxy.url}/api/providers`, {
      method: "POST",
      headers: { authorization: "Bearer proxy-key-2b7c", "content-type": "application/json" },
      body: JSON.stringify({ id: "up", name: "Upstream", kind: "vllm", baseUrl: `${t.url}/v1`, apiKey: API_KEY }),
    });
    assert.equal(res.status, 201);
  });
  after(() => proxy?.close());

  test("reasoning_content, reasoning items and thinking blocks from an upstream's reasoning_content", async () => {
    const remote = `up/${model("qwen3-think")}`;
    const chatRes = (await proxy.client.chat.completions.create({
      model: remote,
      messages: USER,
      temperature: 0,
    })) as OpenAI.ChatCompletion;
    const message = chatRes.choices[0]!.message as ReasoningMessage;
    assert.equal(message.reasoning_content, "Let me count.");
    assert.equal(message.content, "Hello there!");

    const resp = await proxy.client.responses.create({ model: remote, input: "Hi", temperature: 0 });
    assert.deepEqual(
      resp.output.map((o) => o.type),
      ["reasoning", "message"],
    );

    const proxyAnthropic = new Anthropic({ baseURL: proxy.url, apiKey: "proxy-key-2b7c", maxRetries: 0 });
    const msg = await proxyAnthropic.messages.create({ model: remote, max_tokens: 64, messages: USER });
    assert.deepEqual(
      msg.content.map((b) => b.type),
      ["thinking", "text"],
    );
  });

  test("reasoning_effort none reaches the upstream", async () => {
    const off = (await proxy.client.chat.completions.create({
      model: `up/${model("qwen3-think")}`,
      messages: USER,
      temperature: 0,
      reasoning_effort: "none" as never,
    })) as OpenAI.ChatCompletion;
    assert.ok(!(off.choices[0]!.message as ReasoningMessage).reasoning_content);
  });
});

describe("templates, stops and special tokens", () => {
  test("logprobs from a model that thinks: a 400 naming logprobs, as OpenAI's reasoning models answer", async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: model("qwen3-think"), messages: USER, logprobs: true }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    assert.equal(body.error.param, "logprobs");
    assert.match(body.error.message, /thinks/);
  });

  test("an end-of-turn token ends the reply as stop, never as text (chat, logprobs, completions)", async () => {
    // Llama 3.1's reply ends with <|eot_id|>; its template's own stop is the same token, the
    // logprobs and raw completion paths have only the model's end-of-generation tokens to go by.
    const plain = await chat({ model: model("llama31-answer") });
    assert.equal(plain.choices[0]!.message.content, "Hello there!");
    assert.equal(plain.choices[0]!.finish_reason, "stop");
    const withLogprobs = await chat({ model: model("llama31-answer"), logprobs: true, top_logprobs: 2 });
    assert.equal(withLogprobs.choices[0]!.message.content, "Hello there!");
    assert.equal(withLogprobs.choices[0]!.finish_reason, "stop");
    assert.equal(withLogprobs.choices[0]!.logprobs!.content!.map((e) => e.token).join(""), "Hello there!");
    const completion = await t.client.completions.create({
      model: model("qwen3-answer"),
      prompt: "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
      max_tokens: 20,
      temperature: 0,
    });
    assert.equal(completion.choices[0]!.text, "Hello there!");
    assert.equal(completion.choices[0]!.finish_reason, "stop");
  });

  test("special tokens typed in a chat message stay text; in a raw completion prompt they are tokens", async () => {
    const count = async (content: string) => {
      const res = await anthropic.messages.countTokens({
        model: model("qwen3-answer"),
        messages: [{ role: "user", content }],
      });
      return res.input_tokens;
    };
    // As text, "<|im_start|>" is several tokens ("<", "|", "im", "_start", "|>"); as the special token, one.
    const typed = (await count("x<|im_start|>system")) - (await count("x system"));
    assert.ok(typed >= 4, `the typed marker took ${typed} more tokens than a space`);

    const raw = await t.client.completions.create({
      model: model("qwen3-answer"),
      prompt: "<|im_start|>",
      max_tokens: 1,
    });
    assert.equal(raw.usage!.prompt_tokens, 1, "the special token in a completion prompt is one token");
  });
});

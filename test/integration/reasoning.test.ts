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
import { scriptedModel, type ScriptedModelName } from "../helpers/scripted-models.js";

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

let t: TestServer;
let anthropic: Anthropic;
/** Model ids as the server lists them (the file name without its content hash). */
const ids = new Map<ScriptedModelName, string>();

before(async () => {
  const files = MODELS.map((name) => scriptedModel(name));
  const dir = files[0]!.slice(0, files[0]!.lastIndexOf("/"));
  t = await startTestServer({ apiKey: API_KEY, modelDirs: [dir], parallel: 1 }, { withModel: false });
  anthropic = new Anthropic({ baseURL: t.url, apiKey: API_KEY, maxRetries: 0, timeout: 60_000 });
  const listed = (await t.client.models.list()).data.map((m) => m.id);
  for (const name of MODELS) {
    const id = listed.find((m) => m.startsWith(`${name}-`) || m === name);
    assert.ok(id, `${name} is listed (${listed.join(", ")})`);
    ids.set(name, id);
  }
});
after(() => t?.close());

const model = (name: ScriptedModelName) => ids.get(name)!;

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

void anthropic;

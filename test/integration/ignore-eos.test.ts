/**
 * `ignore_eos` (vLLM's and llama.cpp's extension, which serving benchmarks such as `vllm bench
 * serve` send) on local models: every end-of-generation token is biased off, so a reply runs to
 * `max_tokens`. Scripted models (scripts/make-test-models.ts) end their turn after "Hello there!"
 * with their family's own end tokens (Qwen3's `<|im_end|>`, Llama 3.1's `<|eot_id|>`), through the
 * official `openai` client. Before, local models answered 400 "'ignore_eos' is a vLLM parameter".
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type OpenAI from "openai";
import type { ScriptedModelName } from "../helpers/scripted-models.js";
import { startScriptedServer, type ScriptedServer } from "../helpers/scripted-server.js";

const MODELS: ScriptedModelName[] = ["qwen3-answer", "llama31-answer"];
const MAX = 12;

let t: ScriptedServer;

before(async () => {
  t = await startScriptedServer(MODELS);
});
after(async () => {
  await t?.close();
});

/** A chat completion with fields the openai SDK's types do not list (vLLM's). */
function chat(name: ScriptedModelName, body: Record<string, unknown>): Promise<OpenAI.ChatCompletion> {
  return t.client.chat.completions.create({
    model: t.id(name),
    messages: [{ role: "user", content: "Hi" }],
    temperature: 0,
    max_tokens: MAX,
    ...body,
  } as never);
}

for (const name of MODELS) {
  test(`${name}: ignore_eos runs past the end of the turn to max_tokens, on every decode path`, async () => {
    const ended = await chat(name, {});
    assert.equal(ended.choices[0]!.finish_reason, "stop");
    assert.equal(ended.choices[0]!.message.content, "Hello there!");

    // Qwen3 thinks, and logprobs are refused for models that think (local-model.ts).
    const logprobs = name === "qwen3-answer" ? [] : [{ logprobs: true, top_logprobs: 2 }];
    for (const extra of [{}, ...logprobs, { ignore_eos: false }]) {
      const res = await chat(name, { ignore_eos: true, ...extra });
      if ("ignore_eos" in extra) {
        assert.equal(res.choices[0]!.finish_reason, "stop", "ignore_eos: false changes nothing");
        continue;
      }
      assert.equal(res.choices[0]!.finish_reason, "length", JSON.stringify(extra));
      assert.equal(res.usage!.completion_tokens, MAX);
      assert.ok(res.choices[0]!.message.content!.startsWith("Hello there!"), res.choices[0]!.message.content!);
    }

    const stream = await t.client.chat.completions.create({
      model: t.id(name),
      messages: [{ role: "user", content: "Hi" }],
      temperature: 0,
      max_tokens: MAX,
      stream: true,
      stream_options: { include_usage: true },
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    let finish: string | null = null;
    let tokens = 0;
    for await (const chunk of stream) {
      finish = chunk.choices[0]?.finish_reason ?? finish;
      tokens = chunk.usage?.completion_tokens ?? tokens;
    }
    assert.deepEqual([finish, tokens], ["length", MAX]);
  });
}

test("completions: ignore_eos on a raw prompt, and a stop string still ends the text", async () => {
  const prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
  const complete = (body: Record<string, unknown>) =>
    t.client.completions.create({
      model: t.id("qwen3-answer"),
      prompt,
      temperature: 0,
      max_tokens: MAX,
      ...body,
    } as never) as Promise<OpenAI.Completion>;
  const ended = await complete({});
  assert.equal(ended.choices[0]!.finish_reason, "stop");
  assert.equal(ended.choices[0]!.text, "Hello there!");
  for (const extra of [{}, { logprobs: 1 }]) {
    const res = await complete({ ignore_eos: true, ...extra });
    assert.equal(res.choices[0]!.finish_reason, "length");
    assert.equal(res.usage!.completion_tokens, MAX);
  }
  const stopped = await complete({ ignore_eos: true, stop: ["there"] });
  assert.equal(stopped.choices[0]!.finish_reason, "stop");
  assert.equal(stopped.choices[0]!.text, "Hello ");
});

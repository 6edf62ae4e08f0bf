/**
 * Tool calls in each family's own syntax, end to end: scripted models (scripts/make-test-models.ts)
 * that write Qwen3's `<tool_call>` JSON, gpt-oss's commentary channel and Llama 3.1's
 * `<function=...>` are parsed by the family's chat wrapper into `tool_calls` (chat completions),
 * `function_call` items (Responses) and `tool_use` blocks (Anthropic), with none of the syntax left
 * in the text; a second turn carrying the tool's result is rendered back in the family's syntax and
 * answered. And Gemma 3, which has no system role, still gets the system prompt.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import type OpenAI from "openai";
import type { ScriptedModelName } from "../helpers/scripted-models.js";
import { startScriptedServer, type ScriptedServer } from "../helpers/scripted-server.js";

const API_KEY = "family-tools-test-key-3c9a";

/** Each family's tool-calling model and the answering model of the same family. */
const FAMILIES = [
  { tool: "qwen3-tool", answer: "qwen3-answer" },
  { tool: "gptoss-tool", answer: "gptoss-answer" },
  { tool: "llama31-tool", answer: "llama31-answer" },
] as const satisfies { tool: ScriptedModelName; answer: ScriptedModelName }[];

const MODELS: ScriptedModelName[] = [...FAMILIES.flatMap((f) => [f.tool, f.answer]), "gemma3-answer"];

/** Pieces of the families' call syntax that must never reach a client as text. */
const RAW_SYNTAX = [
  "<tool_call>",
  "</tool_call>",
  "<function=",
  "</function>",
  "<|channel|>",
  "<|constrain|>",
  "<|message|>",
  "<|call|>",
  "<|eom_id|>",
  "<|python_tag|>",
  '"name":',
];
const assertNoSyntax = (text: string | null | undefined, where: string) => {
  for (const raw of RAW_SYNTAX) assert.ok(!text?.includes(raw), `${where}: ${JSON.stringify(text)} holds ${raw}`);
};
/** The arguments as the model wrote them: Paris, and nothing of node-llama-cpp's params grammar after. */
const assertParis = (args: string) => {
  assert.deepEqual(JSON.parse(args), PARIS);
  assert.match(args, /^\{.*\}$/s, `arguments end at their JSON: ${JSON.stringify(args)}`);
};

const QUESTION = "What is the weather in Paris?";
const PARIS = { city: "Paris" };
const RESULT = '{"temperature_c": 21, "sky": "sunny"}';

const weather: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const responsesWeather: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "get_weather",
  description: "The weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};
const anthropicWeather: Anthropic.Tool = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

let t: ScriptedServer;
let anthropic: Anthropic;
/** Model ids as the server lists them (the file name with its content hash). */
const model = (name: ScriptedModelName) => t.id(name);

before(async () => {
  // Only the models this file uses: scanning every 150k-vocabulary scripted file costs ~0.75 s each.
  t = await startScriptedServer(MODELS, { apiKey: API_KEY });
  anthropic = new Anthropic({ baseURL: t.url, apiKey: API_KEY, maxRetries: 0, timeout: 60_000 });
});
after(async () => {
  await t?.close();
});

for (const { tool, answer } of FAMILIES) {
  describe(`${tool}: the family's own tool-call syntax`, () => {
    test("chat completions: a tool call, finish_reason tool_calls, no syntax in content", async () => {
      const res = await t.client.chat.completions.create({
        model: model(tool),
        temperature: 0,
        messages: [{ role: "user", content: QUESTION }],
        tools: [weather],
      });
      const choice = res.choices[0]!;
      assert.equal(choice.finish_reason, "tool_calls");
      const calls = choice.message.tool_calls ?? [];
      assert.equal(calls.length, 1);
      const call = calls[0]!;
      assert.ok(call.type === "function");
      assert.equal(call.function.name, "get_weather");
      assertParis(call.function.arguments);
      assert.match(call.id, /^call_/);
      assert.ok(!choice.message.content, `no text: ${JSON.stringify(choice.message.content)}`);
    });

    test("chat completions, streamed: tool_call deltas; no content delta carries the syntax", async () => {
      const stream = await t.client.chat.completions.create({
        model: model(tool),
        temperature: 0,
        messages: [{ role: "user", content: QUESTION }],
        tools: [weather],
        stream: true,
      });
      let content = "";
      let name = "";
      let args = "";
      let finish: string | null = null;
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta;
        if (delta?.content) {
          assertNoSyntax(delta.content, "a content delta");
          content += delta.content;
        }
        for (const tc of delta?.tool_calls ?? []) {
          assert.equal(tc.index, 0);
          name += tc.function?.name ?? "";
          args += tc.function?.arguments ?? "";
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      assertNoSyntax(content, "the streamed content");
      assert.equal(content.trim(), "");
      assert.equal(name, "get_weather");
      assertParis(args);
      assert.equal(finish, "tool_calls");
    });

    test("Responses API: a function_call item and no message text", async () => {
      const res = await t.client.responses.create({
        model: model(tool),
        temperature: 0,
        input: QUESTION,
        tools: [responsesWeather],
        store: false,
      });
      const calls = res.output.filter((o) => o.type === "function_call");
      assert.equal(calls.length, 1);
      const call = calls[0]!;
      assert.ok(call.type === "function_call");
      assert.equal(call.name, "get_weather");
      assertParis(call.arguments);
      assertNoSyntax(res.output_text, "output_text");
      assert.equal(res.output_text.trim(), "");
    });

    test("Anthropic Messages: a tool_use block, stop_reason tool_use, streamed too", async () => {
      const request = {
        model: model(tool),
        max_tokens: 200,
        tools: [anthropicWeather],
        messages: [{ role: "user" as const, content: QUESTION }],
      };
      const msg = await anthropic.messages.create(request);
      assert.equal(msg.stop_reason, "tool_use");
      const uses = msg.content.filter((b) => b.type === "tool_use");
      assert.equal(uses.length, 1);
      assert.equal(uses[0]!.name, "get_weather");
      assert.deepEqual(uses[0]!.input, PARIS);
      for (const b of msg.content) if (b.type === "text") assertNoSyntax(b.text, "a text block");

      const stream = anthropic.messages.stream(request);
      stream.on("text", (delta) => assertNoSyntax(delta, "a text_delta"));
      const streamed = await stream.finalMessage();
      assert.equal(streamed.stop_reason, "tool_use");
      const use = streamed.content.find((b) => b.type === "tool_use");
      assert.ok(use?.type === "tool_use");
      assert.deepEqual(use.input, PARIS);
    });

    test("chat completions: the tool's result goes back and is answered, by either model", async () => {
      const messages: OpenAI.ChatCompletionMessageParam[] = [
        { role: "user", content: QUESTION },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: RESULT },
      ];
      const answered = await t.client.chat.completions.create({
        model: model(answer),
        temperature: 0,
        messages,
        tools: [weather],
      });
      assert.equal(answered.choices[0]!.finish_reason, "stop");
      assert.equal(answered.choices[0]!.message.content, "Hello there!");
      // The tool model only knows how to call: whatever it writes, it is a well-formed reply.
      const again = await t.client.chat.completions.create({
        model: model(tool),
        temperature: 0,
        messages,
        tools: [weather],
      });
      const choice = again.choices[0]!;
      assert.ok(["stop", "tool_calls", "length"].includes(choice.finish_reason), choice.finish_reason);
      assertNoSyntax(choice.message.content, "the second turn's content");
    });

    test("Responses API: a function_call_output goes back and is answered", async () => {
      const res = await t.client.responses.create({
        model: model(answer),
        temperature: 0,
        store: false,
        tools: [responsesWeather],
        input: [
          { role: "user", content: QUESTION },
          { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
          { type: "function_call_output", call_id: "call_1", output: RESULT },
        ],
      });
      assert.equal(res.status, "completed");
      assert.equal(res.output_text, "Hello there!");
    });

    test("Anthropic Messages: a tool_result goes back and is answered", async () => {
      const msg = await anthropic.messages.create({
        model: model(answer),
        max_tokens: 200,
        tools: [anthropicWeather],
        messages: [
          { role: "user", content: QUESTION },
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: PARIS }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: RESULT }] },
        ],
      });
      assert.equal(msg.stop_reason, "end_turn");
      const text = msg.content.filter((b) => b.type === "text").map((b) => b.text);
      assert.deepEqual(text, ["Hello there!"]);
    });
  });
}

describe("Gemma 3: no system role, the system prompt still reaches the model", () => {
  const SYSTEM = "You are a weather assistant. Answer in one short sentence and always name the city you mean.";

  test("count_tokens and usage.prompt_tokens grow by the system prompt", async () => {
    const count = async (system?: string) =>
      (
        await anthropic.messages.countTokens({
          model: model("gemma3-answer"),
          messages: [{ role: "user", content: QUESTION }],
          ...(system ? { system } : {}),
        })
      ).input_tokens;
    const without = await count();
    const withSystem = await count(SYSTEM);
    // The system text is about 20 tokens; Gemma's template folds it into the first user turn.
    assert.ok(withSystem - without >= 15, `${withSystem} vs ${without}`);

    const prompt = async (messages: OpenAI.ChatCompletionMessageParam[]) => {
      const res = await t.client.chat.completions.create({
        model: model("gemma3-answer"),
        temperature: 0,
        max_tokens: 5,
        messages,
      });
      return res.usage!.prompt_tokens;
    };
    const user = { role: "user" as const, content: QUESTION };
    const plain = await prompt([user]);
    const system = await prompt([{ role: "system", content: SYSTEM }, user]);
    assert.ok(system - plain >= 15, `${system} vs ${plain}`);
  });
});

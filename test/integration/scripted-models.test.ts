/**
 * The scripted test models (scripts/make-test-models.ts) through node-llama-cpp directly: which
 * chat wrapper each resolves to, that the family's generic Jinja template renders too, and that
 * greedy generation from a chat prompt (either wrapper's) writes exactly the script. The server's
 * reasoning and tool-call tests build on these files.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  getLlama,
  JinjaTemplateChatWrapper,
  LlamaChat,
  resolveChatWrapper,
  type ChatWrapper,
  type Llama,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { Thinking, thinksFromFile } from "../../server/engine/thinking.js";
import { SCRIPTED_MODELS, scriptOf, scriptedModel, type ScriptedModelName } from "../helpers/scripted-models.js";

/** What resolveChatWrapper picks for each file (as for the family's published GGUFs). */
const WRAPPERS: Record<ScriptedModelName, string> = {
  "qwen3-answer": "QwenChatWrapper",
  "qwen3-think": "QwenChatWrapper",
  "qwen3-think-forever": "QwenChatWrapper",
  "qwen3-answer-forever": "QwenChatWrapper",
  "qwen3-tool": "QwenChatWrapper",
  "qwen3-exec": "QwenChatWrapper",
  "qwen3-mcp-echo": "QwenChatWrapper",
  "gptoss-answer": "HarmonyChatWrapper",
  "gptoss-tool": "HarmonyChatWrapper",
  "deepseek-r1-think": "DeepSeekChatWrapper",
  "llama31-answer": "Llama3_1ChatWrapper",
  "llama31-tool": "Llama3_1ChatWrapper",
  "llama31-json-tool": "Llama3_1ChatWrapper",
  "gemma3-answer": "GemmaChatWrapper",
};

/** The end-of-generation tokens the scripts end with. */
const END_TOKENS = [
  "<|im_end|>",
  "<|return|>",
  "<|call|>",
  "<｜end▁of▁sentence｜>",
  "<|eot_id|>",
  "<|eom_id|>",
  "<end_of_turn>",
];

/**
 * Where the generic Jinja template's prompt already holds part of the reply, the model goes on
 * from there: Qwen3's template closes an empty <think></think> for the reply it opens, gpt-oss's
 * opens the final channel.
 */
const JINJA_REPLIES: Partial<Record<ScriptedModelName, string>> = {
  "qwen3-think": "Hello there!<|im_end|>",
  "gptoss-answer": "Hello there!<|return|>",
  "gptoss-tool": '{"city":"Paris"}<|call|>',
};

const functions = {
  get_weather: {
    description: "The weather in a city",
    params: { type: "object", properties: { city: { type: "string" } } },
  },
} as const;

let llama: Llama;
const loaded = new Map<ScriptedModelName, Promise<LlamaModel>>();
/** Each file is loaded once for the whole test file (loading a 150k-token vocabulary takes a while). */
function load(name: ScriptedModelName): Promise<LlamaModel> {
  let model = loaded.get(name);
  if (!model) loaded.set(name, (model = llama.loadModel({ modelPath: scriptedModel(name) })));
  return model;
}
before(async () => {
  llama = await getLlama({ gpu: false, logLevel: "error" as never });
});
after(async () => {
  for (const model of loaded.values()) await (await model).dispose();
  await llama?.dispose();
});

/** Greedy tokens after the wrapper's prompt for one user message, as text with special tokens. */
async function rawReply(model: LlamaModel, wrapper: ChatWrapper, maxTokens: number): Promise<string> {
  const { contextText } = wrapper.generateContextState({
    chatHistory: [
      { type: "user", text: "What is the weather in Paris?" },
      { type: "model", response: [] },
    ],
  });
  const context = await model.createContext({ contextSize: 2048, threads: 1 });
  try {
    const out: Token[] = [];
    for await (const token of context
      .getSequence()
      .evaluate(contextText.tokenize(model.tokenizer), { temperature: 0, yieldEogToken: true })) {
      out.push(token);
      if (model.isEogToken(token) || out.length >= maxTokens) break;
    }
    // detokenize leaves end-of-generation tokens out: name the last one by the text it would have.
    const last = out.at(-1);
    if (last === undefined || !model.isEogToken(last)) return model.detokenize(out, true);
    const end = END_TOKENS.find((t) => model.tokenize(t, true).join() === String(last)) ?? "<?>";
    return model.detokenize(out.slice(0, -1), true) + end;
  } finally {
    await context.dispose();
  }
}

async function chatReply(model: LlamaModel, wrapper: ChatWrapper, name: ScriptedModelName, maxTokens = 60) {
  const context = await model.createContext({ contextSize: 2048, threads: 1 });
  const chat = new LlamaChat({ contextSequence: context.getSequence(), chatWrapper: wrapper });
  try {
    return await chat.generateResponse(
      [
        { type: "user", text: "What is the weather in Paris?" },
        { type: "model", response: [] },
      ],
      { temperature: 0, maxTokens, functions: name.endsWith("-tool") ? functions : undefined },
    );
  } finally {
    await chat.dispose();
    await context.dispose();
  }
}

for (const name of Object.keys(SCRIPTED_MODELS) as ScriptedModelName[]) {
  const spec = scriptOf(name);
  // The text the model writes: the script, or for an endless one its first stretch.
  const expected = spec.repeat ? spec.text + spec.repeat.repeat(3) : spec.text;

  describe(`scripted model ${name}`, () => {
    let model: LlamaModel;
    before(async () => {
      model = await load(name);
    });

    test("whether it thinks is known from the file before loading, as the loaded chat format says", () => {
      // The library scan's answer (facts.thinks, engine/thinking.ts thinksFromFile) is what the UI
      // offers the Reasoning control by before a first load: it must agree with the loaded model's.
      const loaded = new Thinking(resolveChatWrapper(model)).thinks;
      assert.equal(thinksFromFile(model.fileInfo, path.basename(scriptedModel(name))), loaded);
      assert.equal(loaded, !name.startsWith("llama31") && !name.startsWith("gemma3"), "the families that think");
    });

    test(`resolves to ${WRAPPERS[name]} and writes the script from its prompt`, async () => {
      const wrapper = resolveChatWrapper(model);
      assert.equal(wrapper.constructor.name, WRAPPERS[name]);
      const text = await rawReply(model, wrapper, spec.repeat ? 200 : 100);
      assert.equal(spec.repeat ? text.slice(0, expected.length) : text, expected);
    });

    test("writes the script from the generic Jinja template's prompt too", async () => {
      const template = model.fileInfo.metadata.tokenizer.chat_template;
      assert.ok(template, "the file carries a chat template");
      const wrapper = new JinjaTemplateChatWrapper({ template, tokenizer: model.tokenizer });
      const text = await rawReply(model, wrapper, spec.repeat ? 200 : 100);
      const want = JINJA_REPLIES[name] ?? expected;
      assert.equal(spec.repeat ? text.slice(0, want.length) : text, want);
    });
  });
}

// What node-llama-cpp's own wrappers make of the scripts: facts the server's parsing builds on.
describe("chat wrappers on the scripted models", () => {
  test("QwenChatWrapper splits <think> into a thought segment", async () => {
    const model = await load("qwen3-think");
    const res = await chatReply(model, resolveChatWrapper(model), "qwen3-think");
    assert.equal(res.metadata.stopReason, "eogToken");
    assert.deepEqual(
      res.fullResponse.map((r) => (typeof r === "string" ? r : `[${r.segmentType}:${r.text}]`)),
      ["", "[thought:Let me count.]", "\n\nHello there!"],
    );
  });

  test("a thought that never closes stops at maxTokens with the segment still open", async () => {
    const model = await load("qwen3-think-forever");
    const res = await chatReply(model, resolveChatWrapper(model), "qwen3-think-forever", 20);
    assert.equal(res.metadata.stopReason, "maxTokens");
    const thought = res.fullResponse.find((r) => typeof r !== "string");
    assert.ok(thought && typeof thought !== "string" && thought.segmentType === "thought" && !thought.ended);
    assert.ok(thought.text.startsWith("Counting sheep keeps me calm"));
  });

  test("HarmonyChatWrapper turns the analysis channel into a thought and final into text", async () => {
    const model = await load("gptoss-answer");
    const res = await chatReply(model, resolveChatWrapper(model), "gptoss-answer");
    assert.deepEqual(
      res.fullResponse.map((r) => (typeof r === "string" ? r : `[${r.segmentType}:${r.text}]`)),
      ["[thought:Let me count.]", "Hello there!"],
    );
  });

  test("HarmonyChatWrapper, QwenChatWrapper and Llama3_1ChatWrapper parse their tool calls", async () => {
    for (const name of ["gptoss-tool", "qwen3-tool", "llama31-tool"] as const) {
      const model = await load(name);
      const res = await chatReply(model, resolveChatWrapper(model), name);
      assert.equal(res.metadata.stopReason, "functionCalls", name);
      assert.deepEqual(
        res.functionCalls?.map((c) => [c.functionName, c.params]),
        [["get_weather", { city: "Paris" }]],
        name,
      );
      assert.equal(res.response, "", `${name}: no call syntax left in the text`);
    }
  });

  test("Llama 3.1's JSON tool call: Llama3_1ChatWrapper leaves it as text, the file's Jinja template parses it", async () => {
    const model = await load("llama31-json-tool");
    const own = await chatReply(model, resolveChatWrapper(model), "llama31-json-tool");
    assert.equal(own.metadata.stopReason, "eogToken");
    assert.equal(own.functionCalls, undefined);
    assert.equal(own.response, '{"name": "get_weather", "parameters": {"city": "Paris"}}');

    const template = model.fileInfo.metadata.tokenizer.chat_template!;
    const jinja = new JinjaTemplateChatWrapper({ template, tokenizer: model.tokenizer });
    const res = await chatReply(model, jinja, "llama31-json-tool");
    assert.equal(res.metadata.stopReason, "functionCalls");
    assert.deepEqual(
      res.functionCalls?.map((c) => [c.functionName, c.params]),
      [["get_weather", { city: "Paris" }]],
    );
  });

  test("an answer that never ends stops at maxTokens as plain text", async () => {
    const model = await load("qwen3-answer-forever");
    const res = await chatReply(model, resolveChatWrapper(model), "qwen3-answer-forever", 20);
    assert.equal(res.metadata.stopReason, "maxTokens");
    assert.equal(res.fullResponse.length, 1);
    assert.ok(res.response.startsWith("Counting sheep keeps me calm while I wait. Counting"), res.response);
  });

  test("DeepSeekChatWrapper does not split a thought whose <think> the template opened", async () => {
    const model = await load("deepseek-r1-think");
    const res = await chatReply(model, resolveChatWrapper(model), "deepseek-r1-think");
    assert.deepEqual(res.fullResponse, ["Let me countHello there!"]);
  });
});

/**
 * Anthropic's clients as users run them, in this process (both support Node 20): the official
 * `@anthropic-ai/sdk` and LangChain's `ChatAnthropic` (`@langchain/anthropic`), against a real
 * Hearth's `/v1/messages`. The Messages API keeps no state on the server: the stateful path is the
 * client sending the conversation back, a tool's result included.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { zodOutputFormat } from "@anthropic-ai/sdk/helpers/zod";
import { ChatAnthropic } from "@langchain/anthropic";
import { AIMessage, HumanMessage, ToolMessage, type AIMessageChunk } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { z } from "zod";
import { startCompatServer, type CompatServer } from "./harness.js";

let server: CompatServer;
let anthropic: Anthropic;
const model = (name: string) => server.env.models[name]!;

before(async () => {
  server = await startCompatServer(["qwen3-answer", "qwen3-tool"]);
  anthropic = new Anthropic({ baseURL: server.env.url, apiKey: server.env.apiKey, maxRetries: 0, timeout: 60_000 });
});
after(() => server?.close());

const QUESTION = "What is the weather in Paris?";
const weather: Anthropic.Tool = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: { type: "object", properties: { city: { type: "string", maxLength: 24 } }, required: ["city"] },
};
/** zod 4's `.int()` is `minimum`/`maximum` at ±2^53-1: refused with a 400 before issue 18. */
const Person = z.object({ name: z.string().max(12), age: z.number().int().min(1).max(99) });
/**
 * For Anthropic's own structured output (`output_config.format`), the SDK's zodOutputFormat and
 * LangChain's `jsonSchema` method move the keywords Anthropic does not take (`minimum`,
 * `maxLength`...) into descriptions (`"{minimum: 1, maximum: 99}"`) and check them in the client:
 * the server never sees them, so the schema here uses only what is sent as such.
 */
const Mood = z.object({ mood: z.enum(["happy", "sad"]), count: z.number().int() });
/** LangChain's `jsonSchema` method moves `enum` into a description too: only the types reach the server. */
const Tally = z.object({ count: z.number().int(), done: z.boolean() });

describe("@anthropic-ai/sdk (Messages API)", () => {
  test("plain: the scripted answer, end_turn, usage", async () => {
    const msg = await anthropic.messages.create({
      model: model("qwen3-answer"),
      max_tokens: 50,
      messages: [{ role: "user", content: "Hi" }],
    });
    assert.deepEqual(
      [msg.stop_reason, msg.content.map((b) => (b.type === "text" ? b.text : b.type))],
      ["end_turn", ["Hello there!"]],
    );
    assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
  });

  test("streamed: message_start carries the input tokens, the final message the text (issue 18, item 3)", async () => {
    const stream = anthropic.messages.stream({
      model: model("qwen3-answer"),
      max_tokens: 50,
      messages: [{ role: "user", content: "Hi" }],
    });
    let startInput = -1;
    stream.on("streamEvent", (event) => {
      if (event.type === "message_start") startInput = event.message.usage.input_tokens;
    });
    const final = await stream.finalMessage();
    assert.equal(final.content[0]?.type === "text" && final.content[0].text, "Hello there!");
    assert.ok(startInput > 0, `message_start input_tokens ${startInput}`);
    assert.equal(final.usage.input_tokens, startInput);
  });

  test("tools: a tool_use block, stop_reason tool_use", async () => {
    const msg = await anthropic.messages.create({
      model: model("qwen3-tool"),
      max_tokens: 100,
      tools: [weather],
      messages: [{ role: "user", content: QUESTION }],
    });
    assert.equal(msg.stop_reason, "tool_use");
    const use = msg.content.find((b) => b.type === "tool_use");
    assert.ok(use?.type === "tool_use");
    assert.deepEqual([use.name, use.input], ["get_weather", { city: "Paris" }]);
  });

  test("structured output: messages.parse with zodOutputFormat and .int() (issue 18, item 1)", async () => {
    const msg = await anthropic.messages.parse({
      model: model("stories260K"),
      max_tokens: 100,
      messages: [{ role: "user", content: "Describe a person as JSON" }],
      output_config: { format: zodOutputFormat(Mood) },
    });
    const parsed = msg.parsed_output;
    assert.ok(
      parsed && Number.isInteger(parsed.count) && ["happy", "sad"].includes(parsed.mood),
      JSON.stringify(parsed),
    );
  });

  test("the conversation sent back with a tool_result is answered", async () => {
    const msg = await anthropic.messages.create({
      model: model("qwen3-answer"),
      max_tokens: 50,
      tools: [weather],
      messages: [
        { role: "user", content: QUESTION },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: '{"temperature_c": 21}' }] },
      ],
    });
    assert.equal(msg.stop_reason, "end_turn");
    assert.deepEqual(
      msg.content.map((b) => (b.type === "text" ? b.text : b.type)),
      ["Hello there!"],
    );
  });
});

describe("LangChain ChatAnthropic (@langchain/anthropic)", () => {
  const chat = (name: string) =>
    new ChatAnthropic({
      model: model(name),
      apiKey: server.env.apiKey,
      anthropicApiUrl: server.env.url,
      maxTokens: 100,
      maxRetries: 0,
    });
  const getWeather = tool(async ({ city }) => `{"city": "${city}", "temperature_c": 21}`, {
    name: "get_weather",
    description: "The weather in a city",
    schema: z.object({ city: z.string().max(24) }),
  });

  test("invoke: the answer and usage_metadata", async () => {
    const reply = await chat("qwen3-answer").invoke("Hi");
    assert.equal(reply.content, "Hello there!");
    assert.ok((reply.usage_metadata?.input_tokens ?? 0) > 0);
  });

  test("stream: the chunks add up to the answer and the input usage, which LangChain reads only from message_start (issue 18, item 3)", async () => {
    const llm = chat("qwen3-answer");
    const invoked = await llm.invoke("Hi");
    let whole: AIMessageChunk | undefined;
    for await (const chunk of await llm.stream("Hi")) whole = whole ? whole.concat(chunk) : chunk;
    assert.ok(whole);
    assert.equal(whole.content, "Hello there!");
    assert.equal(whole.usage_metadata?.input_tokens, invoked.usage_metadata?.input_tokens);
    assert.ok((whole.usage_metadata?.output_tokens ?? 0) > 0);
  });

  test("bindTools: the model's call comes back as tool_calls", async () => {
    const reply = await chat("qwen3-tool").bindTools([getWeather]).invoke(QUESTION);
    assert.deepEqual(
      reply.tool_calls?.map((c) => [c.name, c.args]),
      [["get_weather", { city: "Paris" }]],
    );
  });

  test("withStructuredOutput with .int(): a forced tool call, and Anthropic's JSON schema output", async () => {
    // functionCalling (the default) sends the schema whole, as a forced tool's input_schema.
    const person = await chat("stories260K").withStructuredOutput(Person).invoke("Describe a person");
    assert.ok(Number.isInteger(person.age) && person.age >= 1 && person.age <= 99, JSON.stringify(person));
    const tally = await chat("stories260K").withStructuredOutput(Tally, { method: "jsonSchema" }).invoke("Count");
    assert.ok(Number.isInteger(tally.count) && typeof tally.done === "boolean", JSON.stringify(tally));
  });

  test("the conversation sent back with the tool's result is answered", async () => {
    const call = { id: "toolu_1", name: "get_weather", args: { city: "Paris" }, type: "tool_call" as const };
    const reply = await chat("qwen3-answer")
      .bindTools([getWeather])
      .invoke([
        new HumanMessage(QUESTION),
        new AIMessage({ content: "", tool_calls: [call] }),
        new ToolMessage({ tool_call_id: "toolu_1", content: await getWeather.invoke(call.args) }),
      ]);
    assert.equal(reply.content, "Hello there!");
  });
});

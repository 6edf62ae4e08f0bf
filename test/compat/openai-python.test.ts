/**
 * OpenAI's Python SDK (`openai` from PyPI, with pydantic) against a real Hearth, in a Python child
 * (clients/openai_python.py). Installed into `.cache/python-openai` on first use; skipped, saying
 * why, where python3, pip or the package index is not there.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pythonOpenAI, type PythonOpenAI } from "../helpers/python-openai.js";
import { outcome, runClient, startCompatServer, type CaseResults, type CompatServer } from "./harness.js";

const sdk: PythonOpenAI = await pythonOpenAI();
const skip = "skip" in sdk ? `OpenAI's Python SDK is not available: ${sdk.skip}` : false;

let server: CompatServer | undefined;
let results: CaseResults | undefined;

describe(`openai (Python${"version" in sdk ? ` ${sdk.version}` : ""})`, { skip }, () => {
  before(async () => {
    if ("skip" in sdk) return;
    server = await startCompatServer(["qwen3-answer", "qwen3-tool"]);
    results = await runClient(sdk.python, ["test/compat/clients/openai_python.py"], server.env, sdk.env);
  });
  after(() => server?.close());

  test("chat: the scripted answer, finish stop, usage", () => {
    const r = outcome<{ content: string; finish: string; usage: { prompt_tokens: number } }>(results, "chat");
    assert.deepEqual([r.content, r.finish], ["Hello there!", "stop"]);
    assert.ok(r.usage.prompt_tokens > 0);
  });

  test("chat, streamed: text, finish length, the usage chunk", () => {
    const r = outcome<{ text: string; finish: string; usage: { completion_tokens: number } }>(results, "chatStream");
    assert.ok(r.text.length > 0);
    assert.deepEqual([r.finish, r.usage.completion_tokens], ["length", 12]);
  });

  test("tools: the model's call comes back as tool_calls", () => {
    const r = outcome<{ finish: string; name: string; arguments: unknown }>(results, "chatTools");
    assert.deepEqual([r.finish, r.name, r.arguments], ["tool_calls", "get_weather", { city: "Paris" }]);
  });

  test("structured output: a pydantic model with Field(ge=1, le=99) parses (issue 18, item 1)", () => {
    const r = outcome<{ finish: string; parsed: { name: string; age: number } }>(results, "chatParse");
    assert.equal(r.finish, "stop");
    assert.ok(r.parsed && r.parsed.age >= 1 && r.parsed.age <= 99, JSON.stringify(r.parsed));
  });

  test("Responses API, stateful: previous_response_id carries the conversation", () => {
    const r = outcome<{ first: { input: number; output: number }; second: { text: string; input: number } }>(
      results,
      "responsesStateful",
    );
    assert.equal(r.second.text, "Hello there!");
    assert.ok(r.second.input > r.first.input + r.first.output, JSON.stringify(r));
  });
});

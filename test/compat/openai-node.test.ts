/**
 * openai@7, the official Node SDK, as a user runs it: on Node 22 (it declares `node >= 22`), in a
 * child process (clients/openai-node.ts), against a real Hearth. openai@4 is openai4.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { node22 } from "../helpers/node22.js";
import { outcome, runClient, startCompatServer, type CaseResults, type CompatServer } from "./harness.js";

let server: CompatServer;
let results: CaseResults | undefined;

before(async () => {
  server = await startCompatServer(["qwen3-answer", "qwen3-tool"]);
  results = await runClient(await node22(), ["--import", "tsx", "test/compat/clients/openai-node.ts"], server.env);
});
after(() => server?.close());

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

describe("openai@7 (Node 22): chat completions", () => {
  test("plain: the scripted answer, finish stop, usage", () => {
    const r = outcome<{ content: string; finish: string; usage: Usage }>(results, "chat");
    assert.deepEqual([r.content, r.finish], ["Hello there!", "stop"]);
    assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
  });

  test("streamed: text deltas, finish length, the usage chunk", () => {
    const r = outcome<{ text: string; finish: string; usage: Usage }>(results, "chatStream");
    assert.ok(r.text.length > 0);
    assert.equal(r.finish, "length");
    assert.equal(r.usage.completion_tokens, 12);
  });

  test("tools: the model's native call comes back as tool_calls", () => {
    const r = outcome<{ finish: string; content: string | null; name: string; arguments: unknown }>(
      results,
      "chatTools",
    );
    assert.deepEqual(
      [r.finish, r.content, r.name, r.arguments],
      ["tool_calls", null, "get_weather", { city: "Paris" }],
    );
  });

  test("tools, streamed: the first delta carries role, content null and the call (issue 18, item 6)", () => {
    const r = outcome<{ first: Record<string, unknown>; arguments: unknown }>(results, "chatToolsStream");
    assert.equal(r.first.role, "assistant");
    assert.equal(r.first.content, null);
    assert.ok(Array.isArray(r.first.tool_calls), JSON.stringify(r.first));
    assert.deepEqual(r.arguments, { city: "Paris" });
  });

  test("structured output: zodResponseFormat with .int() parses (issue 18, item 1)", () => {
    const r = outcome<{ finish: string; parsed: { name: string; age: number } }>(results, "chatParse");
    assert.equal(r.finish, "stop");
    assert.ok(Number.isInteger(r.parsed.age) && r.parsed.age >= 1 && r.parsed.age <= 99, JSON.stringify(r.parsed));
  });
});

describe("openai@7 (Node 22): Responses API", () => {
  test("plain: output_text and usage", () => {
    const r = outcome<{ status: string; text: string; usage: { input_tokens: number } }>(results, "responses");
    assert.deepEqual([r.status, r.text], ["completed", "Hello there!"]);
    assert.ok(r.usage.input_tokens > 0);
  });

  test("streamed: the SDK's stream helper assembles the same text", () => {
    const r = outcome<{ types: string[]; text: string; final: string }>(results, "responsesStream");
    assert.deepEqual([r.text, r.final], ["Hello there!", "Hello there!"]);
    for (const type of ["response.created", "response.output_text.delta", "response.completed"])
      assert.ok(r.types.includes(type), `${type} in ${r.types.join(", ")}`);
  });

  test("tools: a function_call, then its output on top of the stored response is answered", () => {
    const r = outcome<{ name: string; arguments: unknown; answer: string; firstInput: number; secondInput: number }>(
      results,
      "responsesTools",
    );
    assert.deepEqual([r.name, r.arguments, r.answer], ["get_weather", { city: "Paris" }, "Hello there!"]);
    assert.ok(r.secondInput > r.firstInput, "the second prompt holds the first turn");
  });

  test("structured output: zodTextFormat with .int() parses", () => {
    const r = outcome<{ status: string; parsed: { age: number } }>(results, "responsesParse");
    assert.equal(r.status, "completed");
    assert.ok(Number.isInteger(r.parsed.age), JSON.stringify(r.parsed));
  });

  test("stateful: previous_response_id carries the conversation; GET returns the response as created", () => {
    const r = outcome<{
      first: { text: string; input: number; output: number };
      second: { text: string; input: number };
      storedMatches: boolean;
    }>(results, "responsesStateful");
    assert.equal(r.second.text, "Hello there!");
    assert.ok(r.second.input > r.first.input + r.first.output, JSON.stringify(r));
    assert.ok(r.storedMatches);
  });
});

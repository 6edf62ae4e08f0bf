/**
 * The OpenAI Agents SDK (`@openai/agents` 0.20) as a user runs it: on Node 22 (its openai@7
 * declares `node >= 22`), in a child process (clients/agents.ts), against a real Hearth.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { node22 } from "../helpers/node22.js";
import { outcome, runClient, startCompatServer, type CaseResults, type CompatServer } from "./harness.js";

let server: CompatServer;
let results: CaseResults | undefined;

before(async () => {
  server = await startCompatServer(["qwen3-answer", "qwen3-tool"]);
  results = await runClient(await node22(), ["--import", "tsx", "test/compat/clients/agents.ts"], server.env);
});
after(() => server?.close());

describe("OpenAI Agents SDK (@openai/agents 0.20, Node 22)", () => {
  test("a run over the Responses API and over chat completions", () => {
    const responses = outcome<{ finalOutput: string; lastResponseId: string }>(results, "runResponses");
    assert.equal(responses.finalOutput, "Hello there!");
    assert.match(responses.lastResponseId, /^resp_/);
    assert.equal(outcome<{ finalOutput: string }>(results, "runChatCompletions").finalOutput, "Hello there!");
  });

  test("a streamed run: text deltas and the same final output", () => {
    const r = outcome<{ text: string; finalOutput: string }>(results, "runStreamed");
    assert.deepEqual([r.text, r.finalOutput], ["Hello there!", "Hello there!"]);
  });

  test("an agent loop with tools: the SDK runs the tool and sends its output back", () => {
    const r = outcome<{ finalOutput: string; executed: unknown[]; modelCalls: number; items: string[] }>(
      results,
      "runWithTools",
    );
    assert.deepEqual(r.executed, [{ city: "Paris" }, { city: "Paris" }]);
    assert.equal(r.modelCalls, 2, "the second call carried the first tool output");
    assert.equal(r.finalOutput, '{"temperature_c": 21}');
    assert.deepEqual(
      r.items.filter((t) => t.startsWith("tool_call")),
      ["tool_call_item", "tool_call_output_item", "tool_call_item", "tool_call_output_item"],
    );
  });

  test("outputType with .int(): the final output is the parsed object (issue 18, item 1)", () => {
    const r = outcome<{ finalOutput: { name: string; age: number } }>(results, "outputType");
    assert.ok(Number.isInteger(r.finalOutput.age), JSON.stringify(r.finalOutput));
  });

  test("tools beside outputType, with a required tool: the call runs (issue 18, item 2)", () => {
    const r = outcome<{ finalOutput: unknown; executed: number }>(results, "toolsWithOutputType");
    assert.equal(r.executed, 1);
    assert.deepEqual(r.finalOutput, { name: "Ada", age: 36 });
  });

  test("stateful: previousResponseId across runs carries the conversation", () => {
    const r = outcome<{ first: { input: number; output: number }; second: { input: number; finalOutput: string } }>(
      results,
      "previousResponseId",
    );
    assert.equal(r.second.finalOutput, "Hello there!");
    assert.ok(r.second.input > r.first.input + r.first.output, JSON.stringify(r));
  });
});

/**
 * The Vercel AI SDK (`ai@7` + `@ai-sdk/openai@4`, both `node >= 22`) as a user runs it: on Node 22,
 * in a child process (clients/ai-sdk.ts), against a real Hearth, over both of the provider's APIs.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { node22 } from "../helpers/node22.js";
import { outcome, runClient, startCompatServer, type CaseResults, type CompatServer } from "./harness.js";

let server: CompatServer;
let results: CaseResults | undefined;

before(async () => {
  server = await startCompatServer(["qwen3-answer", "qwen3-tool"]);
  results = await runClient(await node22(), ["--import", "tsx", "test/compat/clients/ai-sdk.ts"], server.env);
});
after(() => server?.close());

interface Usage {
  inputTokens: number;
  outputTokens: number;
}
const PARIS = ["get_weather", { city: "Paris" }];

describe("AI SDK (ai@7, @ai-sdk/openai@4, Node 22)", () => {
  test("generateText over the Responses API and chat completions", () => {
    for (const name of ["generateTextResponses", "generateTextChat"]) {
      const r = outcome<{ text: string; finishReason: string; usage: Usage }>(results, name);
      assert.deepEqual([r.text, r.finishReason], ["Hello there!", "stop"], name);
      assert.ok(r.usage.inputTokens > 0 && r.usage.outputTokens > 0, name);
    }
  });

  test("streamText: text parts, finish length, usage; over the Responses API too", () => {
    const chat = outcome<{ text: string; finishReason: string; usage: Usage; parts: string[] }>(
      results,
      "streamTextChat",
    );
    assert.ok(chat.text.length > 0);
    assert.equal(chat.finishReason, "length");
    assert.equal(chat.usage.outputTokens, 12);
    assert.ok(chat.parts.includes("text-delta"));
    const responses = outcome<{ text: string; finishReason: string }>(results, "streamTextResponses");
    assert.deepEqual([responses.text, responses.finishReason], ["Hello there!", "stop"]);
  });

  test("tools, streamed over chat completions: the call runs, and no empty text part precedes it (issue 18, item 6)", () => {
    const r = outcome<{ parts: string[]; toolCalls: unknown[]; executed: unknown[] }>(results, "toolsStreamedChat");
    assert.deepEqual(r.toolCalls, [PARIS]);
    assert.deepEqual(r.executed, [{ city: "Paris" }]);
    assert.ok(!r.parts.includes("text-start"), `parts: ${r.parts.join(", ")}`);
  });

  test("tools over the Responses API: the SDK executes the call", () => {
    const r = outcome<{ finishReason: string; toolCalls: unknown[]; toolResults: unknown[]; executed: unknown[] }>(
      results,
      "toolsResponses",
    );
    assert.equal(r.finishReason, "tool-calls");
    assert.deepEqual(r.toolCalls, [PARIS]);
    assert.deepEqual(r.toolResults, [{ temperature_c: 21 }]);
  });

  test("generateObject with .int() over both APIs (issue 18, item 1)", () => {
    for (const name of ["generateObjectChat", "generateObjectResponses"]) {
      const r = outcome<{ object: { name: string; age: number }; finishReason: string }>(results, name);
      assert.equal(r.finishReason, "stop", name);
      assert.ok(Number.isInteger(r.object.age) && r.object.age >= 1 && r.object.age <= 99, JSON.stringify(r.object));
    }
  });

  test("tools beside Output.object: none answers in the schema, required calls (issue 18, item 2)", () => {
    const r = outcome<{ output: { age: number }; calledFinish: string; calledTools: string[]; executed: number }>(
      results,
      "toolsWithOutput",
    );
    assert.ok(Number.isInteger(r.output.age), JSON.stringify(r.output));
    assert.equal(r.calledFinish, "tool-calls");
    assert.deepEqual(r.calledTools, ["get_weather"]);
    assert.equal(r.executed, 1);
  });

  test("stateful: previousResponseId continues the stored conversation", () => {
    const r = outcome<{
      firstId: string;
      first: { text: string; input: number; output: number };
      second: { text: string; input: number };
    }>(results, "previousResponseId");
    assert.match(r.firstId, /^resp_/);
    assert.equal(r.second.text, "Hello there!");
    assert.ok(r.second.input > r.first.input + r.first.output, JSON.stringify(r));
  });
});

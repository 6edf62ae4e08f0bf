/**
 * openai@4 (4.104.0, the last 4.x), still the SDK many projects pin, as a user runs it: on Node 20,
 * in a child process, against a real Hearth. It cannot be a devDependency beside the project's
 * zod 4 (its optional zod@3 peer), so it is installed from npm into `.cache/openai4` with zod@3;
 * skipped, with npm's reason, where npm cannot install it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { clientIn, npmPrefix } from "../helpers/npm-prefix.js";
import { outcome, runClient, startCompatServer, type CaseResults, type CompatServer } from "./harness.js";

const OPENAI4_VERSION = "4.104.0";
const prefix = await npmPrefix("openai4", [`openai@${OPENAI4_VERSION}`, "zod@3.25.76"]);
const skip = "skip" in prefix ? prefix.skip : false;

let server: CompatServer | undefined;
let results: CaseResults | undefined;

before(async () => {
  if ("skip" in prefix) return;
  server = await startCompatServer(["qwen3-answer", "qwen3-tool"]);
  const script = clientIn(prefix.dir, "openai4.ts");
  results = await runClient(process.execPath, ["--import", "tsx", script], server.env);
});
after(() => server?.close());

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

describe(`openai@${OPENAI4_VERSION} (Node 20): chat completions`, { skip }, () => {
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

  test("tools through beta.chat.completions.runTools: the SDK runs the call and sends its result back", () => {
    const r = outcome<{ executed: unknown[]; roles: string[] }>(results, "chatToolsRunner");
    assert.deepEqual(r.executed, [{ city: "Paris" }]);
    assert.deepEqual(r.roles, ["assistant", "tool"]);
  });

  test("structured output: beta.chat.completions.parse with zod 3's zodResponseFormat", () => {
    const r = outcome<{ finish: string; parsed: { name: string; age: number } }>(results, "chatParse");
    assert.equal(r.finish, "stop");
    assert.ok(Number.isInteger(r.parsed.age) && r.parsed.age >= 1 && r.parsed.age <= 99, JSON.stringify(r.parsed));
  });
});

describe(`openai@${OPENAI4_VERSION} (Node 20): Responses API`, { skip }, () => {
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

  test("tools, stateful: a function_call, its output on top of the stored response answered, GET returns it", () => {
    const r = outcome<{
      name: string;
      arguments: unknown;
      answer: string;
      firstInput: number;
      secondInput: number;
      storedText: string;
    }>(results, "responsesTools");
    assert.deepEqual(
      [r.name, r.arguments, r.answer, r.storedText],
      ["get_weather", { city: "Paris" }, "Hello there!", "Hello there!"],
    );
    assert.ok(r.secondInput > r.firstInput, "the second prompt holds the first turn");
  });

  test("structured output: responses.parse with zodTextFormat", () => {
    const r = outcome<{ status: string; parsed: { age: number } }>(results, "responsesParse");
    assert.equal(r.status, "completed");
    assert.ok(Number.isInteger(r.parsed.age), JSON.stringify(r.parsed));
  });
});

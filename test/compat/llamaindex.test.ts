/**
 * LlamaIndex for TypeScript (`@llamaindex/openai` 0.4.23 with `@llamaindex/core` 0.6.23 and
 * `@llamaindex/workflow` 1.1.25, the last releases, Node 18+) as a user points it at a local server: its OpenAI LLM classes with `baseURL`,
 * on Node 20, in a child process, against a real Hearth. Installed from npm into
 * `.cache/llamaindex` (it brings openai@5 and zod 4 of its own); skipped, with npm's reason, where
 * npm cannot install it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { clientIn, npmPrefix } from "../helpers/npm-prefix.js";
import { outcome, runClient, startCompatServer, type CaseResults, type CompatServer } from "./harness.js";

const VERSIONS = {
  "@llamaindex/openai": "0.4.23",
  "@llamaindex/core": "0.6.23",
  "@llamaindex/env": "0.1.31",
  "@llamaindex/workflow": "1.1.25",
};
const prefix = await npmPrefix(
  "llamaindex",
  Object.entries(VERSIONS).map(([name, version]) => `${name}@${version}`),
);
const skip = "skip" in prefix ? prefix.skip : false;

let server: CompatServer | undefined;
let results: CaseResults | undefined;

before(async () => {
  if ("skip" in prefix) return;
  server = await startCompatServer(["qwen3-answer", "qwen3-tool", "qwen3-exec"]);
  results = await runClient(process.execPath, ["--import", "tsx", clientIn(prefix.dir, "llamaindex.ts")], server.env);
});
after(() => server?.close());

const PARIS = ["get_weather", { city: "Paris" }];

describe(
  `LlamaIndex (@llamaindex/openai ${VERSIONS["@llamaindex/openai"]}): OpenAI over chat completions`,
  { skip },
  () => {
    test("chat: the scripted answer, the raw usage", () => {
      const r = outcome<{ content: string; role: string; promptTokens: number }>(results, "chat");
      assert.deepEqual([r.content, r.role], ["Hello there!", "assistant"]);
      assert.ok(r.promptTokens > 0);
    });

    test("complete: the answer as text", () => {
      assert.equal(outcome<{ text: string }>(results, "complete").text, "Hello there!");
    });

    test("chat streamed: text deltas up to maxTokens", () => {
      const r = outcome<{ text: string; chunks: number }>(results, "chatStream");
      assert.ok(r.text.length > 0 && r.chunks > 1, JSON.stringify(r));
    });

    test("exec with a tool: the call runs, and its result sent back (role tool) is answered", () => {
      const r = outcome<{ calls: unknown[]; executed: unknown[]; roles: string[]; answer: string }>(
        results,
        "toolCall",
      );
      assert.deepEqual(r.calls, [PARIS]);
      assert.deepEqual(r.executed, [{ city: "Paris" }]);
      assert.deepEqual(r.roles, ["assistant", "user"]);
      assert.equal(r.answer, "Hello there!");
    });

    test("exec streamed with a tool: the streamed call is assembled and runs", () => {
      const r = outcome<{ calls: unknown[]; executed: unknown[]; roles: string[] }>(results, "toolCallStream");
      assert.deepEqual(r.calls, [PARIS]);
      assert.deepEqual(r.executed, [{ city: "Paris" }]);
    });

    test("agent (@llamaindex/workflow): the tool call runs, its result goes back, the model's answer ends the run", () => {
      const r = outcome<{ result: string; commands: unknown[] }>(results, "agent");
      assert.deepEqual(r.commands, [{ cmd: "echo hearth > proof.txt" }]);
      assert.equal(r.result, "The command ran.");
    });

    test("responseFormat with a zod schema (.int(), ranges): the answer parses", () => {
      const r = outcome<{ parsed: { name: string; age: number } }>(results, "structured");
      assert.ok(Number.isInteger(r.parsed.age) && r.parsed.age >= 1 && r.parsed.age <= 99, JSON.stringify(r.parsed));
    });
  },
);

describe(`LlamaIndex (@llamaindex/openai ${VERSIONS["@llamaindex/openai"]}): OpenAIResponses`, { skip }, () => {
  test("chat and chat streamed: the scripted answer", () => {
    assert.equal(outcome<{ content: string }>(results, "responses").content, "Hello there!");
    assert.equal(outcome<{ text: string }>(results, "responsesStream").text, "Hello there!");
  });

  test("exec with a tool: a function_call runs, and function_call_output sent back is answered", () => {
    const r = outcome<{ calls: unknown[]; executed: unknown[]; answer: string }>(results, "responsesToolCall");
    assert.deepEqual(r.calls, [PARIS]);
    assert.deepEqual(r.executed, [{ city: "Paris" }]);
    assert.equal(r.answer, "Hello there!");
  });

  test("trackPreviousResponses (streamed turns): the second turn continues the stored first", () => {
    const r = outcome<{
      firstId: string;
      secondId: string;
      texts: string[];
      usage: { input_tokens: number; output_tokens: number }[];
    }>(results, "responsesStateful");
    assert.match(r.firstId, /^resp_/);
    assert.notEqual(r.secondId, r.firstId);
    assert.deepEqual(r.texts, ["Hello there!", "Hello there!"]);
    const [first, second] = r.usage;
    assert.ok(first && second && second.input_tokens > first.input_tokens + first.output_tokens, JSON.stringify(r));
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { specializedChatWrapperTypeNames } from "node-llama-cpp";
import { CHAT_WRAPPER_NAMES, isJinjaTemplate } from "../../server/config.js";
import {
  CallOrAnswerStream,
  ForcedCallStream,
  callOrAnswer,
  forcedCallSchema,
} from "../../server/engine/forced-tool-call.js";
import type { GenerationEvent } from "../../server/core/types.js";

type ToolCallEvent = Extract<GenerationEvent, { type: "tool_call" }>;

function run(text: string, cuts: number[]): { events: ToolCallEvent[]; ok: boolean } {
  const events: ToolCallEvent[] = [];
  const stream = new ForcedCallStream("call_1", (e) => events.push(e as ToolCallEvent));
  let at = 0;
  for (const cut of [...cuts, text.length]) {
    stream.feed(text.slice(at, cut));
    at = cut;
  }
  return { events, ok: stream.end() };
}

describe("ForcedCallStream", () => {
  const text = '{ "name": "get_weather", "arguments": { "city": "Paris }", "days": [1, 2] } }  ';
  const args = '{ "city": "Paris }", "days": [1, 2] }';

  test("the deltas add up to exactly the arguments JSON, wherever the text is split", () => {
    for (let a = 0; a <= text.length; a++) {
      for (const b of [a, Math.min(text.length, a + 1), Math.min(text.length, a + 7)]) {
        const { events, ok } = run(text, [a, b]);
        assert.ok(ok);
        assert.equal(events[0]?.first, true);
        assert.equal(events[0]?.name, "get_weather");
        assert.equal(events[0]?.argumentsDelta, "");
        assert.ok(events.slice(1).every((e) => !e.first && e.index === 0 && e.id === "call_1"));
        assert.equal(events.map((e) => e.argumentsDelta).join(""), args, `split at ${a}, ${b}`);
      }
    }
  });

  test("nothing is sent before the name is complete; a cut-off call is not a call", () => {
    assert.deepEqual(run('{ "name": "get_wea', []).events, []);
    const cut = run('{ "name": "get_weather", "arguments": { "city": "Pa', []);
    assert.equal(cut.ok, false);
    assert.equal(cut.events[0]?.name, "get_weather");
  });

  test("the call schema names the allowed tools, and an unknown named tool is a 400", () => {
    const tools = [{ name: "a", parameters: { type: "object", properties: { x: { type: "string" } } } }, { name: "b" }];
    assert.deepEqual(
      forcedCallSchema(tools, { name: "a" }).allowed.map((t) => t.name),
      ["a"],
    );
    const both = forcedCallSchema(tools, "required").schema as { oneOf: { properties: { name: { const: string } } }[] };
    assert.deepEqual(
      both.oneOf.map((s) => s.properties.name.const),
      ["a", "b"],
    );
    assert.throws(
      () => forcedCallSchema(tools, { name: "c" }),
      (err: { status?: number; param?: string }) => err.status === 400 && err.param === "toolChoice",
    );
  });
});

describe("chat template setting", () => {
  test("the wrapper names the config accepts are node-llama-cpp's", () => {
    assert.deepEqual([...CHAT_WRAPPER_NAMES], [...specializedChatWrapperTypeNames]);
  });

  test("Jinja text is told from a wrapper name", () => {
    assert.ok(isJinjaTemplate("{% for m in messages %}{{ m.content }}{% endfor %}"));
    assert.ok(!isJinjaTemplate("chatML"));
  });
});

describe("CallOrAnswerStream (tools with a response format, tool_choice auto)", () => {
  const names = new Set(["get_weather", "get_time"]);

  test("the first keys tell a call from an answer; until then nothing is sent", () => {
    assert.equal(callOrAnswer("", names), null);
    assert.equal(callOrAnswer(' { "na', names), null);
    assert.equal(callOrAnswer('{ "name": "get_wea', names), null);
    assert.equal(callOrAnswer('{ "name": "get_weather", "argu', names), null);
    assert.equal(callOrAnswer('{ "name": "get_weather", "arguments"', names), "call");
    assert.equal(callOrAnswer('{"name":"Ann",', names), "answer", "a name that is no tool's");
    assert.equal(callOrAnswer('{ "name": "get_time", "age"', names), "answer", "a tool's name, then other keys");
    assert.equal(callOrAnswer('{ "city"', names), "answer");
    assert.equal(callOrAnswer("[1", names), "answer");
    assert.equal(callOrAnswer('{ "na\\"me"', names), "answer");
  });

  function run(text: string, cut: number): { events: GenerationEvent[]; call: boolean } {
    const events: GenerationEvent[] = [];
    const stream = new CallOrAnswerStream(names, "call_1", (e) => events.push(e));
    stream.feed(text.slice(0, cut));
    stream.feed(text.slice(cut));
    return { events, call: stream.end() };
  }

  test("a call becomes tool-call events, an answer text, wherever the text is split", () => {
    const call = '{ "name": "get_time", "arguments": { "zone": "UTC" } }';
    const answer = '{ "name": "Ann", "age": 3 }';
    for (let cut = 0; cut <= call.length; cut++) {
      const { events, call: isCall } = run(call, cut);
      assert.ok(isCall);
      assert.ok(events.every((e) => e.type === "tool_call"));
      const args = events.map((e) => (e.type === "tool_call" ? e.argumentsDelta : "")).join("");
      assert.equal(args, '{ "zone": "UTC" }');
    }
    for (let cut = 0; cut <= answer.length; cut++) {
      const { events, call: isCall } = run(answer, cut);
      assert.equal(isCall, false);
      assert.equal(events.map((e) => (e.type === "text" ? e.text : "?")).join(""), answer);
    }
  });

  test("a reply cut short before it could tell is sent as text", () => {
    const { events, call } = run('{ "name": "get_ti', 5);
    assert.equal(call, false);
    assert.deepEqual(events, [{ type: "text", text: '{ "name": "get_ti' }]);
  });
});

/**
 * The wire formatters of /v1/responses and /v1/messages and the merging of `n` choices, fed with
 * neutral events: the event order and indexes clients rely on, for replies that mix text and
 * tool calls.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MessageAccumulator, newMessageMeta } from "../../server/anthropic/format.js";
import { mergeChoices } from "../../server/chat/choices.js";
import { ResponseAccumulator, type ResponseBase } from "../../server/openai/responses-format.js";
import { refOf, storedResponseId } from "../../server/openai/responses-store.js";
import type { GenerationEvent } from "../../server/core/types.js";
import { AsyncQueue } from "../../server/util/async-queue.js";

const usage = { promptTokens: 10, completionTokens: 5, cachedTokens: 4 };
const textThenCalls: GenerationEvent[] = [
  { type: "text", text: "Let me check." },
  { type: "tool_call", index: 0, id: "call_a", name: "get_weather", argumentsDelta: "", first: true },
  { type: "tool_call", index: 0, id: "call_a", name: "get_weather", argumentsDelta: '{"city":', first: false },
  { type: "tool_call", index: 0, id: "call_a", name: "get_weather", argumentsDelta: '"Paris"}', first: false },
  { type: "tool_call", index: 1, id: "call_b", name: "get_time", argumentsDelta: "{}", first: true },
  { type: "finish", reason: "tool_calls", usage },
];

const base: ResponseBase = {
  id: "resp_x",
  object: "response",
  created_at: 1,
  instructions: null,
  max_output_tokens: null,
  reasoning: { effort: null, summary: null },
  model: "m",
  parallel_tool_calls: true,
  previous_response_id: null,
  store: false,
  temperature: null,
  top_p: null,
  text: { format: { type: "text" } },
  tool_choice: "auto",
  tools: [],
  truncation: "disabled",
  user: null,
  metadata: {},
};

describe("Responses events", () => {
  test("a message item, then one function_call item per call, each opened and closed in order", async () => {
    const sent: { type: string; data: Record<string, unknown> }[] = [];
    const acc = new ResponseAccumulator(base, false, (type, data) => void sent.push({ type, data }));
    await acc.start();
    for (const e of textThenCalls) await acc.push(e);
    assert.deepEqual(
      sent.map((s) => s.type),
      [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
      ],
    );
    assert.deepEqual(
      sent.map((s) => s.data.sequence_number),
      sent.map((_, i) => i),
    );
    const final = sent.at(-1)!.data.response as {
      output: { type: string; call_id?: string; arguments?: string; status: string }[];
      usage: { input_tokens: number };
    };
    assert.deepEqual(
      final.output.map((o) => [o.type, o.call_id ?? null, o.arguments ?? null, o.status]),
      [
        ["message", null, null, "completed"],
        ["function_call", "call_a", '{"city":"Paris"}', "completed"],
        ["function_call", "call_b", "{}", "completed"],
      ],
    );
    assert.equal(final.usage.input_tokens, 10);
    assert.deepEqual(acc.snapshot(acc.status).output, final.output);
  });

  test("a namespace's function and a custom tool: function_call with its namespace, custom_tool_call with its text", async () => {
    const sent: { type: string; data: Record<string, unknown> }[] = [];
    const tools = [
      { type: "namespace", name: "mcp__docs__", tools: [{ type: "function", name: "search" }] },
      { type: "custom", name: "apply_patch" },
    ];
    const acc = new ResponseAccumulator({ ...base, tools }, false, (type, data) => void sent.push({ type, data }));
    const call = (
      index: number,
      id: string,
      name: string,
      argumentsDelta: string,
      first: boolean,
    ): GenerationEvent => ({
      type: "tool_call",
      index,
      id,
      name,
      argumentsDelta,
      first,
    });
    for (const e of [
      call(0, "call_s", "mcp__docs__.search", '{"query":"x"}', true),
      call(1, "call_p", "apply_patch", '{"input": "*** Begin', true),
      call(1, "call_p", "apply_patch", ' Patch\\n\\"a\\""}', false),
      { type: "finish", reason: "tool_calls", usage } as const,
    ])
      await acc.push(e);
    assert.deepEqual(
      sent.map((s) => s.type),
      [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.output_item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.completed",
      ],
    );
    assert.deepEqual(acc.final?.output, [
      {
        type: "function_call",
        id: "fc_s",
        call_id: "call_s",
        name: "search",
        namespace: "mcp__docs__",
        arguments: '{"query":"x"}',
        status: "completed",
      },
      {
        type: "custom_tool_call",
        id: "ctc_p",
        call_id: "call_p",
        name: "apply_patch",
        input: '*** Begin Patch\n"a"',
        status: "completed",
      },
    ]);
  });

  test("a reply cut by the token limit is incomplete, and so are its items", async () => {
    const acc = new ResponseAccumulator(base, false);
    await acc.push({ type: "text", text: "Once" });
    await acc.push({ type: "finish", reason: "length", usage });
    const res = acc.snapshot(acc.status);
    assert.equal(res.status, "incomplete");
    assert.equal(res.incomplete_details?.reason, "max_output_tokens");
    assert.equal((res.output[0] as { status?: string } | undefined)?.status, "incomplete");
  });
});

describe("Anthropic message events", () => {
  test("text block, then a tool_use block per call, with input_json deltas and the stop reason", async () => {
    const sent: { event: string; data: Record<string, unknown> }[] = [];
    const acc = new MessageAccumulator(newMessageMeta("m", []), (event, data) => void sent.push({ event, data }));
    await acc.start();
    for (const e of textThenCalls) await acc.push(e);
    assert.deepEqual(
      sent.map((s) => [s.event, s.data.index ?? null]),
      [
        ["message_start", null],
        ["content_block_start", 0],
        ["content_block_delta", 0],
        ["content_block_stop", 0],
        ["content_block_start", 1],
        ["content_block_delta", 1],
        ["content_block_delta", 1],
        ["content_block_stop", 1],
        ["content_block_start", 2],
        ["content_block_delta", 2],
        ["content_block_stop", 2],
        ["message_delta", null],
        ["message_stop", null],
      ],
    );
    assert.ok(sent.every((s) => s.data.type === s.event));
    const message = acc.message();
    assert.deepEqual(message.content, [
      { type: "text", text: "Let me check." },
      { type: "tool_use", id: "toolu_a", name: "get_weather", input: { city: "Paris" } },
      { type: "tool_use", id: "toolu_b", name: "get_time", input: {} },
    ]);
    assert.equal(message.stop_reason, "tool_use");
    assert.deepEqual(message.usage, {
      input_tokens: 6,
      output_tokens: 5,
      cache_read_input_tokens: 4,
      cache_creation_input_tokens: 0,
    });
  });

  test("a stop string is reported only when it is one of the request's stop_sequences", async () => {
    const ask = async (stops: string[]) => {
      const acc = new MessageAccumulator(newMessageMeta("m", stops));
      await acc.push({ type: "finish", reason: "stop", usage, stopSequence: "END" });
      return [acc.message().stop_reason, acc.message().stop_sequence];
    };
    assert.deepEqual(await ask(["END"]), ["stop_sequence", "END"]);
    assert.deepEqual(await ask([]), ["end_turn", null]);
  });
});

describe("stored response ids", () => {
  test("round-trip where the response and the one it continued are; anything else is not an id", () => {
    const ref = {
      messageId: 42,
      conversationId: "conv_a-b_c",
      instructions: true,
      previous: { messageId: 7, conversationId: "conv_x", instructions: false },
    };
    assert.deepEqual(refOf(storedResponseId(ref)), ref);
    const plain = { messageId: 1, conversationId: "conv_y", instructions: false };
    assert.deepEqual(refOf(storedResponseId(plain)), plain);
    for (const id of ["resp_", "resp_abc", "msg_x", `resp_${Buffer.from("[1,2,3]").toString("base64url")}`])
      assert.equal(refOf(id), null);
  });
});

describe("n choices", () => {
  test("events of all choices come through tagged; a failing choice cancels the rest", async () => {
    const a = new AsyncQueue<GenerationEvent>();
    const b = new AsyncQueue<GenerationEvent>();
    let cancelled: unknown = null;
    const merged = mergeChoices([a, b], (reason) => (cancelled = reason));
    a.push({ type: "text", text: "a1" });
    b.push({ type: "text", text: "b1" });
    a.push({ type: "finish", reason: "stop", usage });
    a.end();
    b.fail(new Error("boom"));
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const { choice, event } of merged) seen.push(`${choice}:${event.type}`);
      })(),
      /boom/,
    );
    assert.ok(seen.includes("0:text") && seen.includes("1:text") && seen.includes("0:finish"));
    assert.ok(cancelled instanceof Error);
  });
});

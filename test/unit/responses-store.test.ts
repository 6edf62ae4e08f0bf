/**
 * Stored Responses API objects (migration 6, openai/responses-store.ts) on a real SQLite file: GET
 * returns the kept final object unchanged, rebuilds a response that did not finish from its
 * message with the settings kept at its start, bounds what it keeps, and loses the object with
 * its message.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import type { History } from "../../server/history/index.js";
import { HistoryRecorder } from "../../server/history/recorder.js";
import { UsageStore } from "../../server/history/usage.js";
import { HistoryStore } from "../../server/history/store.js";
import { responseObject, type ResponseBase } from "../../server/openai/responses-format.js";
import type { ResponseObject } from "../../server/openai/responses-schemas.js";
import { MAX_STORED_RESPONSE_CHARS, ResponsesStore, storedResponseId } from "../../server/openai/responses-store.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-responses-store-"));
const stores: HistoryStore[] = [];
after(() => {
  for (const s of stores) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function open(): { store: HistoryStore; responses: ResponsesStore; warnings: string[] } {
  const store = HistoryStore.open(path.join(dir, `h${++n}.sqlite`));
  stores.push(store);
  const warnings: string[] = [];
  const history: History = {
    store,
    recorder: new HistoryRecorder(store),
    usage: new UsageStore(store.db),
    file: "",
    close: () => store.close(),
  };
  return {
    store,
    responses: new ResponsesStore(history, { warn: (_o: unknown, msg?: string) => void warnings.push(msg ?? "") }),
    warnings,
  };
}

/** A stored exchange: instructions, a question and an assistant reply in `status`; the response id that names it. */
function exchange(store: HistoryStore, status: "complete" | "partial" | "error"): { id: string; messageId: number } {
  const conv = store.createConversation({ source: "api", model: "m", systemPrompt: "Be kind." });
  store.appendMessage(conv.id, { role: "system", content: "Be kind." });
  store.appendMessage(conv.id, { role: "user", content: "Hi" });
  const reply = store.appendMessage(conv.id, {
    role: "assistant",
    content: "Hello",
    reasoning: "Let me think.",
    model: "m",
    status,
    promptTokens: 7,
    completionTokens: 3,
    finishReason: status === "complete" ? "stop" : null,
  });
  return {
    id: storedResponseId({ messageId: reply.id, conversationId: conv.id, instructions: true }),
    messageId: reply.id,
  };
}

function base(id: string, extra: Partial<ResponseBase> = {}): ResponseBase {
  return {
    id,
    object: "response",
    created_at: 1_700_000_000,
    instructions: "Be kind.",
    max_output_tokens: 99,
    model: "m",
    parallel_tool_calls: false,
    previous_response_id: null,
    reasoning: { effort: "high", summary: null },
    store: true,
    temperature: 0.25,
    top_p: 0.5,
    text: { format: { type: "json_object" } },
    tool_choice: "required",
    tools: [{ type: "function", name: "f" }],
    truncation: "disabled",
    user: "u1",
    metadata: { a: "b" },
    ...extra,
  };
}

function final(id: string, logprobTokens = 0): ResponseObject {
  const logprobs = Array.from({ length: logprobTokens }, () => ({
    token: "tok",
    logprob: -0.5,
    bytes: [116, 111, 107],
    top_logprobs: [{ token: "tok", logprob: -0.5, bytes: [116, 111, 107] }],
  }));
  return responseObject(base(id), {
    status: "completed",
    completedAt: 1_700_000_001,
    usage: { promptTokens: 7, completionTokens: 3, cachedTokens: 5, reasoningTokens: 2 },
    output: [
      {
        type: "reasoning",
        id: "rs_x",
        status: "completed",
        summary: [],
        content: [{ type: "reasoning_text", text: "Let me think." }],
      },
      {
        type: "message",
        id: "msg_x",
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", text: "Hello", annotations: [], logprobs }],
      },
    ],
  });
}

describe("stored response objects", () => {
  test("GET returns the kept final object unchanged", () => {
    const { store, responses } = open();
    const { id } = exchange(store, "complete");
    responses.keep(responseObject(base(id), { status: "in_progress", output: [], usage: null }));
    const sent = final(id, 3);
    responses.keep(sent);
    assert.deepEqual(responses.get(id), sent);
  });

  test("a response that did not finish is rebuilt from its message, with the settings kept at its start", () => {
    const { store, responses } = open();
    const { id } = exchange(store, "partial");
    responses.keep(responseObject(base(id), { status: "in_progress", output: [], usage: null }));
    const got = responses.get(id);
    assert.equal(got.status, "incomplete");
    assert.deepEqual(got.incomplete_details, { reason: "interrupted" });
    assert.deepEqual(
      [got.max_output_tokens, got.temperature, got.top_p, got.user, got.metadata, got.tool_choice, got.reasoning],
      [99, 0.25, 0.5, "u1", { a: "b" }, "required", { effort: "high", summary: null }],
    );
    assert.deepEqual(got.text, { format: { type: "json_object" } });
    assert.deepEqual(
      got.output.map((o) => o.type),
      ["reasoning", "message"],
    );
    assert.equal(got.output[0]?.type === "reasoning" ? got.output[0].content[0]?.text : "", "Let me think.");

    // Without anything kept (a response stored before migration 6), the settings are the defaults.
    const old = exchange(store, "complete");
    const rebuilt = responses.get(old.id);
    assert.equal(rebuilt.status, "completed");
    assert.equal(rebuilt.max_output_tokens, null);
    assert.deepEqual(
      rebuilt.output.map((o) => o.type),
      ["reasoning", "message"],
    );
  });

  test("an object kept under another id (a renumbered import) is not returned for this one", () => {
    const { store, responses } = open();
    const { id, messageId } = exchange(store, "complete");
    store.putStoredResponse(messageId, JSON.stringify(final("resp_someone_else")));
    assert.equal(responses.get(id).id, id);
    assert.equal(responses.get(id).max_output_tokens, null);
    store.putStoredResponse(messageId, '{"not": "a response"}');
    assert.equal(responses.get(id).max_output_tokens, null);
  });

  test("size: logprobs go first; an object too large even then is not kept", () => {
    const { store, responses, warnings } = open();
    const { id } = exchange(store, "complete");
    // About 100 characters of JSON a token: enough tokens to pass the bound.
    const big = final(id, Math.ceil(MAX_STORED_RESPONSE_CHARS / 100));
    assert.ok(JSON.stringify(big).length > MAX_STORED_RESPONSE_CHARS);
    responses.keep(big);
    const got = responses.get(id);
    const part = got.output[1]?.type === "message" ? got.output[1].content[0] : undefined;
    assert.deepEqual(part?.logprobs, []);
    assert.equal(got.usage?.input_tokens_details.cached_tokens, 5);

    const other = exchange(store, "complete");
    const huge = { ...final(other.id), instructions: "x".repeat(MAX_STORED_RESPONSE_CHARS) };
    responses.keep(huge);
    assert.equal(responses.get(other.id).max_output_tokens, null);
    assert.equal(warnings.length, 1);
  });

  test("deleting the response (its message) deletes the kept object", () => {
    const { store, responses } = open();
    const { id, messageId } = exchange(store, "complete");
    responses.keep(final(id));
    assert.ok(store.getStoredResponse(messageId));
    responses.delete(id);
    assert.equal(store.getStoredResponse(messageId), undefined);
    assert.equal(store.db.prepare("SELECT count(*) FROM stored_responses").pluck().get(), 0);
  });
});

describe("a response of several model turns (MCP calls Hearth ran)", () => {
  /** Turn 1 called echo and got its result; turn 2 called it again, ran at the step limit, and ended. */
  function turns(store: HistoryStore) {
    const conv = store.createConversation({ source: "api", model: "m" });
    store.appendMessage(conv.id, { role: "user", content: "Echo Paris." });
    const call = (id: string) => [{ id, name: "everything__echo", arguments: '{"message":"Paris"}' }];
    const first = store.appendMessage(conv.id, {
      role: "assistant",
      content: "",
      toolCalls: call("call_1"),
      model: "m",
    });
    store.appendMessage(conv.id, { role: "tool", toolCallId: "call_1", content: "Echo: Paris" });
    const last = store.appendMessage(conv.id, {
      role: "assistant",
      content: "",
      toolCalls: call("call_2"),
      model: "m",
    });
    const id = storedResponseId({ messageId: first.id, conversationId: conv.id, instructions: false });
    const mcpCall = (callId: string, output: string) => ({
      type: "mcp_call" as const,
      id: `mcp_${callId}`,
      server_label: "everything",
      name: "echo",
      arguments: '{"message":"Paris"}',
      output,
      error: null,
      approval_request_id: null,
      status: "completed" as const,
    });
    const response = (output: string, first = "Echo: Paris") =>
      responseObject(base(id, { tools: [{ type: "mcp", server_label: "everything" }] }), {
        status: "completed",
        completedAt: 1_700_000_001,
        usage: null,
        output: [
          mcpCall("call_1", first),
          {
            type: "message",
            id: "msg_x",
            status: "completed",
            role: "assistant",
            content: [{ type: "output_text", text: "Once more.", annotations: [], logprobs: [] }],
          },
          mcpCall("call_2", output),
        ],
      });
    return { id, last: last.id, response };
  }

  test("a continuation goes on from the last turn, with the results of the calls run after it", () => {
    const { store, responses } = open();
    const { id, last, response } = turns(store);
    const sent = response("Echo: Paris, again");
    responses.keep(sent, last);
    assert.deepEqual(responses.get(id), sent, "the turn is kept beside the object, not in it");
    assert.deepEqual(
      responses
        .continuation(id)
        .map((m) =>
          m.role === "tool"
            ? `${m.toolCallId}:${m.content.startsWith("{") ? (JSON.parse(m.content) as { output: string }).output : m.content}`
            : m.role,
        ),
      ["user", "assistant", "call_1:Echo: Paris", "assistant", "call_2:Echo: Paris, again"],
    );
  });

  test("so does one whose object is too large to keep", () => {
    const { store, responses, warnings } = open();
    const { id, last, response } = turns(store);
    const big = MAX_STORED_RESPONSE_CHARS / 2;
    responses.keep(response("y".repeat(big), "x".repeat(big + 1000)), last);
    assert.equal(warnings.length, 1);
    const messages = responses.continuation(id);
    assert.equal(messages.length, 5);
    const tail = messages.at(-1)!;
    assert.equal(tail.role === "tool" && tail.toolCallId, "call_2");
    const shown = JSON.parse(tail.role === "tool" ? tail.content : "{}") as Record<string, unknown>;
    // As the model reads every result Hearth ran: data, with what it is (history/prompt.ts toolResultForModel).
    assert.deepEqual(
      [shown.type, shown.tool, shown.outcome, shown.output],
      ["tool_result", "everything__echo", "ok", "y".repeat(big)],
      "the result of the call after the last turn",
    );
    assert.equal(responses.get(id).status, "completed", "GET rebuilds it from its message");
  });
});

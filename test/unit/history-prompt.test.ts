/**
 * Stored history messages as prompt messages: the one converter (history/prompt.ts) that the
 * app's chats and stored Responses continuations share, pinned where content is empty or absent.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { toChatMessage, toChatMessages, type StoredPromptMessage } from "../../server/history/prompt.js";
import { chatBody } from "../../server/providers/remote-wire.js";
import type { ChatRequest } from "../../server/core/types.js";

const call = { id: "call_1", name: "get_weather", arguments: '{"city":"Oslo"}' };

function stored(over: Partial<StoredPromptMessage> & Pick<StoredPromptMessage, "role">): StoredPromptMessage {
  return { content: "", toolCalls: null, toolCallId: null, status: "complete", ...over };
}

describe("one stored message", () => {
  test("an assistant turn that is only tool calls has null content, as every edge writes it", () => {
    assert.deepEqual(toChatMessage(stored({ role: "assistant", toolCalls: [call] })), {
      role: "assistant",
      content: null,
      toolCalls: [call],
    });
  });

  test("an assistant turn with text and tool calls keeps both", () => {
    assert.deepEqual(toChatMessage(stored({ role: "assistant", content: "Let me look.", toolCalls: [call] })), {
      role: "assistant",
      content: "Let me look.",
      toolCalls: [call],
    });
  });

  test("an assistant turn without calls keeps its text, even empty, and an empty list of calls is none", () => {
    assert.deepEqual(toChatMessage(stored({ role: "assistant", content: "" })), { role: "assistant", content: "" });
    assert.deepEqual(toChatMessage(stored({ role: "assistant", content: "", toolCalls: [] })), {
      role: "assistant",
      content: "",
    });
    assert.deepEqual(toChatMessage(stored({ role: "assistant", content: "Hi", toolCalls: [] })), {
      role: "assistant",
      content: "Hi",
    });
  });

  test("a tool message keeps its call id and content; a missing id is ''", () => {
    assert.deepEqual(toChatMessage(stored({ role: "tool", toolCallId: "call_1", content: '{"tempC":21}' })), {
      role: "tool",
      toolCallId: "call_1",
      content: '{"tempC":21}',
    });
    assert.deepEqual(toChatMessage(stored({ role: "tool", content: "x" })), {
      role: "tool",
      toolCallId: "",
      content: "x",
    });
  });

  test("a reply that failed before producing anything is left out; one that produced something is kept", () => {
    assert.equal(toChatMessage(stored({ role: "assistant", status: "error" })), null);
    assert.equal(toChatMessage(stored({ role: "assistant", status: "error", toolCalls: [] })), null);
    assert.deepEqual(toChatMessage(stored({ role: "assistant", status: "error", content: "Half" })), {
      role: "assistant",
      content: "Half",
    });
    assert.deepEqual(toChatMessage(stored({ role: "assistant", status: "error", toolCalls: [call] })), {
      role: "assistant",
      content: null,
      toolCalls: [call],
    });
    assert.deepEqual(toChatMessage(stored({ role: "assistant", status: "partial" })), {
      role: "assistant",
      content: "",
    });
  });

  test("system and user messages pass through, empty or not", () => {
    assert.deepEqual(toChatMessage(stored({ role: "user", content: "" })), { role: "user", content: "" });
    assert.deepEqual(toChatMessage(stored({ role: "system", content: "Be brief." })), {
      role: "system",
      content: "Be brief.",
    });
  });
});

describe("a stored path", () => {
  const path = [
    stored({ role: "user", content: "Weather in Oslo?" }),
    stored({ role: "assistant", toolCalls: [call] }),
    stored({ role: "tool", toolCallId: "call_1", content: '{"tempC":21}' }),
    stored({ role: "assistant", content: "21 °C." }),
    stored({ role: "user", content: "And tomorrow?" }),
    stored({ role: "assistant", status: "error" }),
  ];

  test("follows the conversation's system prompt, without the failed empty reply", () => {
    assert.deepEqual(toChatMessages({ systemPrompt: "Be brief." }, path), [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Weather in Oslo?" },
      { role: "assistant", content: null, toolCalls: [call] },
      { role: "tool", toolCallId: "call_1", content: '{"tempC":21}' },
      { role: "assistant", content: "21 °C." },
      { role: "user", content: "And tomorrow?" },
    ]);
    assert.equal(toChatMessages({ systemPrompt: null }, path)[0]?.role, "user");
  });

  test("reaches an OpenAI-compatible upstream as OpenAI writes a tool-call turn", () => {
    const request: ChatRequest = {
      kind: "chat",
      model: "lab/m",
      messages: toChatMessages({ systemPrompt: null }, path),
      sampling: {},
      stop: [],
      responseFormat: { type: "text" },
      tools: [],
      toolChoice: "auto",
    };
    const messages = chatBody(request, "m", "openai-compatible").messages as Record<string, unknown>[];
    assert.deepEqual(messages[1], {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }],
    });
    assert.deepEqual(messages[2], { role: "tool", tool_call_id: "call_1", content: '{"tempC":21}' });
    assert.equal(messages.length, 5);
  });
});

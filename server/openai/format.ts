/**
 * Provider-neutral events to OpenAI's wire shapes, streamed (chunks over SSE) or collected into
 * one response. Shared by /v1 and by /api chat routes so both speak the same chunk format.
 */
import crypto from "node:crypto";
import type { SseWriter } from "../http/sse.js";
import type { GenerationStream, Usage } from "../providers/types.js";
import type { ChatCompletion, ChatCompletionChunk, Completion } from "./schemas.js";

export interface WireMeta {
  id: string;
  created: number;
  model: string;
  /** Send the extra usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
}

export function newMeta(prefix: "chatcmpl" | "cmpl", model: string, includeUsage = false): WireMeta {
  return { id: `${prefix}-${crypto.randomBytes(12).toString("hex")}`, created: Math.floor(Date.now() / 1000), model, includeUsage };
}

export function usageOf(u: Usage) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
  };
}

type Delta = ChatCompletionChunk["choices"][number]["delta"];

function chunk(meta: WireMeta, delta: Delta, finishReason: ChatCompletionChunk["choices"][number]["finish_reason"] = null): ChatCompletionChunk {
  return {
    id: meta.id,
    object: "chat.completion.chunk",
    created: meta.created,
    model: meta.model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(meta.includeUsage ? { usage: null } : {}),
  };
}

export async function writeChatStream(sse: SseWriter, stream: GenerationStream, meta: WireMeta): Promise<void> {
  await sse.send(chunk(meta, { role: "assistant", content: "" }));
  for await (const event of stream) {
    if (!sse.isOpen) return;
    switch (event.type) {
      case "text":
        if (event.text) await sse.send(chunk(meta, { content: event.text }));
        break;
      case "tool_call":
        await sse.send(
          chunk(meta, {
            tool_calls: [
              event.first
                ? { index: event.index, id: event.id, type: "function", function: { name: event.name, arguments: event.argumentsDelta } }
                : { index: event.index, function: { arguments: event.argumentsDelta } },
            ],
          }),
        );
        break;
      case "finish":
        await sse.send(chunk(meta, {}, event.reason));
        if (meta.includeUsage) {
          await sse.send({ id: meta.id, object: "chat.completion.chunk", created: meta.created, model: meta.model, system_fingerprint: null, choices: [], usage: usageOf(event.usage) });
        }
        break;
    }
  }
  sse.done();
}

export async function collectChat(stream: GenerationStream, meta: WireMeta): Promise<ChatCompletion> {
  let text = "";
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  for await (const event of stream) {
    if (event.type === "text") text += event.text;
    else if (event.type === "tool_call") {
      const call = calls.get(event.index) ?? { id: event.id, name: event.name, arguments: "" };
      call.arguments += event.argumentsDelta;
      calls.set(event.index, call);
    } else {
      const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => ({ id: c.id, type: "function" as const, function: { name: c.name, arguments: c.arguments } }));
      return {
        id: meta.id,
        object: "chat.completion",
        created: meta.created,
        model: meta.model,
        system_fingerprint: null,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: toolCalls.length > 0 && text === "" ? null : text, refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
            logprobs: null,
            finish_reason: event.reason,
          },
        ],
        usage: usageOf(event.usage),
      };
    }
  }
  throw new Error("generation ended without a finish event");
}

function completionChunk(meta: WireMeta, text: string, finishReason: Completion["choices"][number]["finish_reason"]): Completion {
  return {
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    system_fingerprint: null,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
    ...(meta.includeUsage ? { usage: null } : {}),
  };
}

export async function writeCompletionStream(sse: SseWriter, stream: GenerationStream, meta: WireMeta): Promise<void> {
  for await (const event of stream) {
    if (!sse.isOpen) return;
    if (event.type === "text") {
      if (event.text) await sse.send(completionChunk(meta, event.text, null));
    } else if (event.type === "finish") {
      await sse.send(completionChunk(meta, "", event.reason));
      if (meta.includeUsage) {
        await sse.send({ id: meta.id, object: "text_completion", created: meta.created, model: meta.model, system_fingerprint: null, choices: [], usage: usageOf(event.usage) });
      }
    }
  }
  sse.done();
}

export async function collectCompletion(stream: GenerationStream, meta: WireMeta): Promise<Completion> {
  let text = "";
  for await (const event of stream) {
    if (event.type === "text") text += event.text;
    else if (event.type === "finish") {
      return { ...completionChunk({ ...meta, includeUsage: false }, text, event.reason), usage: usageOf(event.usage) };
    }
  }
  throw new Error("generation ended without a finish event");
}

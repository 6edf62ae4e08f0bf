/**
 * OpenAI-style messages (already validated, provider-neutral) to node-llama-cpp's chat history.
 * node-llama-cpp has no tool role: a tool result lives inside the model turn that made the call
 * (docs/ENGINE-NOTES.md §3.2), so results are matched to their calls by id here.
 */
import type { ChatHistoryItem, ChatModelResponse } from "node-llama-cpp";
import { BadRequestError } from "../errors.js";
import type { ChatMessage } from "../core/types.js";

function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  const consumedToolMessages = new Set<number>();

  messages.forEach((message, i) => {
    switch (message.role) {
      case "system":
        history.push({ type: "system", text: message.content });
        return;
      case "user":
        history.push({ type: "user", text: message.content });
        return;
      case "assistant": {
        let item = history.at(-1);
        if (item?.type !== "model") {
          item = { type: "model", response: [] } satisfies ChatModelResponse;
          history.push(item);
        }
        // The wrapper renders earlier thoughts the way the family's template does (most drop them).
        if (message.reasoning)
          item.response.push({ type: "segment", segmentType: "thought", text: message.reasoning, ended: true });
        if (message.content) item.response.push(message.content);
        (message.toolCalls ?? []).forEach((call, k) => {
          const resultIndex = findToolResult(messages, i + 1, call.id);
          if (resultIndex === -1) {
            throw new BadRequestError(
              `The assistant message at messages[${i}] has a tool call '${call.id}' with no tool message answering it.`,
              { param: `messages.${i}.toolCalls` },
            );
          }
          consumedToolMessages.add(resultIndex);
          const result = messages[resultIndex] as Extract<ChatMessage, { role: "tool" }>;
          (item as ChatModelResponse).response.push({
            type: "functionCall",
            name: call.name,
            params: parseJsonOr(call.arguments),
            result: parseJsonOr(result.content),
            startsNewChunk: k === 0 ? true : undefined,
          });
        });
        return;
      }
      case "tool":
        if (!consumedToolMessages.has(i)) {
          throw new BadRequestError(
            `messages[${i}] is a tool message whose tool_call_id '${message.toolCallId}' matches no earlier assistant tool call.`,
            { param: `messages.${i}.toolCallId` },
          );
        }
        return;
    }
  });

  // A trailing assistant message is a prefill the model continues; otherwise open a new turn.
  if (history.at(-1)?.type !== "model") history.push({ type: "model", response: [] });
  return history;
}

function findToolResult(messages: readonly ChatMessage[], from: number, id: string): number {
  for (let j = from; j < messages.length; j++) {
    const m = messages[j];
    if (!m || m.role === "user") break;
    if (m.role === "tool" && m.toolCallId === id) return j;
  }
  return -1;
}

/** Turns a stored conversation into the provider-neutral request for its next reply. */
import type { ChatMessage, ChatRequest } from "../core/types.js";
import type { Conversation, GenerationParams, Message } from "./types.js";

/** Sampling used when neither the conversation nor the request sets a value (the /v1 defaults). */
export interface SamplingDefaults {
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
}

export function toChatMessages(
  conversation: Pick<Conversation, "systemPrompt">,
  path: readonly Message[],
): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (conversation.systemPrompt) out.push({ role: "system", content: conversation.systemPrompt });
  for (const m of path) {
    // A reply that failed before producing anything has nothing to show the model.
    if (m.status === "error" && m.content === "" && !m.toolCalls) continue;
    switch (m.role) {
      case "system":
      case "user":
        out.push({ role: m.role, content: m.content });
        break;
      case "assistant":
        out.push({
          role: "assistant",
          content: m.content,
          ...(m.toolCalls ? { toolCalls: m.toolCalls } : {}),
          ...(m.reasoning ? { reasoning: m.reasoning } : {}),
        });
        break;
      case "tool":
        out.push({ role: "tool", toolCallId: m.toolCallId ?? "", content: m.content });
        break;
    }
  }
  return out;
}

export function toChatRequest(
  model: string,
  messages: ChatMessage[],
  params: GenerationParams,
  defaults: SamplingDefaults,
): ChatRequest {
  return {
    kind: "chat",
    model,
    messages,
    ...(params.maxTokens !== undefined ? { maxTokens: params.maxTokens } : {}),
    sampling: {
      temperature: params.temperature ?? defaults.temperature,
      topP: params.topP ?? defaults.topP,
      topK: params.topK ?? defaults.topK,
      minP: params.minP ?? defaults.minP,
      ...(params.seed !== undefined ? { seed: params.seed } : {}),
      presencePenalty: params.presencePenalty ?? 0,
      frequencyPenalty: params.frequencyPenalty ?? 0,
    },
    stop: params.stop ?? [],
    responseFormat: { type: "text" },
    tools: [],
    toolChoice: "auto",
    parallelToolCalls: true,
    ...(params.reasoningEffort ? { reasoning: { effort: params.reasoningEffort } } : {}),
  };
}

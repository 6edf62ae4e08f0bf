/**
 * Matching /v1 requests to the conversation they continue. OpenAI clients are stateless: each turn
 * resends the whole message list. Every recorded api message stores a hash of its path (itself and
 * all before it), so a request's longest already-recorded prefix names the conversation and the
 * point where its new messages go. A growing list lands in one conversation; a resent or edited
 * list becomes a branch at the point where it diverges.
 */
import { createHash } from "node:crypto";
import type { ChatMessage } from "../core/types.js";

/** The parts of a message that identify it; API keys and headers are never part of a message. */
export interface HashableMessage {
  role: string;
  content: string | null;
  toolCalls?: readonly { id: string; name: string; arguments: string }[] | null;
  toolCallId?: string | null;
}

export function pathHash(parentHash: string | null, m: HashableMessage): string {
  const canonical = JSON.stringify([
    m.role,
    m.content ?? "",
    (m.toolCalls ?? []).map((c) => [c.id, c.name, c.arguments]),
    m.toolCallId ?? null,
  ]);
  return createHash("sha256")
    .update(parentHash ?? "")
    .update("\u0000")
    .update(canonical)
    .digest("base64url")
    .slice(0, 22);
}

/** The chained hash of each prefix: result[i] covers messages[0..i]. */
export function pathHashes(messages: readonly HashableMessage[]): string[] {
  const out: string[] = [];
  let previous: string | null = null;
  for (const m of messages) {
    previous = pathHash(previous, m);
    out.push(previous);
  }
  return out;
}

export function hashableOf(m: ChatMessage): HashableMessage {
  switch (m.role) {
    case "assistant":
      return { role: m.role, content: m.content, toolCalls: m.toolCalls ?? null };
    case "tool":
      return { role: m.role, content: m.content, toolCallId: m.toolCallId };
    default:
      return { role: m.role, content: m.content };
  }
}

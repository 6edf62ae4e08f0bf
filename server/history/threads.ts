/**
 * Matching /v1 requests to the conversation they continue. OpenAI clients are stateless: each turn
 * resends the whole message list. Every recorded api message stores a hash of its path (itself and
 * all before it), so a request's longest already-recorded prefix names the conversation and the
 * point where its new messages go. A growing list lands in one conversation; a resent or edited
 * list becomes a branch at the point where it diverges.
 */
import { createHash, type Hash } from "node:crypto";
import type { ChatMessage } from "../core/types.js";

/** The parts of a message that identify it; API keys and headers are never part of a message. */
export interface HashableMessage {
  role: string;
  content: string | null;
  toolCalls?: readonly { id: string; name: string; arguments: string }[] | null;
  toolCallId?: string | null;
}

/** Characters of a string stringified at a time: the canonical text of a 19 MB message is made in pieces. */
const PIECE_CHARS = 256 * 1024;

/** `JSON.stringify(text)` in pieces whose concatenation is exactly it (a surrogate pair is never split). */
function* jsonStringPieces(text: string): Generator<string> {
  if (text.length <= PIECE_CHARS) {
    yield JSON.stringify(text);
    return;
  }
  yield '"';
  for (let at = 0; at < text.length;) {
    let end = Math.min(text.length, at + PIECE_CHARS);
    // A high surrogate at the cut goes with its partner: split apart, each would be escaped alone.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    yield JSON.stringify(text.slice(at, end)).slice(1, -1);
    at = end;
  }
  yield '"';
}

/**
 * The canonical text of a message, `JSON.stringify([role, content, calls, toolCallId])`, in pieces:
 * the stored hashes were made from that string, so it must not change by a byte.
 */
function* canonicalPieces(m: HashableMessage): Generator<string> {
  yield `[${JSON.stringify(m.role)},`;
  yield* jsonStringPieces(m.content ?? "");
  yield ",[";
  const calls = m.toolCalls ?? [];
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i]!;
    yield `${i > 0 ? "," : ""}[${JSON.stringify(c.id)},${JSON.stringify(c.name)},`;
    yield* jsonStringPieces(c.arguments);
    yield "]";
  }
  yield `],${JSON.stringify(m.toolCallId ?? null)}]`;
}

function startHash(parentHash: string | null): Hash {
  return createHash("sha256")
    .update(parentHash ?? "")
    .update("\u0000");
}

const digestOf = (hash: Hash): string => hash.digest("base64url").slice(0, 22);

export function pathHash(parentHash: string | null, m: HashableMessage): string {
  const hash = startHash(parentHash);
  for (const piece of canonicalPieces(m)) hash.update(piece);
  return digestOf(hash);
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

/** Characters hashed between two turns of the event loop in pathHashesAsync. */
const CHARS_PER_TURN = 1024 * 1024;

/**
 * `pathHashes`, giving the event loop a turn after every MiB or so of text: a request of 19 MB
 * held the loop (and every other request) for the whole hash. Small requests finish without a wait.
 */
export async function pathHashesAsync(messages: readonly HashableMessage[]): Promise<string[]> {
  const out: string[] = [];
  let previous: string | null = null;
  let sinceTurn = 0;
  for (const m of messages) {
    const hash = startHash(previous);
    for (const piece of canonicalPieces(m)) {
      hash.update(piece);
      sinceTurn += piece.length;
      if (sinceTurn >= CHARS_PER_TURN) {
        sinceTurn = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const digest = digestOf(hash);
    out.push(digest);
    previous = digest;
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

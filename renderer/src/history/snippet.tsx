/**
 * Search snippets arrive as plain text with each match between U+E000 and U+E001 (never HTML), so
 * they are split here and the matches rendered as <mark> elements.
 */
import type { ReactNode } from "react";

export const HIGHLIGHT_START = "\uE000";
export const HIGHLIGHT_END = "\uE001";

export interface SnippetPart {
  text: string;
  match: boolean;
}

export function splitSnippet(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let match = false;
  let current = "";
  for (const ch of snippet) {
    if (ch === HIGHLIGHT_START || ch === HIGHLIGHT_END) {
      if (current) parts.push({ text: current, match });
      current = "";
      match = ch === HIGHLIGHT_START;
    } else current += ch;
  }
  if (current) parts.push({ text: current, match });
  return parts;
}

export function Snippet({ text }: { text: string }): ReactNode {
  return splitSnippet(text).map((p, i) => (p.match ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>));
}

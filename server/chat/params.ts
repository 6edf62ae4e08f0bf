/**
 * Errors from providers name the neutral request's fields (`messages.2.toolCalls`,
 * `responseFormat.schema`, `toolChoice`); a client must see its own wire format's names
 * (`input.3.call_id`, `text.format.schema`, `tool_choice`). Each route's converter describes its
 * names with a ParamNamer, and the pipeline (service.ts) renames errors with it.
 */

import type { ChatMessage } from "../core/types.js";

/** Neutral field path -> the route's field path. */
export type ParamNamer = (neutral: string) => string;

/**
 * A namer from a table of renames and, optionally, where each neutral message came from.
 * `renames` keys are neutral paths with `*` for an index (`tools.*.parameters`); the longest key
 * that matches a prefix of the path wins, and its indices carry over in order. `messages[i]` is
 * the wire path of neutral message i (a system prompt may come from `system`, a Responses
 * continuation from `previous_response_id`); its fields are renamed with `messages.*.<field>` keys.
 */
export function paramNamer(renames: Record<string, string>, messages?: readonly string[]): ParamNamer {
  const rules = Object.entries(renames)
    .map(([from, to]) => ({ parts: from.split("."), to: to.split(".") }))
    .sort((a, b) => b.parts.length - a.parts.length);
  const rename = (parts: string[]): string[] => {
    for (const rule of rules) {
      if (rule.parts.length > parts.length) continue;
      const indices: string[] = [];
      const matches = rule.parts.every((p, i) => {
        if (p === "*" && /^\d+$/.test(parts[i]!)) return indices.push(parts[i]!) > 0;
        return p === parts[i];
      });
      if (!matches) continue;
      const head = rule.to.map((p) => (p === "*" ? (indices.shift() ?? p) : p));
      return [...head, ...parts.slice(rule.parts.length)];
    }
    return parts;
  };
  return (neutral) => {
    const parts = neutral.split(".");
    if (messages && parts[0] === "messages" && parts[1] !== undefined && /^\d+$/.test(parts[1])) {
      const origin = messages[Number(parts[1])];
      if (origin !== undefined) {
        const field = rename(["messages", "0", ...parts.slice(2)]).slice(2);
        return [origin, ...field].join(".");
      }
    }
    return rename(parts).join(".");
  };
}

/** Neutral messages as a converter builds them, each with the wire path it came from (`paramNamer`'s `messages`). */
export class TracedMessages {
  readonly messages: ChatMessage[] = [];
  readonly origins: string[] = [];
  /** Where the messages pushed next come from. */
  origin = "";

  push(message: ChatMessage): void {
    this.messages.push(message);
    this.origins.push(this.origin);
  }

  at(i: number): ChatMessage | undefined {
    return this.messages.at(i);
  }
}

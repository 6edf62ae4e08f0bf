/**
 * `tool_choice: "required"` or a named tool. node-llama-cpp has no way to force a native function
 * call (docs/ENGINE-NOTES.md §3.3), so the reply is constrained by a JSON-schema grammar to one call object
 * `{"name": ..., "arguments": {...}}`, which works with any chat template. The grammar emits `name`
 * before `arguments`, so the arguments can be streamed as they are generated.
 *
 * Tools with a response format and `tool_choice: "auto"`: node-llama-cpp takes a grammar or
 * functions, never both (§0.12), so the grammar is the union of the call object and the format's
 * JSON, and `CallOrAnswerStream` tells from the first keys which of the two the model wrote.
 */
import { BadRequestError } from "../errors.js";
import type { GenerationEvent, ToolChoice, ToolDefinition } from "../core/types.js";
import { requiredParameters } from "./grammar.js";

/** The tools a forced call may use, and the schema of the call object. */
export function forcedCallSchema(
  tools: readonly ToolDefinition[],
  choice: ToolChoice,
): { allowed: ToolDefinition[]; schema: Record<string, unknown> } {
  const allowed = typeof choice === "object" ? tools.filter((t) => t.name === choice.name) : [...tools];
  if (allowed.length === 0) {
    throw new BadRequestError(`tool_choice names '${(choice as { name: string }).name}', which is not in tools.`, {
      param: "toolChoice",
    });
  }
  const callSchema = (t: ToolDefinition) => ({
    type: "object",
    properties: {
      name: { const: t.name },
      arguments: t.parameters ? requiredParameters(t.parameters) : { type: "object", properties: {} },
    },
  });
  return { allowed, schema: allowed.length === 1 ? callSchema(allowed[0]!) : { oneOf: allowed.map(callSchema) } };
}

function toolDocs(tools: readonly ToolDefinition[]): string {
  return tools
    .map((t) => `- ${t.name}: ${t.description ?? ""} parameters: ${JSON.stringify(t.parameters ?? {})}`)
    .join("\n");
}

/** The system hint that tells the model what the grammar will make it write. */
export function forcedCallHint(allowed: readonly ToolDefinition[]): string {
  return `Call one of these tools by answering with a JSON object {"name": ..., "arguments": {...}}:\n${toolDocs(allowed)}`;
}

/** The system hint when the model may call a tool or answer in the response format. */
export function callOrAnswerHint(tools: readonly ToolDefinition[]): string {
  return `To call one of these tools, answer with a JSON object {"name": ..., "arguments": {...}}:\n${toolDocs(tools)}\nOtherwise answer with the JSON the response format asks for.`;
}

const HEAD = /^\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*/;
/** The end of the outer object, which is not part of the arguments. */
const TAIL = /\s*\}?\s*$/;

/**
 * Turns the grammar-constrained text into tool-call events as it arrives: the call starts once its
 * name is complete, then the arguments stream with only the outer object's closing brace held back.
 * The concatenated deltas are exactly the final arguments JSON.
 */
export class ForcedCallStream {
  private text = "";
  private argsStart = -1;
  private emitted = 0;
  private name = "";

  constructor(
    private readonly id: string,
    private readonly push: (event: GenerationEvent) => void,
  ) {}

  /** True once the first tool-call event was sent. */
  get started(): boolean {
    return this.argsStart >= 0;
  }

  feed(chunk: string): void {
    this.text += chunk;
    if (this.argsStart < 0) {
      const head = HEAD.exec(this.text);
      if (!head) return;
      this.name = JSON.parse(`"${head[1]}"`) as string;
      this.argsStart = head[0].length;
      this.emitted = this.argsStart;
      this.push({ type: "tool_call", index: 0, id: this.id, name: this.name, argumentsDelta: "", first: true });
    }
    // Whitespace before the arguments may arrive after the head matched.
    while (this.emitted === this.argsStart && /\s/.test(this.text[this.argsStart] ?? ""))
      this.emitted = ++this.argsStart;
    const end = this.argsStart + this.text.slice(this.argsStart).replace(TAIL, "").length;
    this.emitDelta(end);
  }

  /** Sends what is left; true when the text was a complete, valid call. */
  end(): boolean {
    if (this.argsStart < 0) return false;
    const body = this.text.slice(this.argsStart);
    const close = body.lastIndexOf("}");
    const args = close >= 0 ? body.slice(0, close).trimEnd() : body;
    this.emitDelta(this.argsStart + args.length);
    try {
      const value = JSON.parse(this.text) as { name?: unknown };
      return value.name === this.name;
    } catch {
      return false;
    }
  }

  private emitDelta(end: number): void {
    if (end <= this.emitted) return;
    this.push({
      type: "tool_call",
      index: 0,
      id: this.id,
      name: this.name,
      argumentsDelta: this.text.slice(this.emitted, end),
      first: false,
    });
    this.emitted = end;
  }
}

/** Reads a JSON string starting at `at` (a quote): its value and where it ends, or null while incomplete. */
function jsonStringAt(text: string, at: number): { value: string; end: number } | null {
  for (let i = at + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return { value: JSON.parse(text.slice(at, i + 1)) as string, end: i + 1 };
  }
  return null;
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && /\s/.test(text[at]!)) at++;
  return at;
}

/**
 * What the text so far is: a call (`{"name": <a tool>, "arguments": ...`), an answer (anything
 * else), or not known yet.
 */
export function callOrAnswer(text: string, names: ReadonlySet<string>): "call" | "answer" | null {
  const key = (at: number, wanted: string) => {
    if (text[at] !== '"') return "answer";
    const found = jsonStringAt(text, at);
    if (!found) return null;
    return found.value === wanted ? found.end : "answer";
  };
  const steps: ((at: number) => number | "answer" | null)[] = [
    (at) => (text[at] === "{" ? at + 1 : "answer"),
    (at) => key(at, "name"),
    (at) => (text[at] === ":" ? at + 1 : "answer"),
    (at) => {
      if (text[at] !== '"') return "answer";
      const name = jsonStringAt(text, at);
      if (!name) return null;
      return names.has(name.value) ? name.end : "answer";
    },
    (at) => (text[at] === "," ? at + 1 : "answer"),
    (at) => key(at, "arguments"),
  ];
  let at = 0;
  for (const step of steps) {
    at = skipSpace(text, at);
    if (at >= text.length) return null;
    const next = step(at);
    if (typeof next !== "number") return next;
    at = next;
  }
  return "call";
}

/**
 * The reply of a model that may call a tool or answer (tools with a response format, tool_choice
 * "auto"): held back until its first keys tell which it is, then streamed as tool-call events
 * (ForcedCallStream) or as text.
 */
export class CallOrAnswerStream {
  private held = "";
  private call: ForcedCallStream | null = null;
  private answering = false;

  constructor(
    private readonly names: ReadonlySet<string>,
    private readonly id: string,
    private readonly push: (event: GenerationEvent) => void,
  ) {}

  feed(chunk: string): void {
    if (this.call) return this.call.feed(chunk);
    if (this.answering) return this.push({ type: "text", text: chunk });
    this.held += chunk;
    const kind = callOrAnswer(this.held, this.names);
    if (kind === "call") {
      this.call = new ForcedCallStream(this.id, this.push);
      this.call.feed(this.held);
    } else if (kind === "answer") {
      this.answering = true;
      this.push({ type: "text", text: this.held });
    }
    if (kind !== null) this.held = "";
  }

  /** Sends what is left; true when the reply was a complete, valid call. */
  end(): boolean {
    if (this.call) return this.call.end();
    if (this.held) this.push({ type: "text", text: this.held });
    this.held = "";
    return false;
  }
}

/**
 * `tool_choice: "required"` or a named tool. node-llama-cpp has no way to force a native function
 * call (docs/ENGINE-NOTES.md §3.3), so the reply is constrained by a JSON-schema grammar to one call object
 * `{"name": ..., "arguments": {...}}`, which works with any chat template. The grammar emits `name`
 * before `arguments`, so the arguments can be streamed as they are generated.
 */
import { BadRequestError } from "../errors.js";
import type { GenerationEvent, ToolChoice, ToolDefinition } from "../core/types.js";

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
    properties: { name: { const: t.name }, arguments: t.parameters ?? { type: "object", properties: {} } },
  });
  return { allowed, schema: allowed.length === 1 ? callSchema(allowed[0]!) : { oneOf: allowed.map(callSchema) } };
}

/** The system hint that tells the model what the grammar will make it write. */
export function forcedCallHint(allowed: readonly ToolDefinition[]): string {
  const doc = allowed
    .map((t) => `- ${t.name}: ${t.description ?? ""} parameters: ${JSON.stringify(t.parameters ?? {})}`)
    .join("\n");
  return `Call one of these tools by answering with a JSON object {"name": ..., "arguments": {...}}:\n${doc}`;
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

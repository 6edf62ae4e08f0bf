/**
 * Folds a stream of chat completion chunks (from /v1 or /api, which speak the same format) into
 * the reply so far plus its stats, measured on the client: time to first token is from the
 * request to the first thought or content, tokens/s from the first token to the end. A thinking
 * model's thoughts (`reasoning_content`) are kept apart from the answer, with how long they took.
 */
import type { ChatCompletionChunk } from "../../../server/wire/openai.js";

export interface ReplyState {
  content: string;
  /** The thoughts so far; empty for a model that does not think. */
  reasoning: string;
  /** From the first thought to the last, once the answer (or the end) came; null while thinking or without thoughts. */
  reasoningMs: number | null;
  model: string | null;
  finishReason: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  ttftMs: number | null;
  tokensPerSecond: number | null;
  /** Content and thought deltas received; an estimate of tokens when the server sends no usage. */
  deltas: number;
  /** Fields the /api stream adds beside the chunk shape (message ids), passed through as seen. */
  extra: Record<string, unknown>;
}

export const emptyReply = (): ReplyState => ({
  content: "",
  reasoning: "",
  reasoningMs: null,
  model: null,
  finishReason: null,
  promptTokens: null,
  completionTokens: null,
  ttftMs: null,
  tokensPerSecond: null,
  deltas: 0,
  extra: {},
});

export class ReplyAccumulator {
  readonly state: ReplyState = emptyReply();
  private firstAt = 0;
  private thoughtFrom = 0;
  private thoughtTo = 0;

  constructor(
    private readonly startedAt: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Applies one chunk; returns true when the visible content changed. */
  apply(chunk: Partial<ChatCompletionChunk> & Record<string, unknown>): boolean {
    const s = this.state;
    if (typeof chunk.model === "string" && chunk.model) s.model = chunk.model;
    let changed = false;
    for (const choice of chunk.choices ?? []) {
      const thought = choice.delta?.reasoning_content;
      if (thought) {
        this.first();
        this.thoughtTo = this.now();
        if (this.thoughtFrom === 0) this.thoughtFrom = this.thoughtTo;
        s.reasoning += thought;
        s.deltas += 1;
        changed = true;
      }
      const text = choice.delta?.content;
      if (text) {
        this.first();
        if (s.reasoning && s.reasoningMs === null) s.reasoningMs = this.thoughtTo - this.thoughtFrom;
        s.content += text;
        s.deltas += 1;
        changed = true;
      }
      if (choice.finish_reason) s.finishReason = choice.finish_reason;
    }
    if (chunk.usage) {
      s.promptTokens = chunk.usage.prompt_tokens;
      s.completionTokens = chunk.usage.completion_tokens;
    }
    for (const [k, v] of Object.entries(chunk)) {
      if (!["id", "object", "created", "model", "system_fingerprint", "choices", "usage"].includes(k)) s.extra[k] = v;
    }
    return changed;
  }

  private first(): void {
    if (this.firstAt !== 0) return;
    this.firstAt = this.now();
    this.state.ttftMs = this.firstAt - this.startedAt;
  }

  /** Call once the stream ended (normally or stopped) to compute the speed. */
  finish(): ReplyState {
    const s = this.state;
    if (s.reasoning && s.reasoningMs === null) s.reasoningMs = this.thoughtTo - this.thoughtFrom;
    const tokens = s.completionTokens ?? s.deltas;
    const seconds = this.firstAt > 0 ? (this.now() - this.firstAt) / 1000 : 0;
    if (seconds > 0 && tokens > 1) s.tokensPerSecond = (tokens - 1) / seconds;
    return s;
  }
}

/**
 * Neutral events to Ollama's replies: NDJSON lines (an encoder for http/respond.ts) or one body.
 * Text and thoughts stream as they come; tool calls go out whole, once their arguments are complete
 * (Ollama's calls carry arguments as an object, never as a partial string); the last line has
 * `done: true`, the reason, and the counts and durations (nanoseconds) Ollama reports.
 */
import type { ChoiceStream, FinishReason, TokenLogprob, Usage } from "../core/types.js";
import type { NdjsonWriter } from "../http/ndjson.js";
import type { StreamEncoder } from "../http/respond.js";
import { errorBody } from "./errors.js";
import type { ChatResponse, GenerateResponse } from "./schemas.js";

/** Which of Ollama's two reply shapes: `/api/chat`'s `message`, or `/api/generate`'s `response`. */
export type ReplyShape = "chat" | "generate";

export interface ReplyMeta {
  shape: ReplyShape;
  model: string;
  /** performance.now() when the request arrived. */
  startedAt: number;
  /** The request asked for logprobs. */
  logprobs: boolean;
}

type Piece = { text?: string; thinking?: string; logprobs?: TokenLogprob[] };
type Call = { name: string; arguments: string };
type Reply = ChatResponse | GenerateResponse;

const NS_PER_MS = 1e6;

function logprobsOf(list: TokenLogprob[]) {
  return list.map((l) => ({
    token: l.token,
    logprob: l.logprob ?? 0,
    bytes: l.bytes,
    top_logprobs: l.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes })),
  }));
}

/** Ollama's `done_reason`: a tool call ends the turn as "stop" there. */
const doneReason = (reason: FinishReason): "stop" | "length" => (reason === "length" ? "length" : "stop");

function argumentsObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text === "" ? "{}" : text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // a model that wrote arguments which are not JSON: passed on under one key, never dropped
  }
  return { arguments: text };
}

/** Turns one choice's events into Ollama lines, keeping the counts for the last one. */
class ReplyBuilder {
  private readonly calls: Call[] = [];
  private firstAt: number | null = null;
  private finish: { reason: FinishReason; usage: Usage } | null = null;
  private readonly createdAt = () => new Date().toISOString();

  constructor(private readonly meta: ReplyMeta) {}

  /** The line for a piece of text or thought, or null when the event only adds to what the last line says. */
  add(event: Parameters<StreamEncoder["push"]>[0]["event"]): Reply | null {
    this.firstAt ??= performance.now();
    switch (event.type) {
      case "text":
        return this.line(
          { text: event.text, ...(this.meta.logprobs ? { logprobs: event.logprobs ?? [] } : {}) },
          false,
        );
      case "reasoning":
        return this.line({ thinking: event.text }, false);
      case "tool_call":
        if (event.first) this.calls[event.index] = { name: event.name, arguments: "" };
        this.calls[event.index]!.arguments += event.argumentsDelta;
        return null;
      case "finish":
        this.finish = { reason: event.reason, usage: event.usage };
        return null;
    }
  }

  /** The finished tool calls, as one line (chat only), or null when there were none. */
  toolCallsLine(): Reply | null {
    return this.calls.length > 0 ? this.line({}, false) : null;
  }

  /** The last line: `done`, its reason and the counts. */
  doneLine(): Reply {
    const now = performance.now();
    const first = this.firstAt ?? now;
    const usage = this.finish?.usage;
    return {
      ...this.line({}, true),
      done_reason: doneReason(this.finish?.reason ?? "stop"),
      total_duration: Math.round((now - this.meta.startedAt) * NS_PER_MS),
      load_duration: 0,
      prompt_eval_count: usage?.promptTokens ?? 0,
      prompt_eval_duration: Math.round((first - this.meta.startedAt) * NS_PER_MS),
      eval_count: usage?.completionTokens ?? 0,
      eval_duration: Math.round((now - first) * NS_PER_MS),
    };
  }

  /** One line; with `withCalls` for the collected body, the calls and every piece in one. */
  line(piece: Piece, done: boolean, withCalls = !done && Object.keys(piece).length === 0): Reply {
    const base = { model: this.meta.model, created_at: this.createdAt(), done };
    const logprobs = piece.logprobs ? { logprobs: logprobsOf(piece.logprobs) } : {};
    if (this.meta.shape === "generate") {
      return {
        ...base,
        response: piece.text ?? "",
        ...(piece.thinking !== undefined ? { thinking: piece.thinking } : {}),
        ...logprobs,
      };
    }
    const calls = withCalls ? this.calls : [];
    return {
      ...base,
      message: {
        role: "assistant",
        content: piece.text ?? "",
        ...(piece.thinking !== undefined ? { thinking: piece.thinking } : {}),
        ...(calls.length > 0
          ? { tool_calls: calls.map((c) => ({ function: { name: c.name, arguments: argumentsObject(c.arguments) } })) }
          : {}),
      },
      ...logprobs,
    };
  }
}

/** The streamed reply: a line per piece, the tool calls, then the `done` line. */
export function replyEncoder(out: NdjsonWriter, meta: ReplyMeta): StreamEncoder {
  const reply = new ReplyBuilder(meta);
  return {
    async start() {},
    async push({ event }) {
      const line = reply.add(event);
      if (line) await out.send(line);
    },
    async end() {
      const calls = reply.toolCallsLine();
      if (calls) await out.send(calls);
      await out.send(reply.doneLine());
    },
    async fail(error) {
      await out.send(errorBody(error));
    },
  };
}

/** The reply as one body (`stream: false`): every piece joined, the calls, and the counts. */
export async function collectReply(events: ChoiceStream, meta: ReplyMeta): Promise<Reply> {
  const reply = new ReplyBuilder(meta);
  let text = "";
  let thinking: string | undefined;
  const logprobs: TokenLogprob[] = [];
  for await (const { event } of events) {
    reply.add(event);
    if (event.type === "text") {
      text += event.text;
      logprobs.push(...(event.logprobs ?? []));
    } else if (event.type === "reasoning") thinking = (thinking ?? "") + event.text;
  }
  const done = reply.doneLine();
  const body = reply.line(
    { text, ...(thinking !== undefined ? { thinking } : {}), ...(meta.logprobs ? { logprobs } : {}) },
    true,
    true,
  );
  return { ...done, ...body, done: true };
}

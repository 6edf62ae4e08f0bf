/**
 * Provider-neutral events to OpenAI's wire shapes: an encoder for the streamed form (chunks, through
 * http/respond.ts) and a collector for the one-body form. Shared by /v1 and the app's own chats
 * (/api/conversations), so both speak the same chunk format. A request with `n` choices is several
 * generations whose events arrive interleaved, each tagged with its choice index (chat/choices.ts).
 */
import crypto from "node:crypto";
import type { ChoiceStream, FinishReason, TokenLogprob, Usage } from "../core/types.js";
import type { StreamEncoder } from "../http/respond.js";
import type { SseWriter } from "../http/sse.js";
import type { ChatCompletion, ChatCompletionChunk, ChatLogprobs, Completion, CompletionLogprobs } from "./schemas.js";

export interface WireMeta {
  id: string;
  created: number;
  model: string;
  /** Send the extra usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
  /** Put `logprobs` on every choice (the request asked for them). Defaults to false. */
  logprobs?: boolean;
}

export function newMeta(prefix: "chatcmpl" | "cmpl", model: string, includeUsage = false): WireMeta {
  return {
    id: `${prefix}-${crypto.randomBytes(12).toString("hex")}`,
    created: Math.floor(Date.now() / 1000),
    model,
    includeUsage,
  };
}

export function usageOf(u: Usage) {
  const details = {
    ...(u.reasoningTokens !== undefined ? { reasoning_tokens: u.reasoningTokens } : {}),
    ...(u.prediction
      ? { accepted_prediction_tokens: u.prediction.accepted, rejected_prediction_tokens: u.prediction.rejected }
      : {}),
  };
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
    ...(Object.keys(details).length > 0 ? { completion_tokens_details: details } : {}),
  };
}

/**
 * Usage of a request with several choices: the prompt is counted once (as OpenAI does), the
 * completions of every choice are added up.
 */
class UsageSum {
  private first: Usage | null = null;
  private completion = 0;
  private reasoning: number | undefined;
  private prediction: Usage["prediction"];

  add(choice: number, usage: Usage): void {
    if (choice === 0 || this.first === null) this.first = usage;
    this.completion += usage.completionTokens;
    if (usage.reasoningTokens !== undefined) this.reasoning = (this.reasoning ?? 0) + usage.reasoningTokens;
    if (usage.prediction) {
      const sum = this.prediction ?? { accepted: 0, rejected: 0 };
      this.prediction = {
        accepted: sum.accepted + usage.prediction.accepted,
        rejected: sum.rejected + usage.prediction.rejected,
      };
    }
  }

  get total(): Usage {
    return {
      promptTokens: this.first?.promptTokens ?? 0,
      cachedTokens: this.first?.cachedTokens ?? 0,
      completionTokens: this.completion,
      ...(this.reasoning !== undefined ? { reasoningTokens: this.reasoning } : {}),
      ...(this.prediction ? { prediction: this.prediction } : {}),
    };
  }
}

function chatLogprobsOf(entries: readonly TokenLogprob[]): ChatLogprobs {
  return {
    content: entries.map((e) => ({
      token: e.token,
      logprob: e.logprob ?? -9999,
      bytes: e.bytes,
      top_logprobs: e.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes })),
    })),
    refusal: null,
  };
}

/** Legacy completions logprobs for `entries`, whose text starts at character `offset` of the choice. */
function completionLogprobsOf(entries: readonly TokenLogprob[], offset: number): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let at = offset;
  for (const e of entries) {
    out.tokens.push(e.token);
    out.token_logprobs.push(e.logprob);
    out.top_logprobs.push(e.logprob === null ? null : Object.fromEntries(e.top.map((t) => [t.token, t.logprob])));
    out.text_offset.push(at);
    at += e.token.length;
  }
  return out;
}

function appendCompletionLogprobs(into: CompletionLogprobs, more: CompletionLogprobs): void {
  into.tokens.push(...more.tokens);
  into.token_logprobs.push(...more.token_logprobs);
  into.top_logprobs.push(...more.top_logprobs);
  into.text_offset.push(...more.text_offset);
}

type ChunkChoice = ChatCompletionChunk["choices"][number];

function chunk(
  meta: WireMeta,
  choice: number,
  delta: ChunkChoice["delta"],
  finishReason: ChunkChoice["finish_reason"] = null,
  logprobs: ChatLogprobs | null = null,
): ChatCompletionChunk {
  return {
    id: meta.id,
    object: "chat.completion.chunk",
    created: meta.created,
    model: meta.model,
    system_fingerprint: null,
    choices: [{ index: choice, delta, logprobs, finish_reason: finishReason }],
    ...(meta.includeUsage ? { usage: null } : {}),
  };
}

/** The usage chunk (when asked) with no choices, then `[DONE]`. */
async function endStream(sse: SseWriter, meta: WireMeta, object: string, usage: UsageSum): Promise<void> {
  if (meta.includeUsage) {
    await sse.send({
      id: meta.id,
      object,
      created: meta.created,
      model: meta.model,
      system_fingerprint: null,
      choices: [],
      usage: usageOf(usage.total),
    });
  }
  sse.done();
}

/**
 * Chat completion chunks for interleaved choices, ending with the usage chunk (when asked) and `[DONE]`.
 * A choice's role goes out with its first event, as OpenAI sends it: `content: ""` in a chunk of
 * its own before text (or an empty reply), `content: null` in the same chunk as a tool call or a
 * thought, which clients such as the AI SDK then read as no text at all (an empty `""` became an
 * empty text part there).
 */
export function chatChunkEncoder(sse: SseWriter, meta: WireMeta): StreamEncoder {
  const usage = new UsageSum();
  const opened = new Set<number>();
  /** The role chunk before a choice's text, once. */
  const openForText = async (choice: number) => {
    if (opened.has(choice)) return;
    opened.add(choice);
    await sse.send(chunk(meta, choice, { role: "assistant", content: "" }));
  };
  /** `delta` with the role and `content: null` when it is the choice's first. */
  const withRole = (choice: number, delta: ChunkChoice["delta"]): ChunkChoice["delta"] => {
    if (opened.has(choice)) return delta;
    opened.add(choice);
    return { role: "assistant", content: null, ...delta };
  };
  return {
    async start() {},
    async push({ choice, event }) {
      switch (event.type) {
        case "reasoning":
          if (event.text) await sse.send(chunk(meta, choice, withRole(choice, { reasoning_content: event.text })));
          return;
        case "text":
          if (event.text || (event.logprobs && event.logprobs.length > 0)) {
            await openForText(choice);
            await sse.send(
              chunk(
                meta,
                choice,
                { content: event.text },
                null,
                meta.logprobs ? chatLogprobsOf(event.logprobs ?? []) : null,
              ),
            );
          }
          return;
        case "tool_call":
          await sse.send(
            chunk(
              meta,
              choice,
              withRole(choice, {
                tool_calls: [
                  event.first
                    ? {
                        index: event.index,
                        id: event.id,
                        type: "function",
                        function: { name: event.name, arguments: event.argumentsDelta },
                      }
                    : { index: event.index, function: { arguments: event.argumentsDelta } },
                ],
              }),
            ),
          );
          return;
        case "finish":
          usage.add(choice, event.usage);
          await openForText(choice);
          await sse.send(chunk(meta, choice, {}, event.reason));
          return;
      }
    },
    end: () => endStream(sse, meta, "chat.completion.chunk", usage),
    fail: (error) => sse.send(error.toJSON()),
  };
}

interface CollectedChoice {
  text: string;
  reasoning: string;
  calls: Map<number, { id: string; name: string; arguments: string }>;
  logprobs: TokenLogprob[];
  finish: FinishReason | null;
}

function emptyChoice(): CollectedChoice {
  return { text: "", reasoning: "", calls: new Map(), logprobs: [], finish: null };
}

export async function collectChatChoices(stream: ChoiceStream, meta: WireMeta, n: number): Promise<ChatCompletion> {
  const choices = Array.from({ length: n }, emptyChoice);
  const usage = new UsageSum();
  for await (const { choice, event } of stream) {
    const c = choices[choice];
    if (!c) continue;
    if (event.type === "text") {
      c.text += event.text;
      if (event.logprobs) c.logprobs.push(...event.logprobs);
    } else if (event.type === "reasoning") {
      c.reasoning += event.text;
    } else if (event.type === "tool_call") {
      const call = c.calls.get(event.index) ?? { id: event.id, name: event.name, arguments: "" };
      call.arguments += event.argumentsDelta;
      c.calls.set(event.index, call);
    } else {
      c.finish = event.reason;
      usage.add(choice, event.usage);
    }
  }
  if (choices.some((c) => c.finish === null)) throw new Error("generation ended without a finish event");
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    system_fingerprint: null,
    choices: choices.map((c, index) => {
      const toolCalls = [...c.calls.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, call]) => ({
          id: call.id,
          type: "function" as const,
          function: { name: call.name, arguments: call.arguments },
        }));
      return {
        index,
        message: {
          role: "assistant",
          content: toolCalls.length > 0 && c.text === "" ? null : c.text,
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          ...(c.reasoning ? { reasoning_content: c.reasoning } : {}),
        },
        logprobs: meta.logprobs ? chatLogprobsOf(c.logprobs) : null,
        finish_reason: c.finish!,
      };
    }),
    usage: usageOf(usage.total),
  };
}

function completionChunk(
  meta: WireMeta,
  choice: number,
  text: string,
  finishReason: Completion["choices"][number]["finish_reason"],
  logprobs: CompletionLogprobs | null,
): Completion {
  return {
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    system_fingerprint: null,
    choices: [{ index: choice, text, logprobs, finish_reason: finishReason }],
    ...(meta.includeUsage ? { usage: null } : {}),
  };
}

/** Legacy completion chunks for `n` interleaved choices, ending with the usage chunk (when asked) and `[DONE]`. */
export function completionChunkEncoder(sse: SseWriter, meta: WireMeta, n: number): StreamEncoder {
  const usage = new UsageSum();
  const offsets = new Array<number>(n).fill(0);
  return {
    async start() {},
    async push({ choice, event }) {
      if (event.type === "text") {
        if (!event.text && !(event.logprobs && event.logprobs.length > 0)) return;
        const logprobs = meta.logprobs ? completionLogprobsOf(event.logprobs ?? [], offsets[choice] ?? 0) : null;
        offsets[choice] = (offsets[choice] ?? 0) + event.text.length;
        await sse.send(completionChunk(meta, choice, event.text, null, logprobs));
      } else if (event.type === "finish") {
        usage.add(choice, event.usage);
        await sse.send(completionChunk(meta, choice, "", event.reason, null));
      }
    },
    end: () => endStream(sse, meta, "text_completion", usage),
    fail: (error) => sse.send(error.toJSON()),
  };
}

export async function collectCompletionChoices(stream: ChoiceStream, meta: WireMeta, n: number): Promise<Completion> {
  const choices = Array.from({ length: n }, () => ({
    text: "",
    logprobs: completionLogprobsOf([], 0),
    finish: null as FinishReason | null,
  }));
  const usage = new UsageSum();
  for await (const { choice, event } of stream) {
    const c = choices[choice];
    if (!c) continue;
    if (event.type === "text") {
      if (event.logprobs) appendCompletionLogprobs(c.logprobs, completionLogprobsOf(event.logprobs, c.text.length));
      c.text += event.text;
    } else if (event.type === "finish") {
      c.finish = event.reason;
      usage.add(choice, event.usage);
    }
  }
  if (choices.some((c) => c.finish === null)) throw new Error("generation ended without a finish event");
  return {
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    system_fingerprint: null,
    choices: choices.map((c, index) => ({
      index,
      text: c.text,
      logprobs: meta.logprobs ? c.logprobs : null,
      finish_reason: c.finish,
    })),
    usage: usageOf(usage.total),
  };
}

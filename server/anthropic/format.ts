/**
 * Neutral generation events to Anthropic's Messages shapes: a message object, or the stream of
 * named events (message_start, content_block_start/delta/stop, message_delta, message_stop). One
 * accumulator builds both, so the streamed blocks and the returned message agree.
 */
import crypto from "node:crypto";
import { firstChoice } from "../chat/choices.js";
import type { Admission, ChoiceStream, FinishReason, GenerationEvent, Usage } from "../core/types.js";
import type { StreamEncoder } from "../http/respond.js";
import type { SseWriter } from "../http/sse.js";
import { anthropicErrorBody } from "./errors.js";
import type { AnthropicMessage, ContentBlock, StopReason } from "./schemas.js";

export interface MessageMeta {
  id: string;
  model: string;
  /** The request's stop_sequences: a stop string is reported only when it is one of them. */
  stopSequences: readonly string[];
}

export function newMessageMeta(model: string, stopSequences: readonly string[]): MessageMeta {
  return { id: `msg_${crypto.randomBytes(12).toString("hex")}`, model, stopSequences };
}

/** Anthropic counts cache reads apart from input tokens; together they are the prompt. */
export function anthropicUsageOf(u: Usage | null) {
  return {
    input_tokens: u ? u.promptTokens - u.cachedTokens : 0,
    output_tokens: u?.completionTokens ?? 0,
    cache_read_input_tokens: u?.cachedTokens ?? 0,
    cache_creation_input_tokens: 0,
  };
}

/** Tool-use ids look like Anthropic's; clients send them back opaque in tool_result blocks. */
function toolUseId(callId: string): string {
  return callId.startsWith("toolu_") ? callId : `toolu_${callId.replace(/^call_/, "")}`;
}

function stopOf(
  reason: FinishReason,
  stopSequence: string | undefined,
  meta: MessageMeta,
): { stop_reason: StopReason; stop_sequence: string | null } {
  if (reason === "tool_calls") return { stop_reason: "tool_use", stop_sequence: null };
  if (reason === "length") return { stop_reason: "max_tokens", stop_sequence: null };
  if (stopSequence !== undefined && meta.stopSequences.includes(stopSequence))
    return { stop_reason: "stop_sequence", stop_sequence: stopSequence };
  return { stop_reason: "end_turn", stop_sequence: null };
}

function inputOf(json: string): unknown {
  try {
    return JSON.parse(json || "{}");
  } catch {
    // A call cut short by max_tokens: keep what there is rather than fail the reply.
    return {};
  }
}

export type MessageEventSink = (event: string, data: Record<string, unknown>) => void | Promise<void>;

export class MessageAccumulator {
  private readonly blocks: (
    | { type: "text"; text: string }
    | { type: "thinking"; thinking: string }
    | { type: "tool_use"; id: string; name: string; json: string }
  )[] = [];
  private open: { index: number; call?: number } | null = null;
  private stop: { stop_reason: StopReason; stop_sequence: string | null } | null = null;
  private usage: Usage | null = null;

  constructor(
    private readonly meta: MessageMeta,
    private readonly sink: MessageEventSink | null = null,
  ) {}

  private async emit(event: string, data: Record<string, unknown>): Promise<void> {
    if (this.sink) await this.sink(event, { type: event, ...data });
  }

  get finished(): boolean {
    return this.stop !== null;
  }

  /**
   * `message_start`, with the prompt's tokens when the provider knew them at admission: Anthropic
   * sends them there, and clients such as LangChain read input usage only from this event.
   */
  async start(admitted?: Admission["usage"]): Promise<void> {
    const usage = admitted ? anthropicUsageOf({ ...admitted, completionTokens: 0 }) : anthropicUsageOf(null);
    await this.emit("message_start", {
      message: { ...this.message(), content: [], stop_reason: null, stop_sequence: null, usage },
    });
  }

  async push(event: GenerationEvent): Promise<void> {
    switch (event.type) {
      case "reasoning": {
        if (!event.text) return;
        let block = this.open && this.open.call === undefined ? this.blocks[this.open.index] : undefined;
        if (!block || block.type !== "thinking") {
          await this.closeBlock();
          block = { type: "thinking", thinking: "" };
          this.open = { index: this.blocks.push(block) - 1 };
          // No signature: a local model's thoughts are not signed, and clients send them back as they are.
          await this.emit("content_block_start", {
            index: this.open.index,
            content_block: { type: "thinking", thinking: "", signature: "" },
          });
        }
        block.thinking += event.text;
        await this.emit("content_block_delta", {
          index: this.open!.index,
          delta: { type: "thinking_delta", thinking: event.text },
        });
        return;
      }
      case "text": {
        if (!event.text) return;
        let block = this.open && this.open.call === undefined ? this.blocks[this.open.index] : undefined;
        if (!block || block.type !== "text") {
          await this.closeBlock();
          block = { type: "text", text: "" };
          this.open = { index: this.blocks.push(block) - 1 };
          await this.emit("content_block_start", { index: this.open.index, content_block: { type: "text", text: "" } });
        }
        block.text += event.text;
        await this.emit("content_block_delta", {
          index: this.open!.index,
          delta: { type: "text_delta", text: event.text },
        });
        return;
      }
      case "tool_call": {
        if (event.first || this.open?.call !== event.index) {
          await this.closeBlock();
          const block = { type: "tool_use" as const, id: toolUseId(event.id), name: event.name, json: "" };
          this.open = { index: this.blocks.push(block) - 1, call: event.index };
          await this.emit("content_block_start", {
            index: this.open.index,
            content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
          });
        }
        const block = this.blocks[this.open!.index];
        if (block?.type === "tool_use" && event.argumentsDelta) {
          block.json += event.argumentsDelta;
          await this.emit("content_block_delta", {
            index: this.open!.index,
            delta: { type: "input_json_delta", partial_json: event.argumentsDelta },
          });
        }
        return;
      }
      case "finish":
        await this.closeBlock();
        this.usage = event.usage;
        this.stop = stopOf(event.reason, event.stopSequence, this.meta);
        await this.emit("message_delta", { delta: { ...this.stop }, usage: anthropicUsageOf(event.usage) });
        await this.emit("message_stop", {});
        return;
    }
  }

  private async closeBlock(): Promise<void> {
    if (!this.open) return;
    const index = this.open.index;
    this.open = null;
    await this.emit("content_block_stop", { index });
  }

  message(): AnthropicMessage {
    const content: ContentBlock[] = this.blocks.map((b) =>
      b.type === "text"
        ? { type: "text", text: b.text }
        : b.type === "thinking"
          ? { type: "thinking", thinking: b.thinking, signature: "" }
          : { type: "tool_use", id: b.id, name: b.name, input: inputOf(b.json) },
    );
    return {
      id: this.meta.id,
      type: "message",
      role: "assistant",
      model: this.meta.model,
      content,
      stop_reason: this.stop?.stop_reason ?? null,
      stop_sequence: this.stop?.stop_sequence ?? null,
      usage: anthropicUsageOf(this.usage),
    };
  }
}

/**
 * Anthropic's stream events: message_start (with the prompt's usage from `admission`, when the
 * provider knew it), a ping, the blocks, message_stop; a failure as an `error` event.
 */
export function messageEventEncoder(
  sse: SseWriter,
  meta: MessageMeta,
  requestId: string | null,
  admission?: Admission,
): StreamEncoder {
  const acc = new MessageAccumulator(meta, (event, data) => sse.sendEvent(event, data));
  return {
    async start() {
      await acc.start(admission?.usage);
      await sse.sendEvent("ping", { type: "ping" });
    },
    push: ({ event }) => acc.push(event),
    async end() {},
    fail: (error) => sse.sendEvent("error", anthropicErrorBody(error, requestId)),
  };
}

/** Runs the whole generation into one message (non-streamed requests). */
export async function collectMessage(events: ChoiceStream, meta: MessageMeta): Promise<AnthropicMessage> {
  const acc = new MessageAccumulator(meta);
  for await (const event of firstChoice(events)) await acc.push(event);
  if (!acc.finished) throw new Error("generation ended without a finish event");
  return acc.message();
}

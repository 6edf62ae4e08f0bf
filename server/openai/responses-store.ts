/**
 * Stored responses live in history, like recorded /v1 chats: a stored response is the assistant
 * message its generation was recorded as (by the history recorder, the one writer), in a
 * `source: "api"` conversation that the UI lists and search finds. Its id says where it is: the
 * message id, the conversation id (checked, so an id never lands on a reused row), whether the
 * path starts with the response's `instructions` (which a following response does not inherit),
 * and the same for the response it continued, if any.
 * What is kept is what history keeps: the conversation, each reply's text, tool calls, model,
 * token counts, finish reason and status; request settings (tools, temperature...) are not.
 */
import { z } from "zod";
import { NotFoundError } from "../errors.js";
import type { History } from "../history/index.js";
import { toChatMessages } from "../history/prompt.js";
import type { Message } from "../history/types.js";
import type { ChatMessage } from "../core/types.js";
import { functionCallItemId, messageItemId, responseObject, type ResponseBase } from "./responses-format.js";
import type { OutputItem, ResponseObject } from "./responses-schemas.js";

interface Place {
  messageId: number;
  conversationId: string;
  /** The first message of the path is the response's `instructions`. */
  instructions: boolean;
}

export interface StoredRef extends Place {
  /** Where the response named by `previous_response_id` is. */
  previous?: Place;
}

const PlaceSchema = z.tuple([z.number().int().positive(), z.string().min(1), z.union([z.literal(0), z.literal(1)])]);
const RefSchema = z.union([PlaceSchema, z.tuple([...PlaceSchema.def.items, PlaceSchema])]);

const placeJson = (p: Place) => [p.messageId, p.conversationId, p.instructions ? 1 : 0];
const placeOf = ([messageId, conversationId, instructions]: z.infer<typeof PlaceSchema>): Place => ({
  messageId,
  conversationId,
  instructions: instructions === 1,
});

export function storedResponseId(ref: StoredRef): string {
  const json = ref.previous ? [...placeJson(ref), placeJson(ref.previous)] : placeJson(ref);
  return `resp_${Buffer.from(JSON.stringify(json)).toString("base64url")}`;
}

export function refOf(id: string): StoredRef | null {
  if (!id.startsWith("resp_")) return null;
  try {
    const parsed = RefSchema.safeParse(JSON.parse(Buffer.from(id.slice(5), "base64url").toString("utf8")));
    if (!parsed.success) return null;
    const d = parsed.data;
    const place = placeOf([d[0], d[1], d[2]]);
    return d.length === 4 ? { ...place, previous: placeOf(d[3]) } : place;
  } catch {
    return null;
  }
}

function notFound(id: string, param: string): NotFoundError {
  return new NotFoundError(
    `No stored response with id '${id}' was found (responses created with store: false are not kept).`,
    {
      param,
      code: "response_not_found",
    },
  );
}

export class ResponsesStore {
  /** Responses being generated right now: a GET says in_progress rather than incomplete. */
  private readonly running = new Set<string>();

  constructor(private readonly history: History) {}

  /** Marks `id` as being generated until `done` settles. */
  track(id: string, done: Promise<unknown>): void {
    this.running.add(id);
    void done.finally(() => this.running.delete(id)).catch(() => undefined);
  }

  private lookup(id: string, param: string): { ref: StoredRef; message: Message; path: Message[] } {
    const ref = refOf(id);
    const message = ref ? this.history.store.getMessage(ref.messageId) : undefined;
    if (!ref || !message || message.conversationId !== ref.conversationId || message.role !== "assistant")
      throw notFound(id, param);
    return { ref, message, path: this.history.store.pathTo(ref.messageId) };
  }

  /** The conversation a following response continues: everything up to and including `id`, without its instructions. */
  continuation(id: string): ChatMessage[] {
    const { ref, path } = this.lookup(id, "previous_response_id");
    return toChatMessages({ systemPrompt: null }, ref.instructions ? path.slice(1) : path);
  }

  get(id: string): ResponseObject {
    const { ref, message, path } = this.lookup(id, "response_id");
    const output: OutputItem[] = [];
    const itemStatus = message.finishReason === "length" || message.status !== "complete" ? "incomplete" : "completed";
    if (message.content !== "" || !message.toolCalls) {
      output.push({
        type: "message",
        id: messageItemId(id, 0),
        status: itemStatus,
        role: "assistant",
        content: [{ type: "output_text", text: message.content, annotations: [], logprobs: [] }],
      });
    }
    for (const call of message.toolCalls ?? []) {
      output.push({
        type: "function_call",
        id: functionCallItemId(call.id),
        call_id: call.id,
        name: call.name,
        arguments: call.arguments,
        status: itemStatus,
      });
    }
    const base: ResponseBase = {
      id,
      object: "response",
      created_at: Math.floor(message.createdAt / 1000),
      instructions: ref.instructions ? (path[0]?.content ?? null) : null,
      max_output_tokens: null,
      reasoning: { effort: null, summary: null },
      model: message.model ?? "",
      parallel_tool_calls: true,
      previous_response_id: ref.previous ? storedResponseId(ref.previous) : null,
      store: true,
      temperature: null,
      top_p: null,
      text: { format: { type: "text" } },
      tool_choice: "auto",
      tools: [],
      truncation: "disabled",
      user: null,
      metadata: {},
    };
    const usage =
      message.promptTokens !== null && message.completionTokens !== null
        ? { promptTokens: message.promptTokens, completionTokens: message.completionTokens, cachedTokens: 0 }
        : null;
    if (message.status === "error") {
      return responseObject(base, {
        status: "failed",
        output,
        usage,
        error: { code: "server_error", message: message.error ?? "The generation failed." },
      });
    }
    if (message.status === "partial") {
      const running = this.running.has(id);
      return responseObject(base, {
        status: running ? "in_progress" : "incomplete",
        output,
        usage,
        incompleteReason: running ? null : "interrupted",
      });
    }
    const incomplete = message.finishReason === "length";
    return responseObject(base, {
      status: incomplete ? "incomplete" : "completed",
      output,
      usage,
      completedAt: Math.floor(message.updatedAt / 1000),
      incompleteReason: incomplete ? "max_output_tokens" : null,
    });
  }

  /** The input items of `id`: what its request added after the previous reply. Newest first, as OpenAI lists them. */
  inputItems(id: string): Record<string, unknown>[] {
    const { ref, path } = this.lookup(id, "response_id");
    const before = path.slice(ref.instructions ? 1 : 0, -1);
    let start = before.length;
    while (start > 0 && before[start - 1]!.role !== "assistant") start--;
    return before
      .slice(start)
      .map((m): Record<string, unknown> =>
        m.role === "tool"
          ? {
              type: "function_call_output",
              id: `fco_${m.id}`,
              call_id: m.toolCallId,
              output: m.content,
              status: "completed",
            }
          : {
              type: "message",
              id: `msg_${m.id}`,
              role: m.role,
              status: "completed",
              content: [{ type: "input_text", text: m.content }],
            },
      )
      .reverse();
  }

  /** Deletes a stored response and the responses that continued from it (they are built on it). */
  delete(id: string): void {
    const { ref } = this.lookup(id, "response_id");
    this.history.store.deleteMessage(ref.messageId);
  }
}

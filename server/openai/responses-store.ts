/**
 * Stored responses live in history, like recorded /v1 chats: a stored response is the assistant
 * message its generation was recorded as (by the history recorder, the one writer of turns), in a
 * `source: "api"` conversation that the UI lists and search finds. Its id says where it is: the
 * message id, the conversation id (checked, so an id never lands on a reused row), whether the
 * path starts with the response's `instructions` (which a following response does not inherit),
 * and the same for the response it continued, if any.
 *
 * Beside the message, history keeps the response object itself (migration 6, `stored_responses`),
 * written here: the `in_progress` object when the generation starts, the final one (what the
 * client receives) just before the client receives it. GET returns that final object unchanged,
 * so it carries the request's settings, the output items with their ids, logprobs and usage as
 * they were sent. A response still running, interrupted or failed is rebuilt from its message
 * with the settings of the object kept at the start. Objects over MAX_STORED_RESPONSE_CHARS are
 * kept without their logprobs, or not at all (then GET rebuilds from the message, with the
 * request's settings at their defaults, as for responses stored before migration 6).
 */
import { z } from "zod";
import { NotFoundError } from "../errors.js";
import type { History } from "../history/index.js";
import { toChatMessages } from "../history/prompt.js";
import type { Message } from "../history/types.js";
import type { Logger } from "../logger.js";
import type { ChatMessage } from "../core/types.js";
import { messageItemId, reasoningItemId, responseObject, type ResponseBase } from "./responses-format.js";
import { ResponseObjectSchema, type OutputItem, type ResponseObject } from "./responses-schemas.js";
import { callIdOfMcpItem, resultForModel } from "./responses-mcp.js";
import { ToolNames } from "./responses-tools.js";

/**
 * Where a kept object of a response that took several model turns (MCP calls run by Hearth) says
 * which message its last turn is: the id names the first turn's message, and a continuation goes
 * on from the last. Taken out before the object is answered.
 */
const LAST_TURN_KEY = "hearth:last_message_id";
/** In a row whose object was too large to keep: the results of the MCP calls run after the last turn. */
const RESULTS_KEY = "hearth:call_results";

const CallResultSchema = z.object({ call_id: z.string(), content: z.string() });
type CallResult = z.infer<typeof CallResultSchema>;

/**
 * What the model would be shown for the MCP calls that ran after the response's last model turn:
 * the trailing calls of its output (earlier calls' results are in history already; a continuation
 * adds only those of calls left unanswered).
 */
function lastResults(response: ResponseObject): CallResult[] {
  const out: CallResult[] = [];
  for (const item of [...response.output].reverse()) {
    if (item.type === "mcp_approval_request" || item.type === "function_call" || item.type === "custom_tool_call")
      continue;
    if (item.type !== "mcp_call") break;
    if (item.output === null && item.error === null) continue;
    const result = item.error
      ? { outcome: "error" as const, text: mcpErrorText(item.error) }
      : { outcome: "ok" as const, text: item.output ?? "" };
    out.push({
      call_id: callIdOfMcpItem(item.id),
      content: resultForModel({ label: item.server_label, tool: item.name }, result),
    });
  }
  return out.reverse();
}

/**
 * The largest response object kept for GET, in characters of JSON (4 MiB). Text and thoughts are
 * kept in the message anyway; what makes an object large is logprobs (about 1 KB a token with 20
 * top_logprobs), so those go first.
 */
export const MAX_STORED_RESPONSE_CHARS = 4 * 1024 * 1024;

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

/** The response object without its logprobs (each output text's list emptied). */
function withoutLogprobs(response: ResponseObject): ResponseObject {
  return {
    ...response,
    output: response.output.map((item) =>
      item.type === "message"
        ? { ...item, content: item.content.map((part) => (part.logprobs ? { ...part, logprobs: [] } : part)) }
        : item,
    ),
  };
}

/** The fields of a response object that come from the request (responses-format.ts ResponseBase). */
function baseOf(response: ResponseObject): ResponseBase {
  const {
    status: _status,
    completed_at: _completed,
    error: _error,
    incomplete_details: _incomplete,
    output: _output,
    usage: _usage,
    ...base
  } = response;
  return base;
}

export class ResponsesStore {
  /** Responses being generated right now: a GET says in_progress rather than incomplete. */
  private readonly running = new Set<string>();

  constructor(
    private readonly history: History,
    private readonly logger: Pick<Logger, "warn">,
  ) {}

  /** Marks `id` as being generated until `done` settles. */
  track(id: string, done: Promise<unknown>): void {
    this.running.add(id);
    void done.finally(() => this.running.delete(id)).catch(() => undefined);
  }

  /**
   * Keeps `response` for GET with the message `response.id` names (nothing for an id that names
   * none, as when the response could not be recorded). A failing write is logged; the response is
   * served all the same, as the recorder does with its own writes.
   */
  keep(response: ResponseObject, lastTurn: number | null = null): void {
    const ref = refOf(response.id);
    if (!ref) return;
    const turn = lastTurn !== null ? { [LAST_TURN_KEY]: lastTurn } : {};
    let json = JSON.stringify({ ...response, ...turn });
    if (json.length > MAX_STORED_RESPONSE_CHARS) json = JSON.stringify({ ...withoutLogprobs(response), ...turn });
    if (json.length > MAX_STORED_RESPONSE_CHARS) {
      this.logger.warn(
        { responseId: response.id, chars: json.length },
        "history: a response object is too large to keep; GET rebuilds it from its message",
      );
      // A continuation still needs where the last turn is, and the results of the calls run after it.
      if (lastTurn === null) return;
      json = JSON.stringify({ ...turn, [RESULTS_KEY]: lastResults(response) });
      if (json.length > MAX_STORED_RESPONSE_CHARS) json = JSON.stringify(turn);
    }
    try {
      this.history.store.putStoredResponse(ref.messageId, json);
    } catch (err) {
      this.logger.warn({ err, responseId: response.id }, "history: could not keep a response object");
    }
  }

  private lookup(id: string, param: string): { ref: StoredRef; message: Message; path: Message[] } {
    const ref = refOf(id);
    const message = ref ? this.history.store.getMessage(ref.messageId) : undefined;
    if (!ref || !message || message.conversationId !== ref.conversationId || message.role !== "assistant")
      throw notFound(id, param);
    return { ref, message, path: this.history.store.pathTo(ref.messageId) };
  }

  /** The object kept for `id`, when there is one and it is the response `id` names. */
  private kept(id: string, messageId: number): ResponseObject | null {
    return this.keptRow(id, messageId)?.response ?? null;
  }

  /** The kept object, and the message of its last model turn when it took several. */
  private keptRow(
    id: string,
    messageId: number,
  ): { response: ResponseObject | null; lastTurn: number | null; results: CallResult[] } | null {
    const json = this.history.store.getStoredResponse(messageId);
    if (json === undefined) return null;
    try {
      const raw = JSON.parse(json) as Record<string, unknown>;
      const lastTurn = typeof raw[LAST_TURN_KEY] === "number" ? raw[LAST_TURN_KEY] : null;
      const kept = z.array(CallResultSchema).safeParse(raw[RESULTS_KEY]);
      delete raw[LAST_TURN_KEY];
      delete raw[RESULTS_KEY];
      const parsed = ResponseObjectSchema.safeParse(raw);
      // The raw object, not the parse: exactly what was sent, whatever the schema strips.
      const response = parsed.success && parsed.data.id === id ? (raw as ResponseObject) : null;
      if (!response && lastTurn === null) return null;
      return { response, lastTurn, results: response ? lastResults(response) : kept.success ? kept.data : [] };
    } catch {
      return null;
    }
  }

  /**
   * The conversation a following response continues: everything up to and including `id` (its
   * last model turn), without its instructions, and the results of MCP calls it ran after its last
   * turn (beside a call for the client, or at the step limit), which no turn of it recorded.
   */
  continuation(id: string): ChatMessage[] {
    const { ref, path } = this.lookup(id, "previous_response_id");
    const row = this.keptRow(id, ref.messageId);
    const lastTurn = row?.lastTurn ? this.history.store.getMessage(row.lastTurn) : undefined;
    const turns = lastTurn ? this.history.store.pathTo(lastTurn.id) : path;
    const messages = toChatMessages({ systemPrompt: null }, ref.instructions ? turns.slice(1) : turns);
    const open = new Set<string>();
    for (const m of messages) {
      if (m.role === "assistant") for (const call of m.toolCalls ?? []) open.add(call.id);
      else if (m.role === "tool") open.delete(m.toolCallId);
    }
    for (const { call_id, content } of row?.results ?? [])
      if (open.delete(call_id)) messages.push({ role: "tool", toolCallId: call_id, content });
    return messages;
  }

  get(id: string): ResponseObject {
    const { ref, message, path } = this.lookup(id, "response_id");
    const kept = this.kept(id, ref.messageId);
    if (kept && kept.status !== "in_progress" && message.status === "complete") return kept;
    const output: OutputItem[] = [];
    const itemStatus = message.finishReason === "length" || message.status !== "complete" ? "incomplete" : "completed";
    if (message.reasoning !== null) {
      output.push({
        type: "reasoning",
        id: reasoningItemId(id, 0),
        status: itemStatus,
        summary: [],
        content: [{ type: "reasoning_text", text: message.reasoning }],
      });
    }
    if (message.content !== "" || (!message.toolCalls && message.reasoning === null)) {
      output.push({
        type: "message",
        id: messageItemId(id, 0),
        status: itemStatus,
        role: "assistant",
        content: [{ type: "output_text", text: message.content, annotations: [], logprobs: [] }],
      });
    }
    const tools = new ToolNames(kept?.tools);
    for (const call of message.toolCalls ?? []) output.push(tools.callItem(call, itemStatus));
    const base: ResponseBase = kept
      ? baseOf(kept)
      : {
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
  /**
   * The input items of `id`: what its request added to the conversation it continued (all of it
   * without `previous_response_id`), as items again. Newest first, as OpenAI lists them.
   */
  inputItems(id: string): Record<string, unknown>[] {
    const { ref, path } = this.lookup(id, "response_id");
    const before = path.slice(ref.instructions ? 1 : 0, -1);
    const tools = new ToolNames(this.kept(id, ref.messageId)?.tools);
    // A custom tool's output is a custom_tool_call_output: known by the call it answers.
    const custom = new Set(
      path.flatMap((m) => (m.toolCalls ?? []).filter((c) => tools.wire(c.name).kind === "custom").map((c) => c.id)),
    );
    return before
      .slice(this.inputStart(ref, before))
      .flatMap((m) => inputItemsOf(m, tools, custom))
      .reverse();
  }

  /** Where the request's own messages start in `before` (the path up to the reply, without instructions). */
  private inputStart(ref: StoredRef, before: readonly Message[]): number {
    const previous = ref.previous;
    if (!previous) return 0;
    const at = before.findIndex((m) => m.id === previous.messageId);
    if (at >= 0) return at + 1;
    // A request with other instructions starts a conversation of its own, holding a copy of the
    // continuation: as many messages as `continuation` gave.
    const message = this.history.store.getMessage(previous.messageId);
    if (message && message.conversationId === previous.conversationId) {
      const path = this.history.store.pathTo(previous.messageId);
      return toChatMessages({ systemPrompt: null }, previous.instructions ? path.slice(1) : path).length;
    }
    let start = before.length;
    while (start > 0 && before[start - 1]!.role !== "assistant") start--;
    return start;
  }

  /** Deletes a stored response and the responses that continued from it (they are built on it). */
  delete(id: string): void {
    const { ref } = this.lookup(id, "response_id");
    this.history.store.deleteMessage(ref.messageId);
  }
}

/** What the model was shown for a failed MCP call. */
function mcpErrorText(error: unknown): string {
  const e = error as { message?: unknown; content?: unknown } | null;
  if (typeof e?.message === "string") return e.message;
  if (Array.isArray(e?.content))
    return (e.content as { text?: unknown }[]).map((c) => (typeof c.text === "string" ? c.text : "")).join("\n");
  return JSON.stringify(error);
}

/** A stored message as the input items it was sent as (an assistant turn: its thoughts, text and calls). */
function inputItemsOf(m: Message, tools: ToolNames, custom: ReadonlySet<string>): Record<string, unknown>[] {
  switch (m.role) {
    case "tool":
      return [
        {
          type: custom.has(m.toolCallId ?? "") ? "custom_tool_call_output" : "function_call_output",
          id: `fco_${m.id}`,
          call_id: m.toolCallId,
          output: m.content,
          status: "completed",
        },
      ];
    case "assistant":
      return [
        ...(m.reasoning !== null
          ? [
              {
                type: "reasoning",
                id: `rs_${m.id}`,
                summary: [],
                content: [{ type: "reasoning_text", text: m.reasoning }],
              },
            ]
          : []),
        ...(m.content !== "" || !m.toolCalls
          ? [
              {
                type: "message",
                id: `msg_${m.id}`,
                role: "assistant",
                status: "completed",
                content: [{ type: "output_text", text: m.content, annotations: [] }],
              },
            ]
          : []),
        ...(m.toolCalls ?? []).map((call) => tools.callItem(call, "completed")),
      ];
    default:
      return [
        {
          type: "message",
          id: `msg_${m.id}`,
          role: m.role,
          status: "completed",
          content: [{ type: "input_text", text: m.content }],
        },
      ];
  }
}

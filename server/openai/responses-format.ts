/**
 * Neutral generation events to Responses API shapes: the event sequence of a streamed response
 * (response.created, response.in_progress, output items with their content parts and deltas,
 * response.completed) and the final response object, built by one accumulator so that what is
 * streamed and what is returned (or stored) always agree.
 */
import type { FinishReason, TokenLogprob, Usage } from "../core/types.js";
import type { StreamEncoder } from "../http/respond.js";
import type { SseWriter } from "../http/sse.js";
import {
  McpTools,
  mcpApprovalItemId,
  mcpCallItemId,
  type McpEvent,
  type ResponsesChoiceEvent,
  type ResponsesEvent,
} from "./responses-mcp.js";
import { ToolNames, customInputOf } from "./responses-tools.js";
import type {
  OutputCustomToolCall,
  OutputFunctionCall,
  OutputItem,
  OutputMcpApprovalRequest,
  OutputMcpCall,
  OutputMessage,
  OutputReasoning,
  OutputText,
  ResponseObject,
} from "./responses-schemas.js";

/** Everything in a response object that comes from the request, not from the generation. */
export type ResponseBase = Omit<
  ResponseObject,
  "status" | "completed_at" | "error" | "incomplete_details" | "output" | "usage"
>;

export type ResponseStatus = ResponseObject["status"];

export function responseUsageOf(u: Usage): NonNullable<ResponseObject["usage"]> {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
    total_tokens: u.promptTokens + u.completionTokens,
  };
}

/** The response object for a state of the generation. */
export function responseObject(
  base: ResponseBase,
  state: {
    status: ResponseStatus;
    output: OutputItem[];
    usage: Usage | null;
    completedAt?: number | null;
    incompleteReason?: string | null;
    error?: { code: string; message: string } | null;
  },
): ResponseObject {
  return {
    ...base,
    status: state.status,
    completed_at: state.completedAt ?? null,
    error: state.error ?? null,
    incomplete_details: state.incompleteReason ? { reason: state.incompleteReason } : null,
    output: state.output,
    usage: state.usage ? responseUsageOf(state.usage) : null,
  };
}

function wireLogprobs(entries: readonly TokenLogprob[]): NonNullable<OutputText["logprobs"]> {
  return entries.map((e) => ({
    token: e.token,
    logprob: e.logprob ?? -9999,
    bytes: e.bytes,
    top_logprobs: e.top.map((t) => ({ ...t })),
  }));
}

/** Item ids derive from the response id, so a stored response reads back with the same ones. */
export function messageItemId(responseId: string, index: number): string {
  return `msg_${responseId.replace(/^resp_/, "")}${index > 0 ? `_${index}` : ""}`;
}

export function reasoningItemId(responseId: string, index: number): string {
  return `rs_${responseId.replace(/^resp_/, "")}${index > 0 ? `_${index}` : ""}`;
}

export type ResponseEventSink = (type: string, data: Record<string, unknown>) => void | Promise<void>;

/**
 * Folds events into output items and, when given a sink, emits the Responses stream events in
 * order with their sequence numbers. `finish` resolves the final status.
 */
export class ResponseAccumulator {
  readonly output: OutputItem[] = [];
  private sequence = 0;
  private message: { index: number; item: OutputMessage; text: string; logprobs: TokenLogprob[] } | null = null;
  private readonly calls = new Map<
    number,
    {
      index: number;
      item: OutputFunctionCall | OutputCustomToolCall | OutputMcpCall | OutputMcpApprovalRequest;
      arguments: string;
    }
  >();
  /** MCP calls whose arguments are whole, running (call id -> item): an `mcp_call_done` closes them. */
  private readonly running = new Map<string, { index: number; item: OutputMcpCall }>();
  /** The request's tools, for what each call is on the wire (a namespace's function, a custom tool). */
  private readonly tools: ToolNames;
  private thought: { index: number; item: OutputReasoning; text: string } | null = null;
  private messages = 0;
  private thoughts = 0;
  usage: Usage | null = null;
  reason: FinishReason | null = null;
  /** The final response object, once the finish event arrived: what was (or will be) sent. */
  final: ResponseObject | null = null;

  constructor(
    private readonly base: ResponseBase,
    private readonly logprobs: boolean,
    private readonly sink: ResponseEventSink | null = null,
    /** Told the final object before the client gets it (a stored response keeps it for GET). */
    private readonly onFinal: ((response: ResponseObject) => void) | null = null,
    /** The request's MCP tools: their calls are `mcp_call` and `mcp_approval_request` items. */
    private readonly mcp: McpTools = McpTools.none,
  ) {
    this.tools = new ToolNames(base.tools);
  }

  private async emit(type: string, data: Record<string, unknown>): Promise<void> {
    if (!this.sink) return;
    await this.sink(type, { type, sequence_number: this.sequence++, ...data });
  }

  snapshot(status: ResponseStatus): ResponseObject {
    const done = status === "completed" || status === "incomplete";
    return responseObject(this.base, {
      status,
      output: structuredClone(this.output),
      usage: done ? this.usage : null,
      completedAt: status === "completed" ? Math.floor(Date.now() / 1000) : null,
      incompleteReason: status === "incomplete" ? "max_output_tokens" : null,
    });
  }

  async start(): Promise<void> {
    await this.emit("response.created", { response: this.snapshot("in_progress") });
    await this.emit("response.in_progress", { response: this.snapshot("in_progress") });
  }

  async push(event: ResponsesEvent): Promise<void> {
    switch (event.type) {
      case "mcp_list_tools":
      case "turn_end":
      case "mcp_call_approved":
      case "mcp_call_done":
        return this.pushMcp(event);
      case "reasoning":
        if (!event.text) return;
        await this.closeMessage("completed");
        await this.closeCalls("completed");
        await this.openThought();
        await this.appendThought(event.text);
        return;
      case "text":
        if (!event.text && !(event.logprobs && event.logprobs.length > 0)) return;
        await this.closeThought("completed");
        await this.closeCalls("completed");
        await this.openMessage();
        await this.appendText(event.text, event.logprobs ?? []);
        return;
      case "tool_call": {
        if (event.first) {
          await this.closeThought("completed");
          await this.closeMessage("completed");
          const use = this.mcp.byName.get(event.name);
          if (use?.approval) {
            // Said whole once its arguments are (closeCalls), as OpenAI does.
            const item: OutputMcpApprovalRequest = {
              type: "mcp_approval_request",
              id: mcpApprovalItemId(event.id),
              server_label: use.label,
              name: use.tool,
              arguments: "",
            };
            this.calls.set(event.index, { index: this.output.push(item) - 1, item, arguments: "" });
          } else if (use) {
            const item: OutputMcpCall = {
              type: "mcp_call",
              id: mcpCallItemId(event.id),
              server_label: use.label,
              name: use.tool,
              arguments: "",
              output: null,
              error: null,
              approval_request_id: null,
              status: "in_progress",
            };
            const index = this.output.push(item) - 1;
            this.calls.set(event.index, { index, item, arguments: "" });
            await this.emit("response.output_item.added", { output_index: index, item: { ...item } });
            await this.emit("response.mcp_call.in_progress", { item_id: item.id, output_index: index });
          } else {
            const item = this.tools.callItem({ id: event.id, name: event.name, arguments: "" }, "in_progress");
            const index = this.output.push(item) - 1;
            this.calls.set(event.index, { index, item, arguments: "" });
            await this.emit("response.output_item.added", { output_index: index, item: { ...item } });
          }
        }
        const call = this.calls.get(event.index);
        if (call && event.argumentsDelta) {
          call.arguments += event.argumentsDelta;
          // A custom tool's input is known once its arguments are whole (closeCalls).
          if (call.item.type === "function_call" || call.item.type === "mcp_call") {
            call.item.arguments = call.arguments;
            await this.emit(
              call.item.type === "mcp_call"
                ? "response.mcp_call_arguments.delta"
                : "response.function_call_arguments.delta",
              { item_id: call.item.id, output_index: call.index, delta: event.argumentsDelta },
            );
          }
        }
        return;
      }
      case "finish": {
        this.usage = event.usage;
        this.reason = event.reason;
        const itemStatus = event.reason === "length" ? "incomplete" : "completed";
        await this.closeThought(itemStatus);
        await this.closeMessage(itemStatus);
        await this.closeCalls(itemStatus);
        const status = this.status;
        this.final = this.snapshot(status);
        this.onFinal?.(this.final);
        await this.emit(status === "completed" ? "response.completed" : "response.incomplete", {
          response: this.final,
        });
        return;
      }
    }
  }

  /** completed, or incomplete when the token limit cut the reply. */
  get status(): ResponseStatus {
    return this.reason === "length" ? "incomplete" : "completed";
  }

  /** An error after the stream started: OpenAI's `error` event. */
  async fail(error: { code: string | null; message: string; param: string | null }): Promise<void> {
    await this.emit("error", { code: error.code, message: error.message, param: error.param });
  }

  private async openThought(): Promise<void> {
    if (this.thought) return;
    const item: OutputReasoning = {
      type: "reasoning",
      id: reasoningItemId(this.base.id, this.thoughts++),
      status: "in_progress",
      summary: [],
      content: [],
    };
    const index = this.output.push(item) - 1;
    this.thought = { index, item, text: "" };
    await this.emit("response.output_item.added", { output_index: index, item: { ...item, content: [] } });
    await this.emit("response.content_part.added", {
      item_id: item.id,
      output_index: index,
      content_index: 0,
      part: { type: "reasoning_text", text: "" },
    });
  }

  private async appendThought(text: string): Promise<void> {
    const t = this.thought!;
    t.text += text;
    await this.emit("response.reasoning_text.delta", {
      item_id: t.item.id,
      output_index: t.index,
      content_index: 0,
      delta: text,
    });
  }

  private async closeThought(status: "completed" | "incomplete"): Promise<void> {
    const t = this.thought;
    if (!t) return;
    this.thought = null;
    const part = { type: "reasoning_text" as const, text: t.text };
    t.item.content = [part];
    t.item.status = status;
    await this.emit("response.reasoning_text.done", {
      item_id: t.item.id,
      output_index: t.index,
      content_index: 0,
      text: t.text,
    });
    await this.emit("response.content_part.done", {
      item_id: t.item.id,
      output_index: t.index,
      content_index: 0,
      part,
    });
    await this.emit("response.output_item.done", { output_index: t.index, item: structuredClone(t.item) });
  }

  private async openMessage(): Promise<void> {
    if (this.message) return;
    const item: OutputMessage = {
      type: "message",
      id: messageItemId(this.base.id, this.messages++),
      status: "in_progress",
      role: "assistant",
      content: [],
    };
    const index = this.output.push(item) - 1;
    this.message = { index, item, text: "", logprobs: [] };
    await this.emit("response.output_item.added", { output_index: index, item: { ...item, content: [] } });
    await this.emit("response.content_part.added", {
      item_id: item.id,
      output_index: index,
      content_index: 0,
      part: this.part("", []),
    });
  }

  private part(text: string, logprobs: readonly TokenLogprob[]): OutputText {
    return {
      type: "output_text",
      text,
      annotations: [],
      ...(this.logprobs ? { logprobs: wireLogprobs(logprobs) } : { logprobs: [] }),
    };
  }

  private async appendText(text: string, logprobs: readonly TokenLogprob[]): Promise<void> {
    const m = this.message!;
    m.text += text;
    m.logprobs.push(...logprobs);
    await this.emit("response.output_text.delta", {
      item_id: m.item.id,
      output_index: m.index,
      content_index: 0,
      delta: text,
      logprobs: this.logprobs ? wireLogprobs(logprobs) : [],
    });
  }

  private async closeMessage(status: "completed" | "incomplete"): Promise<void> {
    const m = this.message;
    if (!m) return;
    this.message = null;
    const part = this.part(m.text, m.logprobs);
    m.item.content = [part];
    m.item.status = status;
    await this.emit("response.output_text.done", {
      item_id: m.item.id,
      output_index: m.index,
      content_index: 0,
      text: m.text,
      logprobs: this.logprobs ? wireLogprobs(m.logprobs) : [],
    });
    await this.emit("response.content_part.done", {
      item_id: m.item.id,
      output_index: m.index,
      content_index: 0,
      part,
    });
    await this.emit("response.output_item.done", { output_index: m.index, item: structuredClone(m.item) });
  }

  private async pushMcp(event: McpEvent): Promise<void> {
    switch (event.type) {
      case "mcp_list_tools": {
        const item = structuredClone(event.item);
        const index = this.output.push(item) - 1;
        await this.emit("response.output_item.added", { output_index: index, item: { ...item, tools: [] } });
        await this.emit("response.mcp_list_tools.in_progress", { item_id: item.id, output_index: index });
        await this.emit(item.error ? "response.mcp_list_tools.failed" : "response.mcp_list_tools.completed", {
          item_id: item.id,
          output_index: index,
        });
        await this.emit("response.output_item.done", { output_index: index, item: structuredClone(item) });
        return;
      }
      case "turn_end":
        await this.closeThought("completed");
        await this.closeMessage("completed");
        await this.closeCalls("completed");
        return;
      case "mcp_call_approved": {
        const item: OutputMcpCall = {
          type: "mcp_call",
          id: mcpCallItemId(event.call.id),
          server_label: event.use.label,
          name: event.use.tool,
          arguments: event.call.arguments,
          output: null,
          error: null,
          approval_request_id: event.approvalRequestId,
          status: "in_progress",
        };
        const index = this.output.push(item) - 1;
        this.running.set(event.call.id, { index, item });
        await this.emit("response.output_item.added", { output_index: index, item: { ...item } });
        await this.emit("response.mcp_call.in_progress", { item_id: item.id, output_index: index });
        await this.emit("response.mcp_call_arguments.done", {
          item_id: item.id,
          output_index: index,
          arguments: item.arguments,
        });
        return;
      }
      case "mcp_call_done": {
        const running = this.running.get(event.callId);
        if (!running) return;
        this.running.delete(event.callId);
        const { index, item } = running;
        item.output = event.output;
        item.error = event.error;
        item.status = event.error ? "failed" : "completed";
        await this.emit(event.error ? "response.mcp_call.failed" : "response.mcp_call.completed", {
          item_id: item.id,
          output_index: index,
        });
        await this.emit("response.output_item.done", { output_index: index, item: structuredClone(item) });
        return;
      }
    }
  }

  private async closeCalls(status: "completed" | "incomplete"): Promise<void> {
    for (const { index, item, arguments: args } of this.calls.values()) {
      if (item.type === "mcp_call") {
        // Runs now; its item is done with the result (mcp_call_done).
        await this.emit("response.mcp_call_arguments.done", {
          item_id: item.id,
          output_index: index,
          arguments: item.arguments,
        });
        const callId = item.id.slice("mcp_".length);
        if (status === "completed") this.running.set(callId, { index, item });
        else {
          item.status = "incomplete";
          await this.emit("response.output_item.done", { output_index: index, item: structuredClone(item) });
        }
        continue;
      }
      if (item.type === "mcp_approval_request") {
        item.arguments = args;
        await this.emit("response.output_item.added", { output_index: index, item: { ...item } });
        await this.emit("response.output_item.done", { output_index: index, item: { ...item } });
        continue;
      }
      item.status = status;
      if (item.type === "function_call") {
        await this.emit("response.function_call_arguments.done", {
          item_id: item.id,
          output_index: index,
          name: item.name,
          arguments: item.arguments,
        });
      } else {
        // The input comes whole: its JSON string is decoded once the arguments are complete.
        item.input = customInputOf(args);
        await this.emit("response.custom_tool_call_input.delta", {
          item_id: item.id,
          output_index: index,
          delta: item.input,
        });
        await this.emit("response.custom_tool_call_input.done", {
          item_id: item.id,
          output_index: index,
          input: item.input,
        });
      }
      await this.emit("response.output_item.done", { output_index: index, item: { ...item } });
    }
    this.calls.clear();
  }
}

/** The Responses API's stream events; a failure as its `error` event. */
export function responseEventEncoder(
  sse: SseWriter,
  base: ResponseBase,
  logprobs: boolean,
  onFinal: ((response: ResponseObject) => void) | null = null,
  mcp: McpTools = McpTools.none,
): StreamEncoder<ResponsesChoiceEvent> {
  const acc = new ResponseAccumulator(base, logprobs, (type, data) => sse.sendEvent(type, data), onFinal, mcp);
  return {
    start: () => acc.start(),
    push: ({ event }) => acc.push(event),
    async end() {},
    fail: (e) => acc.fail({ code: e.code ?? e.type, message: e.message, param: e.param }),
  };
}

/** Runs the whole generation into one response object (non-streamed requests). */
export async function collectResponse(
  events: AsyncIterable<ResponsesChoiceEvent>,
  base: ResponseBase,
  logprobs: boolean,
  onFinal: ((response: ResponseObject) => void) | null = null,
  mcp: McpTools = McpTools.none,
): Promise<ResponseObject> {
  const acc = new ResponseAccumulator(base, logprobs, null, onFinal, mcp);
  for await (const { choice, event } of events) if (choice === 0) await acc.push(event);
  if (acc.final === null) throw new Error("generation ended without a finish event");
  return acc.final;
}

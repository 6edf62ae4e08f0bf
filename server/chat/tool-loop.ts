/**
 * The app's chats with MCP tools: the loop of model turns and tool calls behind one reply of
 * /api/conversations. Each turn is an ordinary generation on the one pipeline (`ChatService.start`,
 * recorded as the reply to the message before it); when a turn ends in tool calls, each call is
 * shown (an event), waits for the person's decision unless its tool is allowed for good, runs on
 * its MCP server (mcp/runner.ts bounds: timeout, Stop, a crash, the result's size) and is stored as
 * a `tool` message with its `toolRun`; the next turn then answers from there. It ends when a turn
 * ends without calls, after `maxSteps` turns (the last turn is offered no calls: `toolChoice:
 * "none"`), or on Stop (the client leaving aborts `signal`).
 *
 * Every call the model made gets a tool message, whatever happens (denied, stopped, past the
 * limit), so the stored conversation stays one any provider accepts as the next turn's prompt.
 * What runs is only what the conversation enabled, on servers the person configured: the model
 * names a function of the list it was given, never a command or an address.
 */
import type { ChoiceEvent, FinishReason, Provider, ToolChoice, ToolDefinition } from "../core/types.js";
import type { HistoryStore } from "../history/store.js";
import type { Conversation, ConversationTool, GenerationParams, ToolRun } from "../history/types.js";
import { toChatMessages, toChatRequest, type SamplingDefaults } from "../history/prompt.js";
import type { Logger } from "../logger.js";
import type { McpToolView } from "../wire/mcp.js";
import type { ChatService, Run } from "./service.js";

/** What the loop needs of the MCP servers (mcp/registry.ts). */
export interface ToolHost {
  tools(server: string): Promise<McpToolView[]>;
  call(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    options: { signal: AbortSignal; timeoutMs: number; maxChars: number },
  ): Promise<{ outcome: ToolRun["outcome"]; text: string; truncatedFrom: number | null; durationMs: number }>;
}

export type ToolDecision = "once" | "always" | "deny";

/** Calls waiting for the person's decision, by conversation, assistant message and call id. */
export class ToolApprovals {
  private readonly pending = new Map<string, (decision: ToolDecision | null) => void>();

  static key(conversationId: string, messageId: number, callId: string): string {
    return `${conversationId}\u0000${messageId}\u0000${callId}`;
  }

  /** Resolves with the decision, or null once `signal` aborts (Stop). */
  wait(key: string, signal: AbortSignal): Promise<ToolDecision | null> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(null);
      const settle = (decision: ToolDecision | null) => {
        this.pending.delete(key);
        signal.removeEventListener("abort", onAbort);
        resolve(decision);
      };
      const onAbort = () => settle(null);
      signal.addEventListener("abort", onAbort, { once: true });
      this.pending.set(key, settle);
    });
  }

  /** False when no call waits under `key` (decided already, stopped, or never asked). */
  decide(key: string, decision: ToolDecision): boolean {
    const settle = this.pending.get(key);
    if (!settle) return false;
    settle(decision);
    return true;
  }
}

export interface ToolLoopLimits {
  maxSteps: number;
  timeoutMs: number;
  maxChars: number;
}

export interface ToolLoopDeps {
  chat: ChatService;
  store: HistoryStore;
  host: ToolHost;
  approvals: ToolApprovals;
  limits: ToolLoopLimits;
  logger: Pick<Logger, "warn">;
}

export interface ToolLoopInput {
  conversation: Conversation;
  model: string;
  provider: Provider;
  /** The message the reply answers. */
  parentId: number;
  params: GenerationParams;
  defaults: SamplingDefaults;
  /** Fires when the person stops (the client left). */
  signal: AbortSignal;
  startedAt: number;
}

/** A call as the loop shows it: what the model asked for, resolved to a server's tool. */
export interface ShownCall {
  /** The assistant message that made it. */
  messageId: number;
  callId: string;
  functionName: string;
  server: string | null;
  tool: string | null;
  /** JSON text, as the model wrote it. */
  arguments: string;
}

export type ToolLoopEvent =
  /** A model turn started; its reply is `messageId`, under `parentId`. */
  | { type: "step"; step: number; messageId: number; parentId: number }
  | { type: "generation"; event: ChoiceEvent }
  /** `pending`: waits for the person's decision; `running`: on its server. */
  | { type: "tool_call"; state: "pending" | "running"; call: ShownCall }
  /** The call's result, stored as tool message `messageId`. */
  | { type: "tool_result"; call: ShownCall; messageId: number; run: ToolRun; text: string }
  /** `done`: a turn without calls; `max_steps`: the limit; `stopped`: Stop. */
  | { type: "end"; reason: "done" | "max_steps" | "stopped" };

export interface StartedToolLoop {
  /** The first turn's reply message. */
  messageId: number;
  run: Run;
  events: AsyncGenerator<ToolLoopEvent>;
}

interface Offered {
  definitions: ToolDefinition[];
  byFunction: Map<string, ConversationTool>;
}

/** The conversation's enabled tools as the model's function list; a server that cannot start is left out (its error shows in Settings). */
async function offeredTools(tools: readonly ConversationTool[], deps: ToolLoopDeps): Promise<Offered> {
  const offered: Offered = { definitions: [], byFunction: new Map() };
  const servers = [...new Set(tools.map((t) => t.server))];
  const listed = await Promise.all(
    servers.map((s) =>
      deps.host.tools(s).catch((err: unknown) => {
        deps.logger.warn({ mcpServer: s, err }, "tools of an MCP server a chat enabled are not available");
        return [] as McpToolView[];
      }),
    ),
  );
  servers.forEach((server, i) => {
    for (const view of listed[i]!) {
      const enabled = tools.find((t) => t.server === server && t.tool === view.name);
      if (!enabled || offered.byFunction.has(view.functionName)) continue;
      offered.byFunction.set(view.functionName, enabled);
      offered.definitions.push({
        name: view.functionName,
        ...(view.description ? { description: view.description } : {}),
        parameters: view.inputSchema,
      });
    }
  });
  return offered;
}

/**
 * Starts the reply's first turn (rejecting, before anything is sent, when it cannot start, as a
 * reply without tools would) and returns the loop's events. Leaving the iteration early (the
 * client left) still stores a result for every call of the turn.
 */
export async function startToolLoop(deps: ToolLoopDeps, input: ToolLoopInput): Promise<StartedToolLoop> {
  const { store, limits } = deps;
  const conversationId = input.conversation.id;
  const offered = await offeredTools(input.conversation.tools, deps);

  const startTurn = async (parentId: number, step: number) => {
    const toolChoice: ToolChoice = step >= limits.maxSteps ? "none" : "auto";
    const conversation = store.requireConversation(conversationId);
    const request = {
      ...toChatRequest(input.model, toChatMessages(conversation, store.pathTo(parentId)), input.params, input.defaults),
      tools: offered.definitions,
      toolChoice: offered.definitions.length > 0 ? toolChoice : ("auto" as const),
    };
    let messageId = 0;
    const run = await deps.chat.start(request, {
      clientGone: input.signal,
      provider: input.provider,
      startedAt: step === 1 ? input.startedAt : performance.now(),
      record: { kind: "reply", conversationId, parentId, onStored: (id) => (messageId = id) },
    });
    return { run, messageId };
  };

  const first = await startTurn(input.parentId, 1);

  async function* loop(): AsyncGenerator<ToolLoopEvent> {
    let turn = first;
    let parentId = input.parentId;
    for (let step = 1; ; step++) {
      yield { type: "step", step, messageId: turn.messageId, parentId };
      const calls = new Map<number, { id: string; name: string; arguments: string }>();
      let finish: FinishReason | null = null;
      for await (const event of turn.run.events) {
        const e = event.event;
        if (e.type === "tool_call") {
          const call = calls.get(e.index) ?? { id: e.id, name: e.name, arguments: "" };
          call.arguments += e.argumentsDelta;
          calls.set(e.index, call);
        } else if (e.type === "finish") finish = e.reason;
        yield { type: "generation", event };
      }
      if (calls.size === 0) {
        // A last turn offered no calls answers in text: the limit ended the loop, not the model.
        const limited = step >= limits.maxSteps && offered.definitions.length > 0;
        yield { type: "end", reason: limited ? "max_steps" : "done" };
        return;
      }
      const assistantId = turn.messageId;
      parentId = assistantId;
      const shown: ShownCall[] = [...calls.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, c]) => {
          const enabled = offered.byFunction.get(c.name);
          return {
            messageId: assistantId,
            callId: c.id,
            functionName: c.name,
            server: enabled?.server ?? null,
            tool: enabled?.tool ?? null,
            arguments: c.arguments,
          };
        });
      const lastTurn = step >= limits.maxSteps || finish !== "tool_calls";
      const answered = new Set<ShownCall>();
      /** Stores the call's result as a tool message under the previous one. */
      const answer = (call: ShownCall, run: ToolRun, text: string) => {
        answered.add(call);
        const message = store.appendMessage(conversationId, {
          parentId,
          role: "tool",
          content: text,
          toolCallId: call.callId,
          toolRun: run,
        });
        parentId = message.id;
        return { type: "tool_result" as const, call, messageId: message.id, run, text };
      };
      const notRun = (call: ShownCall): ToolRun => ({
        server: call.server ?? "",
        tool: call.tool ?? call.functionName,
        approval: "none",
        outcome: "stopped",
        truncatedFrom: null,
        durationMs: 0,
      });
      try {
        for (const call of shown) {
          if (lastTurn) {
            const text = `Not run: this reply reached its limit of ${limits.maxSteps} model turns.`;
            yield answer(call, notRun(call), text);
            continue;
          }
          if (input.signal.aborted) {
            const text = "Not run: the user stopped the reply.";
            yield answer(call, notRun(call), text);
            continue;
          }
          for await (const event of runCall(call)) {
            if (event.type === "result") yield answer(call, event.run, event.text);
            else yield event;
          }
        }
      } finally {
        // The client left in the middle: every call still gets its result (synchronous writes).
        for (const call of shown) {
          if (answered.has(call)) continue;
          const text = "Not run: the user stopped the reply.";
          try {
            answer(call, notRun(call), text);
          } catch (err) {
            deps.logger.warn({ err }, "could not store a stopped tool call");
          }
        }
      }
      if (lastTurn || input.signal.aborted) {
        yield {
          type: "end",
          reason: input.signal.aborted ? "stopped" : step >= limits.maxSteps ? "max_steps" : "done",
        };
        return;
      }
      turn = await startTurn(parentId, step + 1);
    }
  }

  /** One call: the decision (unless allowed for good), then the run. */
  async function* runCall(
    call: ShownCall,
  ): AsyncGenerator<
    | { type: "tool_call"; state: "pending" | "running"; call: ShownCall }
    | { type: "result"; run: ToolRun; text: string }
  > {
    const base = {
      server: call.server ?? "",
      tool: call.tool ?? call.functionName,
      truncatedFrom: null,
      durationMs: 0,
    };
    if (call.server === null || call.tool === null) {
      yield {
        type: "result",
        run: { ...base, approval: "none", outcome: "error" },
        text: `No tool named '${call.functionName}' is enabled in this chat.`,
      };
      return;
    }
    let args: unknown;
    try {
      args = call.arguments.trim() === "" ? {} : JSON.parse(call.arguments);
    } catch {
      args = null;
    }
    if (typeof args !== "object" || args === null || Array.isArray(args)) {
      yield {
        type: "result",
        run: { ...base, approval: "none", outcome: "error" },
        text: "The call's arguments were not a JSON object; it was not run.",
      };
      return;
    }
    const enabled = store
      .requireConversation(conversationId)
      .tools.find((t) => t.server === call.server && t.tool === call.tool);
    let approval: ToolRun["approval"] = "auto";
    if (enabled?.approval !== "always") {
      yield { type: "tool_call", state: "pending", call };
      const decision = await deps.approvals.wait(
        ToolApprovals.key(conversationId, call.messageId, call.callId),
        input.signal,
      );
      if (decision === null) {
        yield {
          type: "result",
          run: { ...base, approval: "none", outcome: "stopped" },
          text: "Not run: the user stopped the reply before deciding.",
        };
        return;
      }
      if (decision === "deny") {
        yield {
          type: "result",
          run: { ...base, approval: "denied", outcome: "denied" },
          text: "The user did not allow this call; it was not run.",
        };
        return;
      }
      approval = decision;
      if (decision === "always") allowForGood(call.server, call.tool);
    }
    yield { type: "tool_call", state: "running", call };
    const result = await deps.host.call(call.server, call.tool, args as Record<string, unknown>, {
      signal: input.signal,
      timeoutMs: limits.timeoutMs,
      maxChars: limits.maxChars,
    });
    yield {
      type: "result",
      run: {
        ...base,
        approval,
        outcome: result.outcome,
        truncatedFrom: result.truncatedFrom,
        durationMs: result.durationMs,
      },
      text: result.text,
    };
  }

  /** "Always for this tool": this conversation runs it without asking from now on. */
  function allowForGood(server: string, tool: string): void {
    const tools = store.requireConversation(conversationId).tools;
    store.updateConversation(conversationId, {
      tools: tools.map((t) => (t.server === server && t.tool === tool ? { ...t, approval: "always" as const } : t)),
    });
  }

  return { messageId: first.messageId, run: first.run, events: loop() };
}

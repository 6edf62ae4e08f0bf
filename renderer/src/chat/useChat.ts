/**
 * A conversation on screen: the server's copy (the shown branch) plus the exchange in flight.
 * With history on the server, each turn goes through /api (which records it) and the conversation
 * is refetched when the turn ends, so what is shown is what was stored. Without history (a server
 * with no /api/conversations), turns go straight to /v1 and live only in this page.
 *
 * A turn of a chat with tools may be several model turns (server/api/README.md, "Tools in a
 * reply"): a call the model makes shows as a card waiting for the person's decision, and each
 * result refetches the conversation (the call and its result are stored) before the next turn
 * streams in below it.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../api/errors.js";
import { v1, type ChatChunk } from "../api/client.js";
import { ReplyAccumulator, emptyReply, type ReplyState } from "../api/chat-stream.js";
import {
  conversations,
  type ConversationDetail,
  type ConversationTool,
  type GenerationParams,
  type ThreadMessage,
  type TurnOptions,
} from "../api/history.js";
import { emit, useAppEvent } from "../app/events.js";
import { toWire } from "./params.js";

export interface Pending {
  kind: "send" | "regenerate" | "edit";
  /** How many messages of the stored branch stay visible above the exchange. */
  keep: number;
  /** The user message shown above the reply (send and edit). */
  userText: string | null;
  reply: ReplyState;
  status: "waiting" | "streaming" | "stopped" | "error";
  error: unknown;
}

export interface ChatSettings {
  model: string;
  systemPrompt: string;
  params: GenerationParams;
  /** The MCP tools this chat offers its model. */
  tools: ConversationTool[];
}

/** A tool call of the turn in flight, as its events told it. */
export interface ShownToolCall {
  conversationId: string;
  messageId: number;
  callId: string;
  functionName: string;
  server: string | null;
  tool: string | null;
  arguments: string;
  state: "pending" | "running" | "deciding";
}

let historyProbe: Promise<boolean> | null = null;

/** Whether the server keeps history (has /api/conversations); asked once per page. */
export function historyAvailable(): Promise<boolean> {
  historyProbe ??= conversations.list({ limit: 1 }).then(
    () => true,
    (err: unknown) => !(err instanceof ApiError && err.status === 404),
  );
  return historyProbe;
}

let localIds = -1;

function localMessage(
  conversationId: string,
  role: "user" | "assistant",
  content: string,
  extra: Partial<ThreadMessage> = {},
): ThreadMessage {
  const id = localIds--;
  const now = Date.now();
  return {
    id,
    conversationId,
    parentId: null,
    active: true,
    role,
    content,
    reasoning: null,
    reasoningMs: null,
    toolCalls: null,
    toolCallId: null,
    toolRun: null,
    model: null,
    promptTokens: null,
    completionTokens: null,
    finishReason: null,
    status: "complete",
    error: null,
    tokensPerSecond: null,
    ttftMs: null,
    createdAt: now,
    updatedAt: now,
    siblingIds: [id],
    ...extra,
  };
}

export interface UseChat {
  detail: ConversationDetail | null;
  loading: boolean;
  loadError: unknown;
  pending: Pending | null;
  busy: boolean;
  /** The last turn's error, when it ended in one (shown above the composer). */
  turnError: unknown;
  send: (text: string, settings: ChatSettings) => Promise<void>;
  regenerate: (assistant: ThreadMessage, settings: ChatSettings) => Promise<void>;
  edit: (user: ThreadMessage, text: string, settings: ChatSettings) => Promise<void>;
  switchBranch: (messageId: number) => Promise<void>;
  /** Calls of the turn in flight waiting for a decision or running. */
  toolCalls: ShownToolCall[];
  decide: (call: ShownToolCall, decision: "once" | "always" | "deny") => Promise<void>;
  /** Stops the reply being generated; false when nothing was running. */
  stop: () => boolean;
  reload: () => void;
  clearTurnError: () => void;
}

export function useChat(
  conversationId: string | null,
  focusMessageId: number | null,
  onCreated: (id: string) => void,
): UseChat {
  const [detail, setDetail] = useState<ConversationDetail | null>(null);
  const [loading, setLoading] = useState(false);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [turnError, setTurnError] = useState<unknown>(null);
  const [toolCalls, setToolCalls] = useState<ShownToolCall[]>([]);
  const abortRef = useRef<AbortController | null>(null);
  // The id this hook just created: navigating to it must not refetch and drop the streaming reply.
  const createdRef = useRef<string | null>(null);
  const detailRef = useRef(detail);
  detailRef.current = detail;

  const load = useCallback(async (id: string, at: number | null) => {
    setLoading(true);
    try {
      const d = await conversations.get(id, at);
      setDetail(d);
      setLoadError(null);
      return d;
    } catch (err) {
      setLoadError(err);
      return null;
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    if (conversationId && conversationId === createdRef.current) return;
    createdRef.current = null;
    abortRef.current?.abort();
    setPending(null);
    setTurnError(null);
    setLoadError(null);
    if (!conversationId) {
      setDetail(null);
      return;
    }
    if (conversationId.startsWith("local-")) return;
    setDetail((d) => (d?.id === conversationId ? d : null));
    void load(conversationId, focusMessageId);
  }, [conversationId, focusMessageId, load]);

  // Renamed or pinned elsewhere (the sidebar): take the new fields, keep the messages shown.
  useAppEvent("conversations", () => {
    const d = detailRef.current;
    if (!d || d.id.startsWith("local-")) return;
    conversations.get(d.id).then(
      (fresh) => setDetail((cur) => (cur && cur.id === fresh.id ? { ...fresh, messages: cur.messages } : cur)),
      () => undefined,
    );
  });

  // Stop generating when the view goes away.
  useEffect(() => () => abortRef.current?.abort(), []);

  /** Streams one turn into `pending`, then settles it (refetch from history, or keep it locally). */
  const run = useCallback(
    async (
      base: Omit<Pending, "reply" | "status" | "error">,
      start: (signal: AbortSignal) => AsyncIterable<ChatChunk>,
      settle: (reply: ReplyState, status: "complete" | "partial" | "error", error: unknown) => Promise<void>,
    ) => {
      abortRef.current?.abort();
      const controller = new AbortController();
      abortRef.current = controller;
      setTurnError(null);
      let acc = new ReplyAccumulator(performance.now());
      let shownBase = base;
      let frame = 0;
      const publish = (status: Pending["status"], error: unknown = null) =>
        setPending({ ...shownBase, reply: { ...acc.state }, status, error });
      publish("waiting");
      setToolCalls([]);
      let status: "complete" | "partial" | "error" = "complete";
      let error: unknown = null;
      try {
        for await (const chunk of start(controller.signal)) {
          const event = (chunk as { event?: string }).event;
          if (event?.startsWith("hearth.")) {
            const data = chunk as unknown as Omit<ShownToolCall, "conversationId"> & { step?: number };
            const id = detailRef.current?.id ?? "";
            if (event === "hearth.tool_call") {
              const call: ShownToolCall = { ...data, conversationId: id };
              setToolCalls((list) => [...list.filter((c) => c.callId !== call.callId), call]);
            } else if (event === "hearth.tool_result") {
              // The call and its result are stored: show them from history, and the next turn below them.
              setToolCalls((list) => list.filter((c) => c.callId !== data.callId));
              const fresh = await conversations.get(id).catch(() => null);
              if (fresh) {
                setDetail(fresh);
                shownBase = { ...shownBase, keep: fresh.messages.length, userText: null };
              }
              if (frame) cancelAnimationFrame(frame);
              frame = 0;
              acc = new ReplyAccumulator(performance.now());
              publish("waiting");
            }
            continue;
          }
          if (acc.apply(chunk) && frame === 0) {
            // One render per frame however fast tokens come.
            frame = requestAnimationFrame(() => {
              frame = 0;
              publish("streaming");
            });
          }
        }
      } catch (err) {
        if (controller.signal.aborted) status = "partial";
        else {
          status = "error";
          error = err;
        }
      }
      if (frame) cancelAnimationFrame(frame);
      setToolCalls([]);
      const reply = acc.finish();
      if (abortRef.current === controller) abortRef.current = null;
      publish(status === "partial" ? "stopped" : status === "error" ? "error" : "streaming", error);
      await settle(reply, status, error);
      if (error) setTurnError(error);
    },
    [],
  );

  const ensureConversation = useCallback(
    async (settings: ChatSettings, text: string): Promise<{ id: string; local: boolean }> => {
      const current = detailRef.current;
      if (current) return { id: current.id, local: current.id.startsWith("local-") };
      if (await historyAvailable()) {
        const created = await conversations.create({
          model: settings.model || null,
          systemPrompt: settings.systemPrompt || null,
          params: settings.params,
          tools: settings.tools,
        });
        createdRef.current = created.id;
        setDetail({ ...created, messages: [] });
        onCreated(created.id);
        emit("conversations");
        return { id: created.id, local: false };
      }
      const id = `local-${Date.now()}`;
      const now = Date.now();
      setDetail({
        id,
        title: text.slice(0, 60),
        source: "ui",
        model: settings.model,
        provider: null,
        systemPrompt: settings.systemPrompt || null,
        params: settings.params,
        tools: [],
        pinned: false,
        createdAt: now,
        updatedAt: now,
        messageCount: 0,
        messages: [],
      });
      return { id, local: true };
    },
    [onCreated],
  );

  const turnOf = (s: ChatSettings): TurnOptions => ({ model: s.model || undefined, params: s.params });

  /** Sends the messages straight to /v1 (no history on this server). */
  const localStream = (settings: ChatSettings, history: ThreadMessage[], signal: AbortSignal) => {
    const messages = [
      ...(settings.systemPrompt ? [{ role: "system" as const, content: settings.systemPrompt }] : []),
      ...history
        .filter((m) => m.role === "user" || m.role === "assistant")
        .map((m) => ({
          role: m.role as "user" | "assistant",
          content: m.content,
          // An earlier reply's thoughts go back to the model, as the server's own chats send them.
          ...(m.reasoning ? { reasoning_content: m.reasoning } : {}),
        })),
    ];
    return v1.chat({ model: settings.model, messages, ...toWire(settings.params) } as Parameters<typeof v1.chat>[0], {
      signal,
    });
  };

  const settleLocal =
    (id: string, keep: number, userText: string | null, settings: ChatSettings) =>
    async (reply: ReplyState, status: "complete" | "partial" | "error", error: unknown) => {
      setDetail((d) => {
        if (!d || d.id !== id) return d;
        const messages = d.messages.slice(0, keep);
        if (userText !== null) messages.push(localMessage(id, "user", userText));
        if (reply.content || reply.reasoning || status !== "error") {
          messages.push(
            localMessage(id, "assistant", reply.content, {
              reasoning: reply.reasoning || null,
              reasoningMs: reply.reasoningMs,
              model: reply.model ?? settings.model,
              status,
              error: error ? String((error as Error).message ?? error) : null,
              finishReason: reply.finishReason,
              promptTokens: reply.promptTokens,
              completionTokens: reply.completionTokens ?? reply.deltas,
              tokensPerSecond: reply.tokensPerSecond,
              ttftMs: reply.ttftMs,
            }),
          );
        }
        return { ...d, messages };
      });
      setPending(null);
    };

  const settleRemote = (id: string) => async () => {
    await load(id, null);
    setPending(null);
    emit("conversations");
  };

  const send = useCallback(
    async (text: string, settings: ChatSettings) => {
      let conv: { id: string; local: boolean };
      try {
        conv = await ensureConversation(settings, text);
      } catch (err) {
        setTurnError(err);
        return;
      }
      const keep = detailRef.current?.messages.length ?? 0;
      const base = { kind: "send" as const, keep, userText: text };
      if (conv.local) {
        const history = [...(detailRef.current?.messages ?? []), localMessage(conv.id, "user", text)];
        await run(base, (signal) => localStream(settings, history, signal), settleLocal(conv.id, keep, text, settings));
      } else {
        await run(
          base,
          (signal) => conversations.send(conv.id, text, turnOf(settings), { signal }),
          settleRemote(conv.id),
        );
      }
    },
    [ensureConversation, run],
  );

  const regenerate = useCallback(
    async (assistant: ThreadMessage, settings: ChatSettings) => {
      const d = detailRef.current;
      if (!d) return;
      const keep = d.messages.findIndex((m) => m.id === assistant.id);
      if (keep < 0) return;
      const base = { kind: "regenerate" as const, keep, userText: null };
      if (d.id.startsWith("local-")) {
        await run(
          base,
          (signal) => localStream(settings, d.messages.slice(0, keep), signal),
          settleLocal(d.id, keep, null, settings),
        );
      } else {
        await run(
          base,
          (signal) => conversations.regenerate(d.id, assistant.id, turnOf(settings), { signal }),
          settleRemote(d.id),
        );
      }
    },
    [run],
  );

  const edit = useCallback(
    async (user: ThreadMessage, text: string, settings: ChatSettings) => {
      const d = detailRef.current;
      if (!d) return;
      const keep = d.messages.findIndex((m) => m.id === user.id);
      if (keep < 0) return;
      const base = { kind: "edit" as const, keep, userText: text };
      if (d.id.startsWith("local-")) {
        const history = [...d.messages.slice(0, keep), localMessage(d.id, "user", text)];
        await run(base, (signal) => localStream(settings, history, signal), settleLocal(d.id, keep, text, settings));
      } else {
        await run(
          base,
          (signal) => conversations.edit(d.id, user.id, text, turnOf(settings), { signal }),
          settleRemote(d.id),
        );
      }
    },
    [run],
  );

  const switchBranch = useCallback(async (messageId: number) => {
    const d = detailRef.current;
    if (!d || d.id.startsWith("local-")) return;
    try {
      const next = await conversations.switchBranch(d.id, messageId);
      setDetail(next && Array.isArray(next.messages) ? next : ((await conversations.get(d.id)) as ConversationDetail));
    } catch (err) {
      setTurnError(err);
    }
  }, []);

  const decide = useCallback(async (call: ShownToolCall, decision: "once" | "always" | "deny") => {
    setToolCalls((list) => list.map((c) => (c.callId === call.callId ? { ...c, state: "deciding" } : c)));
    try {
      await conversations.decideToolCall(call.conversationId, {
        messageId: call.messageId,
        callId: call.callId,
        decision,
      });
    } catch (err) {
      setTurnError(err);
    }
  }, []);

  const stop = useCallback(() => {
    if (!abortRef.current) return false;
    abortRef.current.abort();
    return true;
  }, []);

  return {
    detail,
    loading,
    loadError,
    pending,
    busy: pending !== null && (pending.status === "waiting" || pending.status === "streaming"),
    turnError,
    toolCalls,
    decide,
    send,
    regenerate,
    edit,
    switchBranch,
    stop,
    reload: () => conversationId && void load(conversationId, null),
    clearTurnError: () => setTurnError(null),
  };
}

export { emptyReply };

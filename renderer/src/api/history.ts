/**
 * /api conversations, messages and search (server/api/README.md). Shapes are the history
 * module's own zod-inferred types (server/wire/history.ts), imported as types only.
 */
import type {
  Conversation,
  ConversationDetail,
  ConversationTool,
  GenerationParams,
  SearchPage,
  Source,
} from "../../../server/wire/history.js";
import { request, streamJson, type RequestOptions } from "./http.js";
import type { ChatChunk } from "./client.js";

export type { Conversation, ConversationDetail, ConversationTool, GenerationParams, Source, SearchPage };
export type { SearchHit, ThreadMessage } from "../../../server/wire/history.js";

export interface ConversationListQuery {
  source?: Source;
  pinned?: boolean;
  limit?: number;
  cursor?: string;
}

export interface NewConversationBody {
  title?: string;
  model?: string | null;
  systemPrompt?: string | null;
  params?: GenerationParams;
  tools?: ConversationTool[];
}

export interface ConversationPatchBody {
  title?: string;
  pinned?: boolean;
  model?: string | null;
  systemPrompt?: string | null;
  params?: GenerationParams;
  tools?: ConversationTool[];
}

/** The person's decision on a tool call that waits (a `hearth.tool_call` event with state `pending`). */
export interface ToolCallDecision {
  messageId: number;
  callId: string;
  decision: "once" | "always" | "deny";
}

/**
 * What a send/regenerate/edit carries besides the text. The system prompt is the conversation's
 * (saved with `update` before the turn); `params` override the conversation's for this reply only.
 */
export interface TurnOptions {
  /** Defaults to the conversation's model, else the server's first. */
  model?: string;
  params?: GenerationParams;
}

const c = (id: string) => `/api/conversations/${encodeURIComponent(id)}`;

export const conversations = {
  list: (q: ConversationListQuery = {}, opts: RequestOptions = {}) =>
    request<{ items: Conversation[]; nextCursor: string | null }>("GET", "/api/conversations", undefined, {
      ...opts,
      query: { ...q, pinned: q.pinned === undefined ? undefined : String(q.pinned) },
    }),
  create: (body: NewConversationBody, opts?: RequestOptions) =>
    request<Conversation>("POST", "/api/conversations", body, opts),
  /** The shown branch; `at` shows the branch that contains that message instead. */
  get: (id: string, at?: number | null, opts: RequestOptions = {}) =>
    request<ConversationDetail>("GET", c(id), undefined, { ...opts, query: { at: at ?? undefined } }),
  update: (id: string, patch: ConversationPatchBody, opts?: RequestOptions) =>
    request<Conversation>("PATCH", c(id), patch, opts),
  remove: (id: string, opts?: RequestOptions) => request<void>("DELETE", c(id), undefined, opts),
  removeAll: (opts?: RequestOptions) =>
    request<{ deleted: number }>("DELETE", "/api/conversations", undefined, { ...opts, query: { confirm: "true" } }),
  /** Sends a user message and streams the reply (chat completion chunks). */
  send: (id: string, content: string, turn: TurnOptions, opts?: RequestOptions) =>
    streamJson<ChatChunk>("POST", `${c(id)}/messages`, { content, ...turn }, opts),
  /** A new reply to the same user message, as a new branch. */
  regenerate: (id: string, messageId: number, turn: TurnOptions, opts?: RequestOptions) =>
    streamJson<ChatChunk>("POST", `${c(id)}/messages/${messageId}/regenerate`, turn, opts),
  /** A new version of a user message (a new branch) and its reply. */
  edit: (id: string, messageId: number, content: string, turn: TurnOptions, opts?: RequestOptions) =>
    streamJson<ChatChunk>("POST", `${c(id)}/messages/${messageId}/edit`, { content, ...turn }, opts),
  /** Shows the branch that contains `messageId`. */
  switchBranch: (id: string, messageId: number, opts?: RequestOptions) =>
    request<ConversationDetail>("POST", `${c(id)}/messages/${messageId}/activate`, {}, opts),
  /** Answers a tool call that waits for approval. */
  decideToolCall: (id: string, body: ToolCallDecision, opts?: RequestOptions) =>
    request<{ decided: true }>("POST", `${c(id)}/tool-calls`, body, opts),
  /** URL of a conversation's export, for a download link. */
  exportUrl: (id: string, format: "json" | "markdown") => `${c(id)}/export?format=${format}`,
};

export const search = (
  q: string,
  query: { limit?: number; cursor?: string; source?: Source; in?: "content" | "reasoning" | "all" } = {},
  opts: RequestOptions = {},
) => request<SearchPage>("GET", "/api/search", undefined, { ...opts, query: { q, ...query } });

/**
 * The shapes history hands out and takes in: zod schemas are the contract (the /api routes and
 * the export file use them); TypeScript types are inferred beside them. Times are milliseconds
 * since the Unix epoch; message ids are integers, conversation ids strings (`conv_...`).
 */
import { z } from "zod";
import { REASONING_EFFORTS } from "../core/types.js";

export const SOURCES = ["ui", "api"] as const;
export const ROLES = ["system", "user", "assistant", "tool"] as const;
export const MESSAGE_STATUSES = ["complete", "partial", "error"] as const;

export type Source = (typeof SOURCES)[number];
export type Role = (typeof ROLES)[number];
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Sampling settings a conversation keeps for its next turns. All optional: absent means the server default. */
export const GenerationParamsSchema = z.object({
  temperature: z.number().min(0).max(2).optional(),
  topP: z.number().min(0).max(1).optional(),
  topK: z.number().int().min(0).optional(),
  minP: z.number().min(0).max(1).optional(),
  maxTokens: z.number().int().min(1).optional(),
  seed: z.number().int().optional(),
  presencePenalty: z.number().min(-2).max(2).optional(),
  frequencyPenalty: z.number().min(-2).max(2).optional(),
  stop: z.array(z.string()).max(4).optional(),
  /** How hard a thinking model thinks (`none` turns thinking off); absent: the model's own default. */
  reasoningEffort: z.enum(REASONING_EFFORTS).optional(),
});
export type GenerationParams = z.infer<typeof GenerationParamsSchema>;

export const ToolCallSchema = z.object({ id: z.string(), name: z.string(), arguments: z.string() });
export type StoredToolCall = z.infer<typeof ToolCallSchema>;

/** How a tool call Hearth ran ended (mcp/runner.ts `TOOL_OUTCOMES`, plus `denied`). */
export const TOOL_OUTCOMES = ["ok", "error", "timeout", "crashed", "stopped", "denied"] as const;
/** Who let a call run: `once` and `always` (the person, for this call or for good), `denied`, or none asked (`auto`, an `always` tool). */
export const TOOL_APPROVALS = ["once", "always", "auto", "denied", "none"] as const;

/** An MCP tool a conversation offers its model (migration 7). */
export const ConversationToolSchema = z.object({
  server: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/u, "must be an MCP server's name"),
  tool: z.string().min(1).max(200),
  /** `always`: runs without asking (the person chose "always for this tool"); `ask` by default. */
  approval: z.enum(["ask", "always"]).default("ask"),
});
export type ConversationTool = z.infer<typeof ConversationToolSchema>;

/** On a `tool` message Hearth wrote: what it ran and how that ended (migration 7). */
export const ToolRunSchema = z.object({
  server: z.string(),
  tool: z.string(),
  approval: z.enum(TOOL_APPROVALS),
  outcome: z.enum(TOOL_OUTCOMES),
  /** The result's length in characters before it was cut to the limit, else null. */
  truncatedFrom: z.number().int().nonnegative().nullable().default(null),
  durationMs: z.number().int().nonnegative().default(0),
});
export type ToolRun = z.infer<typeof ToolRunSchema>;

const nullableInt = z.number().int().nullable().default(null);
const nullableCount = z.number().int().nonnegative().nullable().default(null);

/** The latest time a JavaScript Date can hold (year 275760); later ones cannot be written as dates. */
export const MAX_TIME = 8_640_000_000_000_000;
/** A time as stored: milliseconds since the epoch, one a Date can show. */
export const TimeSchema = z.number().int().min(0).max(MAX_TIME, "is not a date (milliseconds since 1970)");

/**
 * A conversation id: what `newConversationId` makes (`conv_` and base64url), or any 1-100 such
 * characters. Ids travel in URL paths, response headers and file names, so nothing else is allowed.
 */
export const ConversationIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,100}$/u, "must be 1-100 letters, digits, '_' or '-'");

/** Fields of a message that travel in an export file (ids are local to that file). */
export const ExportMessageSchema = z.object({
  id: z.number().int(),
  parentId: nullableInt,
  /** True when this message is on the branch shown at its branch point. */
  active: z.boolean().default(true),
  role: z.enum(ROLES),
  content: z.string().default(""),
  /** What a thinking model wrote before its answer, kept apart from `content`; null when it did not think. */
  reasoning: z.string().nullable().default(null),
  /** Milliseconds from the first to the last of the thoughts as they streamed. */
  reasoningMs: z.number().int().nonnegative().nullable().default(null),
  toolCalls: z.array(ToolCallSchema).nullable().default(null),
  toolCallId: z.string().nullable().default(null),
  /** On a tool message Hearth wrote with an MCP tool's result: what ran and how it ended. */
  toolRun: ToolRunSchema.nullable().default(null),
  model: z.string().min(1).nullable().default(null),
  promptTokens: nullableCount,
  completionTokens: nullableCount,
  finishReason: z.string().nullable().default(null),
  status: z.enum(MESSAGE_STATUSES).default("complete"),
  error: z.string().nullable().default(null),
  tokensPerSecond: z.number().nonnegative().nullable().default(null),
  /** Milliseconds from the request to the first token. */
  ttftMs: z.number().nonnegative().nullable().default(null),
  createdAt: TimeSchema,
  updatedAt: TimeSchema,
});

export const MessageSchema = ExportMessageSchema.extend({ conversationId: z.string() });
export type Message = z.infer<typeof MessageSchema>;

/** A message on the shown branch, with the alternatives at its branch point (itself included, oldest first). */
export const ThreadMessageSchema = MessageSchema.extend({ siblingIds: z.array(z.number().int()) });
export type ThreadMessage = z.infer<typeof ThreadMessageSchema>;

/** The API's limit on a title (conversations.ts); recorded titles are at most 80 characters. */
export const MAX_TITLE_CHARS = 500;

// The same rules the API applies where it writes these fields, so an import cannot store what
// the API never would (an id with a newline broke every header that carries it).
const conversationFields = {
  id: ConversationIdSchema,
  title: z.string().max(MAX_TITLE_CHARS).default(""),
  source: z.enum(SOURCES),
  model: z.string().min(1).nullable().default(null),
  provider: z.string().min(1).nullable().default(null),
  systemPrompt: z.string().nullable().default(null),
  params: GenerationParamsSchema.default({}),
  /** The MCP tools this conversation offers its model (app chats; empty: none). */
  tools: z.array(ConversationToolSchema).max(500).default([]),
  pinned: z.boolean().default(false),
  createdAt: TimeSchema,
  updatedAt: TimeSchema,
};

export const ConversationSchema = z.object({
  ...conversationFields,
  /** Messages in every branch. */
  messageCount: z.number().int(),
});
export type Conversation = z.infer<typeof ConversationSchema>;

export const ConversationDetailSchema = ConversationSchema.extend({
  /** The shown branch, root first. */
  messages: z.array(ThreadMessageSchema),
});
export type ConversationDetail = z.infer<typeof ConversationDetailSchema>;

export const ExportConversationSchema = z.object({
  ...conversationFields,
  /** Every message of every branch; a parent comes before its children. */
  messages: z.array(ExportMessageSchema),
});
export type ExportConversation = z.infer<typeof ExportConversationSchema>;

export const EXPORT_FORMAT = "hearth-history";
export const ExportFileSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  version: z.literal(1),
  exportedAt: TimeSchema,
  conversations: z.array(ExportConversationSchema),
});
export type ExportFile = z.infer<typeof ExportFileSchema>;

/** Filters shared by the conversation list and search. */
export interface HistoryFilters {
  source?: Source;
  /** Exact model id of the conversation. */
  model?: string;
  pinned?: boolean;
  /** Inclusive lower bound, ms. The list filters on updatedAt, search on the message's createdAt. */
  from?: number;
  /** Exclusive upper bound, ms. */
  to?: number;
}

export const SearchHitSchema = z.object({
  /** `title` hits match the conversation title (messageId and role are null); `message` hits a message. */
  kind: z.enum(["title", "message"]),
  /** What matched in a message hit: its text, or its thoughts (searched only with `in=reasoning` or `in=all`); null for a title hit. */
  field: z.enum(["content", "reasoning"]).nullable(),
  conversationId: z.string(),
  conversationTitle: z.string(),
  messageId: z.number().int().nullable(),
  role: z.enum(ROLES).nullable(),
  /** The message's time, or the conversation's last update for a title hit. */
  createdAt: z.number().int(),
  /**
   * Plain text (not HTML-escaped) with U+E000 before and U+E001 after each matched part: about 180
   * characters of the message (of its thoughts, for a `reasoning` hit) around its best match
   * (`…` where cut), or the whole title. Only the first 65,536 characters of each are searched.
   */
  snippet: z.string(),
  /** bm25 (lower is better); null when ranked by recency. */
  score: z.number().nullable(),
});
export type SearchHit = z.infer<typeof SearchHitSchema>;

export const SearchPageSchema = z.object({
  hits: z.array(SearchHitSchema),
  nextCursor: z.string().nullable(),
  /** `words`: the word index answered; `substring`: the trigram index or a scan did; `none`: nothing to search for. */
  mode: z.enum(["words", "substring", "none"]),
});
export type SearchPage = z.infer<typeof SearchPageSchema>;

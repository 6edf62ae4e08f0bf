/**
 * The wire shapes of the history MCP server's tools: zod schemas for what an agent sends (the
 * SDK validates arguments with them and lists them as JSON Schema in `tools/list`) and for what it
 * gets back (`structuredContent`, checked by the SDK against the same schema). Agents read these,
 * so names are snake_case like most MCP tools, and times are ISO 8601 strings.
 */
import { z } from "zod";
import { ROLES, SOURCES, MESSAGE_STATUSES } from "../history/types.js";
import { SEARCH_SCOPES } from "../history/search.js";

/** Characters of one message a page of `get_conversation` shows at most; `get_message` reads the rest. */
export const MAX_MESSAGE_CHARS = 20_000;
/** Characters (text, thoughts, tool-call arguments) one page of `get_conversation` holds at most. */
export const PAGE_CHARS = 100_000;
/** Characters one `get_message` slice holds at most. */
export const MAX_SLICE_CHARS = 100_000;

const date = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()])
  .describe("ISO 8601 date (2025-06-01) or date-time with an offset (2025-06-01T12:00:00Z)");
const conversationId = z.string().min(1).max(100).describe("a conversation id (`conv_...`)");
const source = z
  .enum(SOURCES)
  .describe("`ui`: chats in the Hearth app; `api`: requests other programs sent to its /v1 API");

export const SearchHistoryInput = {
  query: z
    .string()
    .min(1)
    .max(2000)
    .describe(
      'Words to find (all of them); "a quoted phrase" keeps its words together; the last word also matches as a prefix. Text without spaces (Chinese, Japanese, emoji) is matched as a substring.',
    ),
  in: z
    .enum(SEARCH_SCOPES)
    .default("content")
    .describe(
      "`content` (default): titles and message text; `reasoning`: a thinking model's thoughts only; `all`: titles, text, then thoughts",
    ),
  model: z.string().min(1).max(500).optional().describe("only conversations with this exact model id"),
  source: source.optional(),
  pinned: z.boolean().optional().describe("only pinned (true) or unpinned (false) conversations"),
  from: date.optional().describe("only messages written at or after this time (ISO 8601)"),
  to: date.optional().describe("only messages written before this time (ISO 8601)"),
  conversation_id: conversationId.optional().describe("search one conversation only"),
  limit: z.number().int().min(1).max(50).default(10).describe("hits per page, 1-50 (default 10)"),
  cursor: z.string().min(1).max(1000).optional().describe("`next_cursor` of the previous page"),
};

export const SearchHitOutput = z.object({
  /** `title`: the conversation's title matched; `message`: a message did. */
  kind: z.enum(["title", "message"]),
  field: z.enum(["content", "reasoning"]).nullable(),
  conversation_id: z.string(),
  conversation_title: z.string(),
  message_id: z.number().int().nullable(),
  role: z.enum(ROLES).nullable(),
  created_at: z.string(),
  snippet: z.string(),
  score: z.number().nullable(),
});

export const SearchHistoryOutput = {
  hits: z.array(SearchHitOutput),
  next_cursor: z.string().nullable(),
  mode: z.enum(["words", "substring", "none"]),
};

export const ListRecentInput = {
  limit: z.number().int().min(1).max(100).default(20).describe("conversations per page, 1-100 (default 20)"),
  source: source.optional(),
  model: z.string().min(1).max(500).optional().describe("only conversations with this exact model id"),
  pinned: z.boolean().optional().describe("only pinned (true) or unpinned (false) conversations"),
  cursor: z.string().min(1).max(1000).optional().describe("`next_cursor` of the previous page"),
};

export const ConversationSummaryOutput = z.object({
  id: z.string(),
  title: z.string(),
  source: z.enum(SOURCES),
  model: z.string().nullable(),
  pinned: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
  /** Messages in every branch. */
  message_count: z.number().int(),
});

export const ListRecentOutput = {
  conversations: z.array(ConversationSummaryOutput),
  next_cursor: z.string().nullable(),
};

export const GetConversationInput = {
  conversation_id: conversationId,
  message_id: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      "a message of the conversation (a search hit's message_id): show the branch through it, and without an offset start the page at the message before it",
    ),
  offset: z.number().int().min(0).optional().describe("index on the branch of the first message to show (default 0)"),
  limit: z.number().int().min(1).max(100).default(20).describe("messages per page, 1-100 (default 20)"),
  max_chars_per_message: z
    .number()
    .int()
    .min(100)
    .max(MAX_MESSAGE_CHARS)
    .default(4000)
    .describe(`longer texts are cut there (default 4000, at most ${MAX_MESSAGE_CHARS}); get_message reads the rest`),
  include_reasoning: z
    .boolean()
    .default(false)
    .describe("include a thinking model's thoughts (default false: only the answers)"),
};

const ToolCallOutput = z.object({
  id: z.string(),
  name: z.string(),
  arguments: z.string(),
  arguments_truncated: z.boolean(),
});

export const MessageOutput = z.object({
  /** Position on the shown branch, from 0. */
  index: z.number().int(),
  id: z.number().int(),
  role: z.enum(ROLES),
  content: z.string(),
  content_chars: z.number().int(),
  content_truncated: z.boolean(),
  /** Present with include_reasoning when the model thought. */
  reasoning: z.string().optional(),
  reasoning_chars: z.number().int().optional(),
  reasoning_truncated: z.boolean().optional(),
  tool_calls: z.array(ToolCallOutput).optional(),
  tool_call_id: z.string().optional(),
  model: z.string().nullable(),
  status: z.enum(MESSAGE_STATUSES),
  finish_reason: z.string().nullable(),
  created_at: z.string(),
  /** Other versions of this message (edits, regenerations) at its branch point, itself included. */
  versions: z.number().int(),
});

export const GetConversationOutput = {
  conversation: ConversationSummaryOutput.extend({
    provider: z.string().nullable(),
    system_prompt: z.string().nullable(),
    system_prompt_truncated: z.boolean(),
  }),
  messages: z.array(MessageOutput),
  /** Messages on the shown branch (or the branch through `message_id`). */
  total: z.number().int(),
  offset: z.number().int(),
  /** Pass as `offset` for the next page; null on the last one. */
  next_offset: z.number().int().nullable(),
  /** Present when a text was cut: how to read the rest. */
  note: z.string().optional(),
};

export const GetMessageInput = {
  conversation_id: conversationId,
  message_id: z.number().int().positive().describe("the message's id"),
  field: z
    .enum(["content", "reasoning"])
    .default("content")
    .describe("`content` (default): the message's text; `reasoning`: its thoughts"),
  offset: z.number().int().min(0).default(0).describe("first character to read (default 0)"),
  max_chars: z
    .number()
    .int()
    .min(100)
    .max(MAX_SLICE_CHARS)
    .default(20_000)
    .describe(`characters to read, at most ${MAX_SLICE_CHARS} (default 20000)`),
};

export const GetMessageOutput = {
  conversation_id: z.string(),
  message_id: z.number().int(),
  role: z.enum(ROLES),
  field: z.enum(["content", "reasoning"]),
  offset: z.number().int(),
  text: z.string(),
  total_chars: z.number().int(),
  /** Pass as `offset` to read on; null once the end was read. */
  next_offset: z.number().int().nullable(),
};

type Out<T extends z.ZodRawShape> = z.infer<z.ZodObject<T>>;
export type SearchHistoryResult = Out<typeof SearchHistoryOutput>;
export type ListRecentResult = Out<typeof ListRecentOutput>;
export type GetConversationResult = Out<typeof GetConversationOutput>;
export type GetMessageResult = Out<typeof GetMessageOutput>;

/**
 * The shapes of /api/conversations, /api/search and the export file. Their zod schemas live with
 * the history module that stores them (history/types.ts, which imports only zod); this names the
 * ones the UI reads.
 */
export type {
  Conversation,
  ConversationDetail,
  ConversationTool,
  GenerationParams,
  SearchHit,
  SearchPage,
  Source,
  ThreadMessage,
  ToolRun,
} from "../history/types.js";

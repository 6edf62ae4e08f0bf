import type { Migration } from "./types.js";

/**
 * Tools in the app's chats (issue 21): which MCP tools a conversation offers its model, and what
 * became of each call Hearth ran for it.
 * - `conversations.tools`: a JSON array of `{server, tool, approval}` (history/types.ts
 *   `ConversationToolSchema`); `approval: "always"` once the person allowed a tool for good.
 * - `messages.tool_run`: on a `tool` message Hearth wrote with a tool's result, a JSON object
 *   `{server, tool, approval, outcome, truncatedFrom, durationMs}` (`ToolRunSchema`); null on every
 *   other message, and on tool messages a client sent (/v1). The call itself is the assistant
 *   message's `tool_calls`, as for /v1 traffic; the result is the tool message's `content`, so
 *   the message search tables index it with no change (found by the default search, role `tool`).
 */
export const toolRuns: Migration = {
  version: 7,
  name: "tool-runs",
  up(db) {
    db.exec(`
      ALTER TABLE conversations ADD COLUMN tools TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tools));
      ALTER TABLE messages ADD COLUMN tool_run TEXT CHECK (tool_run IS NULL OR json_valid(tool_run));
    `);
  },
};

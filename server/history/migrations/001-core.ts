import type { Migration } from "./types.js";

/**
 * Conversations and their message trees. Integer primary keys are internal (they are what FTS5's
 * external-content tables key on and they survive VACUUM); conversations also carry a random
 * public id so an export can be imported elsewhere without collisions.
 */
export const coreSchema: Migration = {
  version: 1,
  name: "core",
  up(db) {
    db.exec(`
      CREATE TABLE conversations (
        rid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL CHECK (source IN ('ui', 'api')),
        model TEXT,
        provider TEXT,
        system_prompt TEXT,
        params TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
        pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX conversations_by_activity ON conversations (pinned, updated_at, rid);
      CREATE INDEX conversations_by_source ON conversations (source, updated_at);

      -- parent_id links edits and regenerations into a tree; among the children of one parent
      -- (or the roots of one conversation) exactly one is active: the branch the UI shows.
      CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_rid INTEGER NOT NULL REFERENCES conversations (rid) ON DELETE CASCADE,
        parent_id INTEGER REFERENCES messages (id) ON DELETE CASCADE,
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
        content TEXT NOT NULL DEFAULT '',
        tool_calls TEXT CHECK (tool_calls IS NULL OR json_valid(tool_calls)),
        tool_call_id TEXT,
        model TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        finish_reason TEXT,
        status TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'partial', 'error')),
        error TEXT,
        tokens_per_second REAL,
        ttft_ms INTEGER,
        -- For /v1 traffic: a hash of the message path up to and including this message, so a
        -- client that resends its growing history is matched to the conversation it continues.
        path_hash TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX messages_by_conversation ON messages (conversation_rid, id);
      CREATE INDEX messages_by_parent ON messages (parent_id);
      CREATE UNIQUE INDEX messages_one_active_sibling ON messages (conversation_rid, ifnull(parent_id, 0)) WHERE active = 1;
      CREATE INDEX messages_by_path_hash ON messages (path_hash) WHERE path_hash IS NOT NULL;
    `);
  },
};

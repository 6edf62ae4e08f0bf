import type { Migration } from "./types.js";

/**
 * What each API key used, per model and day (issue 20): one row per (UTC day, key, model), added
 * to as requests end (history/usage.ts). `key_id` is a named key's id or `api-key`, `app`, `local`
 * for the built-in callers; `key_name` is kept so a revoked key's past use still has its name.
 * `model` is '' for requests that generated nothing (an inference key listing models). Not
 * history: deleting conversations leaves it, and it is small (keys x models x days).
 */
export const usage: Migration = {
  version: 8,
  name: "usage",
  up(db) {
    db.exec(`
      CREATE TABLE usage (
        day TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
        key_id TEXT NOT NULL,
        key_name TEXT NOT NULL,
        model TEXT NOT NULL,
        requests INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        last_used_at INTEGER NOT NULL,
        PRIMARY KEY (day, key_id, model)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX usage_by_key ON usage (key_id, last_used_at);
    `);
  },
};

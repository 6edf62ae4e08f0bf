import { INDEXED_CHARS } from "./004-bounded-search.js";
import type { Migration } from "./types.js";

/**
 * A reply's thoughts, kept apart from its text (issue 17): what a thinking model wrote before its
 * answer (the `reasoning` events), null for a message without any, and `reasoning_ms`, the time
 * from its first to its last reasoning event.
 *
 * Thoughts have search tables of their own, built like migration 4's (same tokenizers, contentless,
 * the first INDEXED_CHARS characters), so search finds answers by default as before (the message
 * tables, their ranking and their statistics do not change) and thoughts only when asked
 * (`in=reasoning` or `in=all`, history/search.ts). Messages without thoughts have no entries.
 */
export const reasoning: Migration = {
  version: 5,
  name: "reasoning",
  up(db) {
    const indexed = (row: "new" | "old") => `substr(${row}.reasoning, 1, ${INDEXED_CHARS})`;
    db.exec(`
      ALTER TABLE messages ADD COLUMN reasoning TEXT;
      ALTER TABLE messages ADD COLUMN reasoning_ms INTEGER CHECK (reasoning_ms IS NULL OR reasoning_ms >= 0);

      CREATE VIRTUAL TABLE reasoning_fts USING fts5(
        content, content = '', contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
      CREATE VIRTUAL TABLE reasoning_trigram USING fts5(
        content, content = '', contentless_delete = 1,
        tokenize = 'trigram remove_diacritics 1');

      CREATE TRIGGER reasoning_fts_insert AFTER INSERT ON messages WHEN new.reasoning IS NOT NULL BEGIN
        INSERT INTO reasoning_fts (rowid, content) VALUES (new.id, ${indexed("new")});
        INSERT INTO reasoning_trigram (rowid, content) VALUES (new.id, ${indexed("new")});
      END;
      CREATE TRIGGER reasoning_fts_delete AFTER DELETE ON messages WHEN old.reasoning IS NOT NULL BEGIN
        DELETE FROM reasoning_fts WHERE rowid = old.id;
        DELETE FROM reasoning_trigram WHERE rowid = old.id;
      END;
      CREATE TRIGGER reasoning_fts_update AFTER UPDATE OF reasoning ON messages
        WHEN ${indexed("old")} IS NOT ${indexed("new")} BEGIN
        DELETE FROM reasoning_fts WHERE rowid = old.id;
        DELETE FROM reasoning_trigram WHERE rowid = old.id;
        INSERT INTO reasoning_fts (rowid, content) SELECT new.id, ${indexed("new")} WHERE new.reasoning IS NOT NULL;
        INSERT INTO reasoning_trigram (rowid, content) SELECT new.id, ${indexed("new")} WHERE new.reasoning IS NOT NULL;
      END;

      INSERT INTO reasoning_fts (reasoning_fts, rank) VALUES ('deletemerge', 30);
      INSERT INTO reasoning_trigram (reasoning_trigram, rank) VALUES ('deletemerge', 30);
    `);
  },
};

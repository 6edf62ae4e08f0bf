import type { Migration } from "./types.js";

/**
 * Full-text search (docs/ENGINE-NOTES.md §7.1, §7.2): external-content FTS5 tables kept in sync by
 * triggers, so no write path can forget them.
 * - messages_fts: words, diacritics-folded ("cafe" finds "café"), with 2- and 3-character prefix
 *   indexes because the last word of every query is a prefix (search-as-you-type) and short
 *   prefixes would otherwise merge thousands of term lists.
 * - messages_trigram: substrings, for text without spaces (CJK, Thai) and for matches inside words.
 * - conversations_fts: titles.
 * The delete triggers must pass the old content exactly, or the index silently corrupts.
 */
export const searchIndex: Migration = {
  version: 2,
  name: "search",
  up(db) {
    db.exec(`
      CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content = 'messages', content_rowid = 'id',
        tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
      CREATE VIRTUAL TABLE messages_trigram USING fts5(
        content, content = 'messages', content_rowid = 'id',
        tokenize = 'trigram remove_diacritics 1');
      CREATE VIRTUAL TABLE conversations_fts USING fts5(
        title, content = 'conversations', content_rowid = 'rid',
        tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');

      CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
        INSERT INTO messages_trigram (rowid, content) VALUES (new.id, new.content);
      END;
      CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO messages_trigram (messages_trigram, rowid, content) VALUES ('delete', old.id, old.content);
      END;
      CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO messages_trigram (messages_trigram, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
        INSERT INTO messages_trigram (rowid, content) VALUES (new.id, new.content);
      END;

      CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO conversations_fts (rowid, title) VALUES (new.rid, new.title);
      END;
      CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
        INSERT INTO conversations_fts (conversations_fts, rowid, title) VALUES ('delete', old.rid, old.title);
      END;
      CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
        INSERT INTO conversations_fts (conversations_fts, rowid, title) VALUES ('delete', old.rid, old.title);
        INSERT INTO conversations_fts (rowid, title) VALUES (new.rid, new.title);
      END;

      -- Rows written by version 1 have no index entries yet.
      INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
      INSERT INTO messages_trigram (messages_trigram) VALUES ('rebuild');
      INSERT INTO conversations_fts (conversations_fts) VALUES ('rebuild');
    `);
  },
};

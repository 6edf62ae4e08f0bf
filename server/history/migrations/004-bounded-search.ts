import type { Migration } from "./types.js";

/**
 * Characters of each message that search indexes: the first 65,536. Past that, a message is
 * stored and shown whole but its words are not found (issue 22: one 19 MB /v1 message took seconds
 * to index, and every search it matched seconds to snippet). Changing it needs a new migration.
 */
export const INDEXED_CHARS = 65_536;

/**
 * Message search, rebuilt so that no single message costs more than a bounded amount of work
 * (replacing migration 2's message tables; titles keep theirs):
 * - only the first INDEXED_CHARS characters of each message are indexed;
 * - the tables are contentless with `contentless_delete=1`: deleting a message removes its
 *   entries by rowid, where the external-content tables had to tokenize the old text again to
 *   delete it (a conversation of 200 messages of 60 KB took 3.5 s to delete). Snippets, which
 *   FTS5 cannot make without content, are built by history/snippet.ts from the message itself;
 * - a reply rewritten as it streams is re-indexed only while its indexed part changes.
 * Same tokenizers as migration 2, so queries and ranking do not change.
 */
export const boundedSearch: Migration = {
  version: 4,
  name: "bounded-search",
  up(db) {
    const indexed = (row: "new" | "old") => `substr(${row}.content, 1, ${INDEXED_CHARS})`;
    db.exec(`
      DROP TRIGGER messages_fts_insert;
      DROP TRIGGER messages_fts_delete;
      DROP TRIGGER messages_fts_update;
      DROP TABLE messages_fts;
      DROP TABLE messages_trigram;

      CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content = '', contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
      CREATE VIRTUAL TABLE messages_trigram USING fts5(
        content, content = '', contentless_delete = 1,
        tokenize = 'trigram remove_diacritics 1');

      CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, content) VALUES (new.id, ${indexed("new")});
        INSERT INTO messages_trigram (rowid, content) VALUES (new.id, ${indexed("new")});
      END;
      CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        DELETE FROM messages_fts WHERE rowid = old.id;
        DELETE FROM messages_trigram WHERE rowid = old.id;
      END;
      CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
        WHEN ${indexed("old")} IS NOT ${indexed("new")} BEGIN
        DELETE FROM messages_fts WHERE rowid = old.id;
        DELETE FROM messages_trigram WHERE rowid = old.id;
        INSERT INTO messages_fts (rowid, content) VALUES (new.id, ${indexed("new")});
        INSERT INTO messages_trigram (rowid, content) VALUES (new.id, ${indexed("new")});
      END;

      -- A segment is rewritten to drop deleted rows once 30% of them are deleted, not FTS5's 10%:
      -- deleting a long conversation otherwise rewrote the same segments again and again (0.86 s
      -- instead of 0.43 s for 200 messages of 60 KB); merges while writing drop them too.
      INSERT INTO messages_fts (messages_fts, rank) VALUES ('deletemerge', 30);
      INSERT INTO messages_trigram (messages_trigram, rank) VALUES ('deletemerge', 30);

      INSERT INTO messages_fts (rowid, content) SELECT id, substr(content, 1, ${INDEXED_CHARS}) FROM messages;
      INSERT INTO messages_trigram (rowid, content) SELECT id, substr(content, 1, ${INDEXED_CHARS}) FROM messages;
    `);
  },
};

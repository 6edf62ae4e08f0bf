import type { Migration } from "./types.js";

/**
 * Imports once took any conversation id and any number as a time. An id with a newline or `€`
 * cannot travel in a response header (export and sending answered 500), and a time past what a
 * Date holds (`9e15`) broke the Markdown export of everything. Imports now refuse both
 * (types.ts); this repairs what earlier ones let in: such ids get a new random `conv_` id, such
 * times the nearest valid one. Rows the API wrote are never touched by it.
 */
export const safeImports: Migration = {
  version: 3,
  name: "safe-imports",
  up(db) {
    // The characters of ConversationIdSchema; messages refer to conversations by rid, so only the row changes.
    db.exec(`
      UPDATE conversations SET id = 'conv_' || lower(hex(randomblob(12)))
        WHERE id = '' OR length(id) > 100 OR id GLOB '*[^A-Za-z0-9_-]*';
      UPDATE conversations SET
        created_at = min(max(created_at, 0), 8640000000000000),
        updated_at = min(max(updated_at, 0), 8640000000000000)
        WHERE created_at NOT BETWEEN 0 AND 8640000000000000 OR updated_at NOT BETWEEN 0 AND 8640000000000000;
      UPDATE messages SET
        created_at = min(max(created_at, 0), 8640000000000000),
        updated_at = min(max(updated_at, 0), 8640000000000000)
        WHERE created_at NOT BETWEEN 0 AND 8640000000000000 OR updated_at NOT BETWEEN 0 AND 8640000000000000;
    `);
  },
};

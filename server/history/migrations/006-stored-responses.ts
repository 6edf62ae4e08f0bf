import type { Migration } from "./types.js";

/**
 * A stored Responses API response as it was returned (issue 18): the response object of
 * `POST /v1/responses`, kept beside the assistant message it was recorded as, so that
 * `GET /v1/responses/{id}` returns the request's settings (tools, `text.format`, sampling,
 * `metadata`...), the output items with their ids and logprobs, and the usage, exactly as the
 * client received them. A side table rather than a column: only that route reads it, so message
 * reads (every conversation view, search, export) never load it. Deleting the message (or its
 * conversation, or a retention prune) deletes it. Bounded in size by the writer
 * (openai/responses-store.ts).
 */
export const storedResponses: Migration = {
  version: 6,
  name: "stored-responses",
  up(db) {
    db.exec(`
      CREATE TABLE stored_responses (
        message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
        response TEXT NOT NULL CHECK (json_valid(response))
      ) STRICT;
    `);
  },
};

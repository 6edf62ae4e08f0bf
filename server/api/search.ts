/** GET /api/search: ranked, highlighted hits over messages and titles (see server/history/search.ts for the rules). */
import express from "express";
import { z } from "zod";
import type { ServerContext } from "../context.js";
import { SEARCH_SCOPES } from "../history/search.js";
import { parseOrThrow } from "../http/validate.js";
import { HistoryFilterQuery } from "./conversations.js";

export const SearchQuerySchema = HistoryFilterQuery.extend({
  /** Raw user text; any input is safe. Empty gives no hits. */
  q: z.string().max(2000).default(""),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  conversationId: z.string().min(1).max(100).optional(),
  /** `content` (titles and message text), `reasoning` (thinking models' thoughts only) or `all`. Defaults to content. */
  in: z.enum(SEARCH_SCOPES).default("content"),
});

export function createSearchRouter(ctx: ServerContext): express.Router {
  const router = express.Router();
  router.get("/search", (req, res) => {
    res.json(ctx.history.store.search.search(parseOrThrow(SearchQuerySchema, req.query)));
  });
  return router;
}

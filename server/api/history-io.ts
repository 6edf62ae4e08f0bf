/**
 * Export and import of history. JSON is the format that round-trips (import takes it back);
 * Markdown is for reading. Exporting everything streams one conversation at a time, so memory
 * stays flat however large the history is. Stored /v1/responses objects (migration 6) are not
 * exported: their ids name message ids, which an import assigns anew (server/api/README.md).
 */
import { once } from "node:events";
import express, { type Response } from "express";
import { z } from "zod";
import type { ServerContext } from "../context.js";
import { EXPORT_FORMAT } from "../history/types.js";
import { parseOrThrow } from "../http/validate.js";

const ExportQuery = z.object({
  format: z.enum(["json", "markdown"]).default("json"),
  /** Comma-separated conversation ids; all when absent. */
  ids: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .optional(),
});

const ImportQuery = z.object({ onConflict: z.enum(["skip", "replace", "copy"]).default("skip") });

function attachment(res: Response, name: string, format: "json" | "markdown"): void {
  res.type(format === "json" ? "application/json; charset=utf-8" : "text/markdown; charset=utf-8");
  // Ids are checked on the way in, but one stored before that may hold characters a header cannot.
  const safe = name.replace(/[^A-Za-z0-9_.-]/gu, "_");
  res.setHeader("Content-Disposition", `attachment; filename="${safe}.${format === "json" ? "json" : "md"}"`);
}

export function createHistoryIoRouter(ctx: ServerContext): express.Router {
  const router = express.Router();
  const store = ctx.history.store;

  router.get("/conversations/:id/export", (req, res) => {
    const { format } = parseOrThrow(ExportQuery, req.query);
    const id = String(req.params.id);
    store.requireConversation(id);
    attachment(res, `hearth-${id}`, format);
    res.send(format === "json" ? JSON.stringify(store.exportJson([id]), null, 2) : store.exportMarkdown([id]));
  });

  router.get("/export", async (req, res) => {
    const { format, ids } = parseOrThrow(ExportQuery, req.query);
    for (const id of ids ?? []) store.requireConversation(id);
    attachment(res, `hearth-history-${new Date().toISOString().slice(0, 10)}`, format);
    if (format === "markdown") {
      res.send(store.exportMarkdown(ids));
      return;
    }
    res.write(`{"format":${JSON.stringify(EXPORT_FORMAT)},"version":1,"exportedAt":${Date.now()},"conversations":[\n`);
    let first = true;
    for (const conversation of store.exportConversations(ids)) {
      const ok = res.write(`${first ? "" : ",\n"}${JSON.stringify(conversation)}`);
      first = false;
      if (!ok) await Promise.race([once(res, "drain"), once(res, "close")]);
      if (res.destroyed || res.writableEnded) return;
    }
    res.end("\n]}\n");
  });

  router.post("/import", async (req, res) => {
    const { onConflict } = parseOrThrow(ImportQuery, req.query);
    res.json(await store.importJson(req.body, { onConflict }));
  });

  return router;
}

/**
 * /api/providers: add, list, edit, remove, test and refresh remote providers (README "Providers").
 * API keys and extra header values are write-only: responses say `hasApiKey` and list header
 * names, never a value.
 */
import express from "express";
import type { ServerContext } from "../context.js";
import { parseOrThrow } from "../http/validate.js";
import { ProviderCreateSchema, ProviderUpdateSchema } from "../providers/provider-config.js";

export function createProvidersRouter(ctx: ServerContext): express.Router {
  const router = express.Router();
  const store = ctx.providers;

  router.get("/providers", async (_req, res) => {
    res.json({ object: "list", data: await store.list() });
  });

  router.post("/providers", async (req, res) => {
    const body = parseOrThrow(ProviderCreateSchema, req.body);
    res.status(201).json(await store.add(body));
  });

  router.post("/providers/test", async (req, res) => {
    res.json(await store.testUnsaved(parseOrThrow(ProviderCreateSchema, req.body)));
  });

  router.get("/providers/:id", async (req, res) => {
    res.json(await store.get(req.params.id));
  });

  router.patch("/providers/:id", async (req, res) => {
    res.json(await store.update(req.params.id, parseOrThrow(ProviderUpdateSchema, req.body ?? {})));
  });

  router.delete("/providers/:id", async (req, res) => {
    await store.remove(req.params.id);
    res.status(204).end();
  });

  router.post("/providers/:id/test", async (req, res) => {
    res.json(await store.test(req.params.id));
  });

  router.post("/providers/:id/refresh", async (req, res) => {
    res.json(await store.refresh(req.params.id));
  });

  return router;
}

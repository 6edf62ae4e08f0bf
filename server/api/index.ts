/**
 * /api: Hearth's management API (conversations, search, models, providers, settings, MCP servers). Each
 * feature module exports a router factory taking the server context; they are mounted here.
 */
import express from "express";
import type { ServerContext } from "../context.js";
import { createProvidersRouter } from "./providers.js";
import { createConversationsRouter } from "./conversations.js";
import { createHistoryIoRouter } from "./history-io.js";
import { createSearchRouter } from "./search.js";
import { createMcpServersRouter } from "./mcp.js";
import { createModelsRouter } from "./models.js";
import { createSettingsRouter } from "./settings.js";

export function createApiRouter(ctx: ServerContext): express.Router {
  const router = express.Router();
  router.use(
    createConversationsRouter(ctx),
    createSearchRouter(ctx),
    createHistoryIoRouter(ctx),
    createProvidersRouter(ctx),
    createModelsRouter(ctx),
    createSettingsRouter(ctx),
    createMcpServersRouter(ctx),
  );
  return router;
}

/**
 * /api: Hearth's management API (conversations, search, models, providers, settings). Each
 * feature module exports a router factory taking the server context; they are mounted here.
 */
import express from "express";
import type { ServerContext } from "../context.js";

export function createApiRouter(_ctx: ServerContext): express.Router {
  const router = express.Router();
  return router;
}

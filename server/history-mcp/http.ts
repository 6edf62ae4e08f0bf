/**
 * `/mcp`: the history MCP server over Streamable HTTP on the running server, for agents that
 * connect by URL. `app.ts` mounts it behind the same guards as `/api` (Host, Origin and
 * `Sec-Fetch-Site`, the API key), so a web page cannot read the history through it either.
 *
 * Stateless: each POST gets its own McpServer and transport, answers with one JSON body, and
 * holds nothing afterwards. The tools only read, so there is nothing a session would carry
 * between requests, no session table to bound or expire, and any request may reach any process.
 * A GET (the optional server-to-client event stream) and a DELETE (ending a session) have no
 * meaning without sessions: they get 405, which MCP clients take as "no stream here".
 */
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import express from "express";
import type { HistoryReader } from "../history/index.js";
import { createHistoryMcpServer } from "./tools.js";

export interface McpRouterOptions {
  history: HistoryReader;
  version: string;
}

export function createMcpRouter(options: McpRouterOptions): express.Router {
  const router = express.Router();
  router.post("/", async (req, res) => {
    const server = createHistoryMcpServer({ history: () => options.history, version: options.version });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  return router;
}

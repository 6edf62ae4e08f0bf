/**
 * /api/mcp/servers: the MCP servers the app's chats can use (server/mcp/registry.ts): list them with
 * their state, last error and tools, add, change and remove the ones Settings keeps, and start one
 * to see its tools. Values of `env` and `headers` are write-only: answers name them only.
 *
 * A server with a `command` runs that command on this machine, so only the person's own
 * configuration may name one: `<data-dir>/mcp.json`, or the desktop app's Settings, whose main
 * process asks in a native dialog and sends the per-launch settings token (as for the settings that
 * guard the server, api/settings.ts). A plain API call (a local program, a page past the origin
 * checks) may add and change HTTP servers only.
 */
import express from "express";
import type { ServerContext } from "../context.js";
import { ForbiddenError, HearthError } from "../errors.js";
import { settingsTokenCheck } from "../http/security.js";
import { parseOrThrow } from "../http/validate.js";
import {
  McpServerCreateSchema,
  McpServerListSchema,
  McpServerNameSchema,
  McpServerUpdateSchema,
  McpServerViewSchema,
  McpToolViewSchema,
} from "../wire/mcp.js";
import { z } from "zod";

const nameParam = z.object({ name: McpServerNameSchema });

export function createMcpServersRouter(ctx: ServerContext): express.Router {
  const router = express.Router();
  const registry = ctx.mcp;
  const fromDesktopApp = settingsTokenCheck(ctx.config);
  const refuseCommand = (req: express.Request, param: string) => {
    if (fromDesktopApp(req)) return;
    throw new ForbiddenError(
      `An MCP server that runs a command is added in ${registry.file} or in the desktop app's Settings, not through the API.`,
      { param, code: "command_not_allowed" },
    );
  };

  router.get("/mcp/servers", async (_req, res) => {
    res.json({ object: "list", data: await registry.list(), file: registry.file });
  });

  router.post("/mcp/servers", async (req, res) => {
    const body = parseOrThrow(McpServerCreateSchema, req.body);
    if (body.command !== undefined) refuseCommand(req, "command");
    res.status(201).json(await registry.add(body));
  });

  router.get("/mcp/servers/:name", async (req, res) => {
    res.json(await registry.get(parseOrThrow(nameParam, req.params).name));
  });

  router.patch("/mcp/servers/:name", async (req, res) => {
    const { name } = parseOrThrow(nameParam, req.params);
    const body = parseOrThrow(McpServerUpdateSchema, req.body ?? {});
    // The environment and working folder shape what the command does as much as the command itself.
    for (const field of ["command", "args", "cwd", "env"] as const)
      if (body[field] !== undefined) refuseCommand(req, field);
    res.json(await registry.update(name, body));
  });

  router.delete("/mcp/servers/:name", async (req, res) => {
    await registry.remove(parseOrThrow(nameParam, req.params).name);
    res.status(204).end();
  });

  /** A server's tools, starting it when it is not running (the chat's tools menu); 502 with why when it cannot start. */
  router.get("/mcp/servers/:name/tools", async (req, res) => {
    const { name } = parseOrThrow(nameParam, req.params);
    try {
      res.json({ object: "list", data: await registry.tools(name) });
    } catch (err) {
      if (err instanceof HearthError) throw err;
      throw new HearthError(502, "server_error", (err as Error).message, { code: "mcp_server_unavailable" });
    }
  });

  /** (Re)starts a server and answers its view: `running` with its tools, or `error` with why. */
  router.post("/mcp/servers/:name/restart", async (req, res) => {
    res.json(await registry.restart(parseOrThrow(nameParam, req.params).name));
  });

  return router;
}

/** OpenAPI paths of these routes, from the zod schemas that validate them (spread into server/openapi.ts). */
export function mcpOpenApiPaths() {
  const json = (schema: z.ZodType, description: string) => ({
    description,
    content: { "application/json": { schema } },
  });
  const named = { path: nameParam };
  return {
    "/api/mcp/servers": {
      get: {
        summary: "MCP servers the chats can use (mcp.json and Settings), with state, last error and tools",
        responses: { "200": json(McpServerListSchema, "The servers") },
      },
      post: {
        summary:
          "Add an MCP server (`url`: Streamable HTTP; `command`: stdio, only with the desktop app's settings token). `env` and `headers` are write-only",
        requestBody: { content: { "application/json": { schema: McpServerCreateSchema } } },
        responses: {
          "201": json(McpServerViewSchema, "Added"),
          "403": { description: "A command without the settings token" },
        },
      },
    },
    "/api/mcp/servers/{name}": {
      get: {
        summary: "One MCP server",
        requestParams: named,
        responses: { "200": json(McpServerViewSchema, "The server") },
      },
      patch: {
        summary: "Change a server added through the API (command, args, cwd and env need the settings token)",
        requestParams: named,
        requestBody: { content: { "application/json": { schema: McpServerUpdateSchema } } },
        responses: { "200": json(McpServerViewSchema, "Changed"), "409": { description: "A server of mcp.json" } },
      },
      delete: {
        summary: "Remove a server added through the API (and its secrets)",
        requestParams: named,
        responses: { "204": { description: "Removed" }, "409": { description: "A server of mcp.json" } },
      },
    },
    "/api/mcp/servers/{name}/tools": {
      get: {
        summary: "A server's tools, starting it when it is not running",
        requestParams: named,
        responses: {
          "200": json(z.object({ object: z.literal("list"), data: z.array(McpToolViewSchema) }), "The tools"),
          "502": { description: "The server could not start (`mcp_server_unavailable`, with why)" },
        },
      },
    },
    "/api/mcp/servers/{name}/restart": {
      post: {
        summary: "(Re)start a server: `running` with its tools, or `error` with why",
        requestParams: named,
        responses: { "200": json(McpServerViewSchema, "The server") },
      },
    },
  };
}

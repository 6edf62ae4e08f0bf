/**
 * The shapes of MCP servers Hearth uses as a host (server/mcp/): an entry of `<data-dir>/mcp.json`
 * in the `{"mcpServers": {...}}` shape Claude Desktop, Cursor and LM Studio use, and the bodies and
 * answers of /api/mcp/servers. Secret values (`env`, `headers`) go in only: answers name them.
 */
import { z } from "zod";

/**
 * A server's name: it is the first half of each of its tools' function names (`<server>__<tool>`,
 * which OpenAI limits to 64 characters of `[A-Za-z0-9_-]`), so it is kept to those characters.
 */
export const McpServerNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,32}$/u, "must be 1-32 letters, digits, '_' or '-'")
  .refine((s) => !s.includes("__"), "must not contain '__' (it separates a server's name from a tool's)");

const StringMap = z.record(z.string(), z.string());

/** A server Hearth starts as a child process and talks to over stdio. */
export const McpStdioEntrySchema = z.looseObject({
  type: z.literal("stdio").optional(),
  command: z.string().min(1).max(4096),
  args: z.array(z.string().max(32_768)).max(256).default([]),
  env: StringMap.default({}),
  cwd: z.string().min(1).optional(),
  /** Claude Desktop's and Cursor's way to keep an entry without using it. */
  disabled: z.boolean().optional(),
});

/** A server Hearth reaches over Streamable HTTP. */
export const McpHttpEntrySchema = z.looseObject({
  type: z.enum(["http", "streamable-http", "streamableHttp"]).optional(),
  url: z.url({ protocol: /^https?$/u, error: "must be an http:// or https:// URL" }),
  headers: StringMap.default({}),
  disabled: z.boolean().optional(),
});

/** One entry of `mcpServers`. */
export const McpServerEntrySchema = z.union([McpStdioEntrySchema, McpHttpEntrySchema]);
export type McpServerEntry = z.infer<typeof McpServerEntrySchema>;

/** `<data-dir>/mcp.json`: the user's own file (other keys are kept and ignored). */
export const McpFileSchema = z.looseObject({
  mcpServers: z.record(McpServerNameSchema, McpServerEntrySchema).default({}),
});

/** Body of POST /api/mcp/servers: exactly one of `command` (stdio) and `url` (Streamable HTTP). */
export const McpServerCreateSchema = z
  .strictObject({
    name: McpServerNameSchema,
    command: z.string().min(1).max(4096).optional(),
    args: z.array(z.string().max(32_768)).max(256).optional(),
    cwd: z.string().min(1).optional(),
    url: McpHttpEntrySchema.shape.url.optional(),
    /** Write-only: stored in the secret store, answered by name only. */
    env: StringMap.optional(),
    /** Write-only, like `env`. */
    headers: StringMap.optional(),
    disabled: z.boolean().optional(),
  })
  .refine((b) => (b.command === undefined) !== (b.url === undefined), {
    message: "give exactly one of 'command' (a stdio server) and 'url' (a Streamable HTTP server)",
    path: ["command"],
  });
export type McpServerCreate = z.infer<typeof McpServerCreateSchema>;

/**
 * Body of PATCH /api/mcp/servers/{name}: fields to change. `env` and `headers`: absent keeps the
 * stored values, null removes them all, an object replaces them all.
 */
export const McpServerUpdateSchema = z.strictObject({
  command: z.string().min(1).max(4096).optional(),
  args: z.array(z.string().max(32_768)).max(256).optional(),
  cwd: z.string().min(1).nullable().optional(),
  url: McpHttpEntrySchema.shape.url.optional(),
  env: StringMap.nullable().optional(),
  headers: StringMap.nullable().optional(),
  disabled: z.boolean().optional(),
});
export type McpServerUpdate = z.infer<typeof McpServerUpdateSchema>;

export const MCP_SERVER_STATES = ["stopped", "starting", "running", "error", "disabled"] as const;

export const McpToolViewSchema = z.object({
  /** The tool's name on its server. */
  name: z.string(),
  /** The function name the model sees: `<server>__<tool>`. */
  functionName: z.string(),
  title: z.string().nullable(),
  description: z.string().nullable(),
  /** The tool's JSON schema for its arguments. */
  inputSchema: z.record(z.string(), z.unknown()),
  /** The server's hints about it (`readOnlyHint`, `destructiveHint`...), as it sent them, else null. */
  annotations: z.record(z.string(), z.unknown()).nullable(),
});
export type McpToolView = z.infer<typeof McpToolViewSchema>;

/** One server as GET /api/mcp/servers answers it. */
export const McpServerViewSchema = z.object({
  name: z.string(),
  /** `file`: from `<data-dir>/mcp.json` (edit it there); `settings`: added through the API or Settings. */
  source: z.enum(["file", "settings"]),
  transport: z.enum(["stdio", "http"]),
  command: z.string().nullable(),
  args: z.array(z.string()),
  cwd: z.string().nullable(),
  url: z.string().nullable(),
  /** Names of the environment variables given to it; their values are never answered. */
  env: z.array(z.string()),
  /** Names of the extra headers sent to it; their values are never answered. */
  headers: z.array(z.string()),
  disabled: z.boolean(),
  state: z.enum(MCP_SERVER_STATES),
  /** Why it is in `error` (or why it last stopped), else null. */
  error: z.string().nullable(),
  /** Its tools, once it was started; empty before. */
  tools: z.array(McpToolViewSchema),
});
export type McpServerView = z.infer<typeof McpServerViewSchema>;

/** GET /api/mcp/servers. */
export const McpServerListSchema = z.object({
  object: z.literal("list"),
  data: z.array(McpServerViewSchema),
  /** The file servers are read from. */
  file: z.string(),
});
export type McpServerList = z.infer<typeof McpServerListSchema>;

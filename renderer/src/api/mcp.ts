/** /api/mcp/servers: the MCP servers whose tools chats can use (server/api/README.md, "MCP servers"). */
import type { McpServerCreate, McpServerList, McpServerView, McpToolView } from "../../../server/wire/mcp.js";
import { bridge } from "./auth.js";
import { errorFromResponse } from "./errors.js";
import { request, type RequestOptions } from "./http.js";

export type { McpServerCreate, McpServerView, McpToolView };

const s = (name: string) => `/api/mcp/servers/${encodeURIComponent(name)}`;

export const mcp = {
  list: (opts?: RequestOptions) => request<McpServerList>("GET", "/api/mcp/servers", undefined, opts),
  /** A server's tools; starts it when it is not running. */
  tools: (name: string, opts?: RequestOptions) =>
    request<{ data: McpToolView[] }>("GET", `${s(name)}/tools`, undefined, opts).then((r) => r.data),
  add: (body: McpServerCreate, opts?: RequestOptions) => request<McpServerView>("POST", "/api/mcp/servers", body, opts),
  /** True when this UI can add a server that runs a command: only inside the desktop app, which asks first. */
  canAddCommand: (): boolean => bridge()?.addMcpServer !== undefined,
  /** Adds a server that runs a command, through the desktop app's confirmation; null when the person cancelled. */
  addCommand: async (body: McpServerCreate): Promise<McpServerView | null> => {
    const shell = bridge();
    if (!shell?.addMcpServer) throw new Error("Only the desktop app can add a server that runs a command.");
    const answer = await shell.addMcpServer(body as Record<string, unknown>);
    if (answer === null) return null;
    const res = new Response(answer.body, { status: answer.status, headers: { "content-type": "application/json" } });
    if (!res.ok) throw await errorFromResponse(res);
    return (await res.json()) as McpServerView;
  },
  remove: (name: string, opts?: RequestOptions) => request<void>("DELETE", s(name), undefined, opts),
  restart: (name: string, opts?: RequestOptions) =>
    request<McpServerView>("POST", `${s(name)}/restart`, undefined, opts),
};

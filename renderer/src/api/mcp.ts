/** /api/mcp/servers: the MCP servers whose tools chats can use (server/api/README.md, "MCP servers"). */
import type { McpServerCreate, McpServerList, McpServerView, McpToolView } from "../../../server/wire/mcp.js";
import { request, type RequestOptions } from "./http.js";

export type { McpServerCreate, McpServerView, McpToolView };

const s = (name: string) => `/api/mcp/servers/${encodeURIComponent(name)}`;

export const mcp = {
  list: (opts?: RequestOptions) => request<McpServerList>("GET", "/api/mcp/servers", undefined, opts),
  /** A server's tools; starts it when it is not running. */
  tools: (name: string, opts?: RequestOptions) =>
    request<{ data: McpToolView[] }>("GET", `${s(name)}/tools`, undefined, opts).then((r) => r.data),
  add: (body: McpServerCreate, opts?: RequestOptions) => request<McpServerView>("POST", "/api/mcp/servers", body, opts),
  remove: (name: string, opts?: RequestOptions) => request<void>("DELETE", s(name), undefined, opts),
  restart: (name: string, opts?: RequestOptions) =>
    request<McpServerView>("POST", `${s(name)}/restart`, undefined, opts),
};
